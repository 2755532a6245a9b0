"""The report as CSV, for a spreadsheet opened in Belgium.

Excel set to a Belgian locale (fr-BE, nl-BE) splits a double-clicked CSV on semicolons and reads
a decimal comma, and it reads UTF-8 only after a byte order mark: so semicolons, « 72,5 », and a
BOM. One row per indicator (its total, target and percentage), then one per detail value and per
breakdown value (their counts in « Atteint »).
"""

from __future__ import annotations

import csv
import io

from crealux_core.domain.indicators import Line, Report
from crealux_core.exports.tables import (
    SECTIONS,
    carries,
    detail_items,
    dimension_label,
    dimension_values,
    dimensions,
    neutralise,
    value_label,
)

DELIMITER = ";"
HEADER = (
    "Section",
    "Code",
    "Clé",
    "Indicateur",
    "Ventilation",
    "Valeur",
    "Objectif",
    "Atteint",
    "Pourcentage",
)
DETAIL = "Détail"


def decimal(percent: float | None) -> str:
    """Return « 72,5 » (a decimal comma), "" without a target."""
    return "" if percent is None else f"{percent:.1f}".replace(".", ",")


def _rows(report: Report, section: str, line: Line, shown: tuple[str, ...]) -> list[list[str]]:
    head = [SECTIONS[section], line.code or "", line.key, line.label_fr]
    target = "" if line.target.value is None else str(line.target.value)
    rows = [[*head, "", "", target, str(line.achieved), decimal(line.percent)]]
    for label, count in detail_items(report, line):
        rows.append([*head, DETAIL, label, "", str(count), ""])
    for dimension in shown:
        if not carries(line, dimension):
            continue
        counts = line.breakdowns.get(dimension, {})
        for value in dimension_values(report, dimension, [line]):
            label = value_label(report, dimension, value)
            rows.append(
                [*head, dimension_label(dimension), label, "", str(counts.get(value, 0)), ""]
            )
    return rows


def report_csv(report: Report) -> bytes:
    """Return the report as semicolon-separated UTF-8 with a BOM (Belgian Excel opens it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(HEADER)
    shown = dimensions(report)
    for section, lines in (("programme", report.lines), ("esf", report.esf)):
        for line in lines:
            for row in _rows(report, section, line, shown):
                writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")
