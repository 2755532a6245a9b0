"""The indicator report as values: what the dashboard shows and the exports write.

`services/reports.py` fills it with SQL counts; `exports/` turn it into CSV, XLSX and PDF;
nothing here touches a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from crealux_core.rules.facts import BUSINESS_STATUSES, SITUATIONS
from crealux_core.rules.indicators import AGE_BANDS, IndicatorSpec, ProgrammeSpec

GENDERS = {
    "female": "Femmes",
    "male": "Hommes",
    "non_binary": "Autre genre",
    "undisclosed": "Non précisé",
}
DIMENSION_LABELS = {
    "gender": "Genre",
    "age_band": "Âge à l'entrée",
    "organisation": "Organisation partenaire",
    "municipality": "Commune",
    "sector": "Secteur d'activité",
    "status": "Statut",
    "kind": "Type",
    "situation": "Situation",
    "structure_kind": "Type de structure",
}
UNKNOWN = "unknown"  # the value of a breakdown when the fact is not recorded
UNKNOWN_LABEL = "Non renseigné"
OUTREACH_KINDS = {
    "information_session": "Séance d'information",
    "fair": "Salon du parcours du créateur",
    "school_visit": "Visite d'école",
    "workshop": "Atelier",
    "other": "Autre action",
}
STRUCTURE_KINDS = {
    "first_line": "Structure de 1ère ligne",
    "professional": "Structure professionnelle",
}

# Labels of the values of the fixed breakdowns; organisations, municipalities, sectors and
# training kinds are labelled by the report from the rules and the data.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "gender": GENDERS,
    "age_band": AGE_BANDS,
    "status": BUSINESS_STATUSES,
    "situation": SITUATIONS,
    "structure_kind": STRUCTURE_KINDS,
}


@dataclass(frozen=True)
class Target:
    """The target for the report's period: the programme's, a year's, or prorated by days."""

    value: int | None
    how: str  # "programme", "year", "prorated" or "none"


def target_for(spec: IndicatorSpec, programme: ProgrammeSpec, start: date, end: date) -> Target:
    """Return the target of an indicator over [start, end] (both days included)."""
    if start.year == end.year and start == date(start.year, 1, 1) and end == date(end.year, 12, 31):
        year_target = spec.targets.get(str(start.year))
        if year_target is not None:
            return Target(year_target, "year")
    if spec.target is None:
        return Target(None, "none")
    if start <= programme.starts_on and end >= programme.ends_on:
        return Target(spec.target, "programme")
    overlap_start, overlap_end = max(start, programme.starts_on), min(end, programme.ends_on)
    if overlap_end < overlap_start:
        return Target(0, "prorated")
    days = (programme.ends_on - programme.starts_on).days + 1
    share = ((overlap_end - overlap_start).days + 1) / days
    return Target(round(spec.target * share), "prorated")


@dataclass(frozen=True)
class Line:
    """One indicator over the period: achieved against target, and its breakdowns."""

    key: str
    code: str | None
    label_fr: str
    label_en: str
    counts: str
    target: Target
    achieved: int
    detail: dict[str, int] = field(default_factory=dict)
    detail_by: str | None = None  # the dimension of `detail` (a creation's status)
    breakdowns: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def percent(self) -> float | None:
        """Achieved as a percentage of the target; None without a (non-zero) target."""
        if not self.target.value:
            return None
        return 100.0 * self.achieved / self.target.value


@dataclass(frozen=True)
class Report:
    """The funder report: the programme's indicators and the ESF+ common indicators."""

    title: str
    funder: str
    period_start: date
    period_end: date
    generated_at: datetime
    lines: tuple[Line, ...]
    esf: tuple[Line, ...]
    by: tuple[str, ...]  # the breakdowns asked for (gender always for participant lines)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def label(self, dimension: str, value: str) -> str:
        """Return the French label of a breakdown value (the value itself if unknown)."""
        if value == UNKNOWN:
            return UNKNOWN_LABEL
        return self.value_labels.get(dimension, {}).get(value, value)


@dataclass(frozen=True)
class MonthFlow:
    """Enrolments and exits of one calendar month."""

    month: date  # its first day
    enrolments: int  # stays that started in the month
    exits: int  # stays that ended in the month


@dataclass(frozen=True)
class Funnel:
    """From people sensitised to participants accompanied to those who created or found a job."""

    sensitised: int  # people reached by outreach actions for candidates
    accompanied: int  # distinct participants with a stay during the period
    created: int  # distinct participants who started an activity (principal or complementary)
    employed: int  # distinct participants placed in employment
    created_or_employed: int  # distinct participants who did either (counted once)


@dataclass(frozen=True)
class ReportCharts:
    """What the report's charts draw besides its lines: the funnel and the monthly flows."""

    funnel: Funnel
    flows: tuple[MonthFlow, ...]


def age_band(age: int | None) -> str:
    """Return the ESF+ age band of an age at entry (the SQL of the report says the same)."""
    if age is None:
        return "unknown"
    if age < 18:
        return "under_18"
    if age <= 29:
        return "18_29"
    if age <= 54:
        return "30_54"
    return "55_plus"
