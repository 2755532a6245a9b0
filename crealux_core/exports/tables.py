"""The report as tables: the rows, columns and French texts every format writes.

CSV, XLSX, PDF and the terminal table all lay out the same tables from here, so a number or a
label never differs between two formats of the same report.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date

from crealux_core.clock import LOCAL_TIME
from crealux_core.domain.indicators import (
    DIMENSION_LABELS,
    GENDERS,
    UNKNOWN,
    UNKNOWN_LABEL,
    VALUE_LABELS,
    Line,
    Report,
)

NBSP = "\u00a0"
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
SECTIONS = {"programme": "Programme", "esf": "FSE+"}
BREAKDOWN_TITLES = {
    "gender": "Par genre",
    "age_band": "Par âge",
    "organisation": "Par organisation",
    "municipality": "Par commune",
    "sector": "Par secteur",
    "status": "Par statut",
    "kind": "Par type",
    "situation": "Par situation",
    "structure_kind": "Par type de structure",
}
TARGET_BASES = {
    "programme": "objectif du programme",
    "year": "objectif de l'année",
    "prorated": "objectif du programme au prorata de la période",
    "none": "pas d'objectif",
}
# A cell whose text starts with one of these is read as a formula by a spreadsheet (CSV
# injection): it gets a leading single quote, in the CSV and in the XLSX alike.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Return the text with a leading quote if a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def long_date(day: date) -> str:
    """Return « 1er janvier 2026 »."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {MONTHS[day.month - 1]} {day.year}"


def period_text(report: Report) -> str:
    return f"du {long_date(report.period_start)} au {long_date(report.period_end)}"


def generated_text(report: Report) -> str:
    """Return « 3 mars 2026 à 14:05 », Brussels time."""
    moment = report.generated_at
    if moment.tzinfo is None:  # the domain's datetimes are UTC
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(LOCAL_TIME)
    return f"{long_date(local.date())} à {local:%H:%M}"


def number_text(value: int | None) -> str:
    """Return « 1 234 » (a no-break space between thousands), « — » for no value."""
    if value is None:
        return "—"
    return f"{value:,}".replace(",", NBSP)


def percent_text(percent: float | None) -> str:
    """Return « 72,5 % » (French decimal comma), « — » without a target."""
    if percent is None:
        return "—"
    return f"{percent:.1f}".replace(".", ",").removesuffix(",0") + f"{NBSP}%"


def heading(report: Report) -> tuple[str, ...]:
    """The lines on top of every format: what, for whom, over when, made when."""
    return (
        "Rapport d'indicateurs",
        report.title,
        f"Financeur : {report.funder}",
        f"Période : {period_text(report)}",
        f"Généré le {generated_text(report)}",
    )


def value_label(report: Report, dimension: str, value: str) -> str:
    """The French label of a breakdown value: the report's, else the fixed vocabulary's."""
    label = report.label(dimension, value)
    if label == value:
        return VALUE_LABELS.get(dimension, {}).get(value, value)
    return label


def dimension_label(dimension: str) -> str:
    return DIMENSION_LABELS.get(dimension, dimension)


def breakdown_title(dimension: str) -> str:
    """The sheet or section name of a breakdown (31 characters at most, for a sheet)."""
    return BREAKDOWN_TITLES.get(dimension, f"Par {dimension_label(dimension).lower()}")[:31]


def target_basis(line: Line) -> str:
    return TARGET_BASES.get(line.target.how, line.target.how)


def _value_label(report: Report, value: str) -> str:
    """The label of a detail value: the report does not say its dimension, so look it up."""
    if value == UNKNOWN:
        return UNKNOWN_LABEL
    known = (labels for name, labels in report.value_labels.items() if name != "dimension")
    for labels in (*known, *VALUE_LABELS.values()):
        if value in labels:
            return labels[value]
    return value


def detail_items(report: Report, line: Line) -> tuple[tuple[str, int], ...]:
    """The detail of a line as (label, count), e.g. (« Indépendant à titre principal », 12)."""
    return tuple((_value_label(report, value), n) for value, n in line.detail.items())


def _lower_first(text: str) -> str:
    return text if text[:2].isupper() else text[:1].lower() + text[1:]


def detail_text(report: Report, line: Line) -> str:
    """Return « dont indépendant à titre principal : 12, … », or "" without detail."""
    items = detail_items(report, line)
    if not items:
        return ""
    parts = (f"{_lower_first(label)} : {number_text(n)}" for label, n in items)
    return "dont " + ", ".join(parts)


def carries(line: Line, dimension: str) -> bool:
    """Whether a line is broken down by a dimension: every participant line is by gender (a
    report leaves out the values nobody has, so a line of zero has no gender counts)."""
    return dimension in line.breakdowns or (dimension == "gender" and line.counts == "participants")


def dimensions(report: Report) -> tuple[str, ...]:
    """The breakdowns the report shows: gender (always given for participants), then those
    asked for, in the order asked, each if some line carries it."""
    lines = (*report.lines, *report.esf)
    ordered = dict.fromkeys(("gender", *report.by))
    return tuple(d for d in ordered if any(carries(line, d) for line in lines))


def alphabetical(text: str) -> str:
    """A sort key that puts « Étalle » between « Arlon » and « Virton »."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def dimension_values(report: Report, dimension: str, lines: Iterable[Line]) -> tuple[str, ...]:
    """The columns of a breakdown: every gender; else the values some line has, in the order
    of their fixed labels (age bands) or by label, « Non renseigné » last."""
    present = {value for line in lines for value in line.breakdowns.get(dimension, {})}
    if dimension == "gender":
        return (*GENDERS, *sorted(present - set(GENDERS)))
    fixed = [value for value in VALUE_LABELS.get(dimension, {}) if value in present]
    others = sorted(
        present - set(fixed) - {UNKNOWN},
        key=lambda value: alphabetical(value_label(report, dimension, value)),
    )
    return (*fixed, *others, *([UNKNOWN] if UNKNOWN in present and UNKNOWN not in fixed else []))


@dataclass(frozen=True)
class BreakdownRow:
    line: Line
    counts: tuple[int, ...]  # one per column of the breakdown
    total: int  # the line's total: a participant with two organisations counts under each


@dataclass(frozen=True)
class Breakdown:
    """One breakdown as a table: the indicators as rows, the breakdown's values as columns."""

    dimension: str
    title: str  # « Par genre »
    values: tuple[str, ...]
    labels: tuple[str, ...]  # the columns' French labels
    rows: tuple[BreakdownRow, ...]


def breakdown(report: Report, dimension: str, lines: Iterable[Line]) -> Breakdown:
    """The table of one breakdown over the lines that carry it."""
    carrying = [line for line in lines if carries(line, dimension)]
    values = dimension_values(report, dimension, carrying)
    rows = tuple(
        BreakdownRow(
            line=line,
            counts=tuple(line.breakdowns.get(dimension, {}).get(value, 0) for value in values),
            total=line.achieved,
        )
        for line in carrying
    )
    labels = tuple(value_label(report, dimension, value) for value in values)
    return Breakdown(dimension, breakdown_title(dimension), values, labels, rows)


def breakdowns(report: Report) -> tuple[Breakdown, ...]:
    """One table per breakdown shown. The ESF+ lines have their own table by gender, so the
    gender table holds the programme's lines; the others hold both."""
    tables = []
    for dimension in dimensions(report):
        lines = report.lines if dimension == "gender" else (*report.lines, *report.esf)
        table = breakdown(report, dimension, lines)
        if table.rows:
            tables.append(table)
    return tuple(tables)


def esf_genders(line: Line) -> tuple[int, ...]:
    """An ESF+ line's counts of women, men, another gender and not stated."""
    by_gender = line.breakdowns.get("gender", {})
    return tuple(by_gender.get(gender, 0) for gender in GENDERS)


def esf_gender_labels() -> tuple[str, ...]:
    return tuple(GENDERS.values())


def line_name(line: Line) -> str:
    """An indicator's name with its code in front, if it has one."""
    return f"{line.code} {line.label_fr}" if line.code else line.label_fr
