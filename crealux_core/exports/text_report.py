"""The report as fixed-width text for a terminal (`crealux report indicators`, the default)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from crealux_core.domain.indicators import Report
from crealux_core.exports.tables import (
    breakdowns,
    detail_text,
    esf_gender_labels,
    esf_genders,
    heading,
    line_name,
    number_text,
    percent_text,
)

LABEL_WIDTH = 48
GAP = "  "


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], label_width: int) -> list[str]:
    """Lay out rows under a header: the first column left, wrapped; the others right."""
    widths = [
        max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i])
        for i in range(len(header))
    ]
    widths[0] = min(max(widths[0], len(header[0])), label_width)

    def cells(first: str, rest: Sequence[str]) -> str:
        right = GAP.join(value.rjust(width) for value, width in zip(rest, widths[1:], strict=True))
        return f"{first.ljust(widths[0])}{GAP}{right}".rstrip()

    out = [cells(header[0], header[1:]), "-" * (sum(widths) + len(GAP) * (len(widths) - 1))]
    for row in rows:
        indent = " " * (len(row[0]) - len(row[0].lstrip()) + 2)
        wrapped = textwrap.wrap(row[0], widths[0], subsequent_indent=indent) or [""]
        out.append(cells(wrapped[0], row[1:]))
        out.extend(cells(more, [""] * (len(row) - 1)) for more in wrapped[1:])
    return out


def report_text(report: Report, *, label_width: int = LABEL_WIDTH) -> str:
    """Return the report as text: the indicators, the ESF+ table and each breakdown."""
    out = list(heading(report))
    rows = []
    for line in report.lines:
        target, achieved = number_text(line.target.value), number_text(line.achieved)
        rows.append((line.label_fr, target, achieved, percent_text(line.percent)))
        detail = detail_text(report, line)
        if detail:
            rows.append(("  " + detail, "", "", ""))
    out += ["", "Indicateurs du programme", ""]
    out += _table(("Indicateur", "Objectif", "Atteint", "%"), rows, label_width)
    if report.esf:
        esf_rows = [
            (line_name(line), number_text(line.achieved), *map(number_text, esf_genders(line)))
            for line in report.esf
        ]
        out += ["", "Indicateurs communs FSE+", ""]
        out += _table(("Indicateur", "Total", *esf_gender_labels()), esf_rows, label_width)
    for table in breakdowns(report):
        table_rows = [
            (line_name(row.line), *map(number_text, row.counts), number_text(row.total))
            for row in table.rows
        ]
        out += ["", table.title, ""]
        out += _table(("Indicateur", *table.labels, "Total"), table_rows, label_width)
    return "\n".join(out) + "\n"
