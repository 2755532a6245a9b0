"""The report as a PDF a coordinator can send as it is (WeasyPrint over templates/report.html).

The template gets texts already formatted in French and numbers already computed; Jinja2 escapes
every value (names come from users), and WeasyPrint is given a fetcher that fetches nothing, so
the document never reaches the network. The bars are HTML boxes sized in CSS: no script runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NoReturn

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from crealux_core.domain.indicators import Line, Report, ReportCharts
from crealux_core.exports.tables import (
    Breakdown,
    breakdowns,
    detail_text,
    dimension_label,
    esf_gender_labels,
    esf_genders,
    generated_text,
    line_name,
    number_text,
    percent_text,
    period_text,
    target_basis,
)

WIDE_UP_TO = 6  # a breakdown with more values is laid out one indicator under another
GENDER_COLOURS = ("#8e3b8f", "#2f6f9f", "#d08c1a", "#9aa3ad")
NOTES = {
    "organisation": "Une personne suivie par deux organisations compte pour chacune :"
    " la somme des colonnes peut dépasser le total.",
    "esf": "Un participant qui sort puis revient est compté une fois, avec sa première entrée.",
}

_environment = Environment(
    loader=PackageLoader("crealux_core.exports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class IndicatorRow:
    label: str
    detail: str
    basis: str  # said under the label when the lines' target bases differ
    target: str
    achieved: str
    percent: str
    width: float | None  # the bar's length in % of its track (100 at the target and beyond)
    reached: bool


@dataclass(frozen=True)
class Segment:
    width: float
    colour: str
    title: str


@dataclass(frozen=True)
class TableRow:
    label: str
    cells: tuple[str, ...]
    total: str
    segments: tuple[Segment, ...] = ()
    items: tuple[tuple[str, str], ...] = ()  # (value, count) with someone, when not wide


@dataclass(frozen=True)
class Table:
    title: str
    heading: str  # what the columns are (« Genre »)
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    wide: bool
    notes: tuple[str, ...] = ()


def _indicator_row(report: Report, line: Line, show_basis: bool) -> IndicatorRow:
    percent = line.percent
    return IndicatorRow(
        label=line.label_fr,
        detail=detail_text(report, line),
        basis=target_basis(line) if show_basis else "",
        target=number_text(line.target.value),
        achieved=number_text(line.achieved),
        percent=percent_text(percent),
        width=None if percent is None else round(min(percent, 100.0), 1),
        reached=percent is not None and percent >= 100,
    )


def _segments(counts: tuple[int, ...], labels: tuple[str, ...]) -> tuple[Segment, ...]:
    """The parts of a stacked bar, one per gender, in % of the line's sum."""
    whole = sum(counts)
    if not whole:
        return ()
    # Each part ends where the running sum ends, rounded down: the parts never add up to more
    # than the track (33.4 + 66.7 would push the last part onto a second line).
    segments, start, running = [], 0.0, 0
    for n, colour, label in zip(counts, GENDER_COLOURS, labels, strict=False):
        running += n
        end = math.floor(1000 * running / whole) / 10
        if n:
            segments.append(Segment(round(end - start, 1), colour, f"{label} : {n}"))
        start = end
    return tuple(segments)


def _table(table: Breakdown) -> Table:
    gender = table.dimension == "gender"
    wide = len(table.labels) <= WIDE_UP_TO
    rows = tuple(
        TableRow(
            label=line_name(row.line),
            cells=tuple(number_text(n) for n in row.counts),
            total=number_text(row.total),
            segments=_segments(row.counts, table.labels) if gender else (),
            items=tuple(
                (label, number_text(n))
                for label, n in zip(table.labels, row.counts, strict=True)
                if n
            ),
        )
        for row in table.rows
    )
    notes = (
        NOTES.get(table.dimension, ""),
        "" if wide else "Les valeurs sans personne ne sont pas listées.",
    )
    return Table(
        table.title,
        dimension_label(table.dimension),
        table.labels,
        rows,
        wide,
        tuple(note for note in notes if note),
    )


def _esf_table(report: Report) -> Table:
    labels = esf_gender_labels()
    rows = tuple(
        TableRow(
            label=line_name(line),
            cells=tuple(number_text(n) for n in esf_genders(line)),
            total=number_text(line.achieved),
            segments=_segments(esf_genders(line), labels),
        )
        for line in report.esf
    )
    return Table("Indicateurs communs FSE+", "Genre", labels, rows, True, (NOTES["esf"],))


MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
          "nov.", "déc.")  # fmt: skip
MONTH_BAR_MM = 28.0  # the height of the tallest month's bar


@dataclass(frozen=True)
class FunnelBar:
    label: str
    count: str
    width: float  # in % of the widest


@dataclass(frozen=True)
class MonthColumn:
    month: str
    year: str  # said under January and the first month only
    enrolments: int
    exits: int
    enrolments_mm: float
    exits_mm: float


def _charts(charts: ReportCharts | None) -> dict[str, Any] | None:
    """The funnel and the monthly flows as bars the template draws (no image, no script)."""
    if charts is None:
        return None
    funnel = charts.funnel
    stages = (
        ("Sensibilisés (candidats potentiels)", funnel.sensitised),
        ("Accompagnés", funnel.accompanied),
        ("Ont créé leur activité ou trouvé un emploi", funnel.created_or_employed),
    )
    widest = max(count for _, count in stages) or 1
    tallest = max((max(f.enrolments, f.exits) for f in charts.flows), default=0) or 1
    return {
        "funnel": [
            FunnelBar(label, number_text(count), round(100 * count / widest, 1))
            for label, count in stages
        ],
        "funnel_note": (
            "Personnes sensibilisées par les actions pour les candidats ; participants "
            "accompagnés pendant la période ; parmi eux ou d'autres, ceux qui ont lancé leur "
            f"activité ({number_text(funnel.created)}) ou trouvé un emploi "
            f"({number_text(funnel.employed)}), comptés une fois."
        ),
        "months": [
            MonthColumn(
                month=MONTHS[flow.month.month - 1],
                year=str(flow.month.year) if n == 0 or flow.month.month == 1 else "",
                enrolments=flow.enrolments,
                exits=flow.exits,
                enrolments_mm=round(MONTH_BAR_MM * flow.enrolments / tallest, 2),
                exits_mm=round(MONTH_BAR_MM * flow.exits / tallest, 2),
            )
            for n, flow in enumerate(charts.flows)
        ],
    }


def _context(report: Report, charts: ReportCharts | None = None) -> dict[str, Any]:
    bases = {target_basis(line) for line in report.lines if line.target.how != "none"}
    common_basis = next(iter(bases)) if len(bases) == 1 else ""
    tables = {table.dimension: _table(table) for table in breakdowns(report)}
    return {
        "title": report.title,
        "funder": report.funder,
        "period": period_text(report),
        "generated": generated_text(report),
        "basis": common_basis,
        "lines": [_indicator_row(report, line, not common_basis) for line in report.lines],
        "gender": tables.pop("gender", None),
        "esf": _esf_table(report) if report.esf else None,
        "others": list(tables.values()),
        "gender_legend": list(zip(esf_gender_labels(), GENDER_COLOURS, strict=True)),
        "charts": _charts(charts),
    }


def report_html(report: Report, charts: ReportCharts | None = None) -> str:
    """Return the report as the HTML the PDF is made from (with the funnel and the monthly
    flows when they are given: `services.pipeline.report_charts`)."""
    return _environment.get_template("report.html").render(_context(report, charts))


def _refuse(url: str) -> NoReturn:
    raise ValueError(f"the report fetches nothing ({url})")


def _offline() -> Any:
    """A URL fetcher that fetches nothing (WeasyPrint >= 67 takes a URLFetcher, before a
    function)."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # pragma: no cover - WeasyPrint 65 or 66
        return _refuse
    return URLFetcher(allowed_protocols=())


def report_pdf(report: Report, charts: ReportCharts | None = None) -> bytes:
    """Return the report as an A4 PDF, in French, with page numbers: the tables with their
    bars (progress to target, gender), and the funnel and monthly flows when given."""
    from weasyprint import HTML  # imported when used: it loads Pango

    html = report_html(report, charts)
    document: bytes = HTML(string=html, url_fetcher=_offline()).write_pdf()
    return document
