"""Indicators as data (rules/indicators.yaml): what each counts, from which facts, its target
per period and its breakdowns; the ESF+ common indicators with their codes; when a pathway is
stalled for the coordinator's board.

A source is a kind of fact row (models/facts.py, models/outreach.py); what an indicator may
filter on (`where`) and break down by is checked here against the source, so a report never
meets a column it does not know.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from crealux_core.rules.specs import Frozen, IsoDuration, _keyed


class Counts(StrEnum):
    PARTICIPANTS = "participants"  # distinct participants
    STRUCTURES = "structures"  # distinct structures sensitised
    PEOPLE_REACHED = "people_reached"  # the sum of people reached by actions
    CANDIDATES = "candidates"  # the sum of people who became candidates after an action
    ACTIONS = "actions"  # the number of actions (workshops held)


class Source(StrEnum):
    STAYS = "stays"  # accompanied during the period
    ENTRIES = "entries"  # entered during the period (the first entry)
    EXITS = "exits"  # left during the period (on leaving, or six months later)
    BUSINESSES = "businesses"  # activity started during the period
    TRAININGS = "trainings"  # training ended during the period
    PLACEMENTS = "placements"  # job started during the period
    OUTREACH = "outreach"  # outreach actions held during the period
    STRUCTURES = "structures"  # structures sensitised during the period


PARTICIPANT_DIMENSIONS = ("gender", "age_band", "organisation", "municipality")
DIMENSIONS: dict[Source, tuple[str, ...]] = {
    Source.STAYS: PARTICIPANT_DIMENSIONS,
    Source.ENTRIES: PARTICIPANT_DIMENSIONS,
    Source.EXITS: (*PARTICIPANT_DIMENSIONS, "situation"),
    Source.BUSINESSES: (*PARTICIPANT_DIMENSIONS, "sector", "status"),
    Source.TRAININGS: (*PARTICIPANT_DIMENSIONS, "kind"),
    Source.PLACEMENTS: (*PARTICIPANT_DIMENSIONS, "sector"),
    Source.OUTREACH: ("kind", "organisation", "municipality"),
    Source.STRUCTURES: ("structure_kind", "organisation", "municipality"),
}
# What `where` may test, by source (a value, or a list of values; booleans for yes/no facts).
FILTERS: dict[Source, tuple[str, ...]] = {
    Source.STAYS: (),
    Source.ENTRIES: (
        "labour_status",
        "education_level",
        "age_band",
        "disability",
        "foreign_background",
        "third_country_national",
        "minority",
        "homeless",
        "rural_area",
    ),
    Source.EXITS: ("moment", "situation", "qualification_gained", "improved", "reason"),
    Source.BUSINESSES: ("status", "sector"),
    Source.TRAININGS: ("completed", "qualification", "kind"),
    Source.PLACEMENTS: ("employed", "contract", "sector"),
    Source.OUTREACH: ("category", "kind"),
    Source.STRUCTURES: ("structure_kind",),
}
COUNTS_OF: dict[Source, tuple[Counts, ...]] = {
    Source.OUTREACH: (Counts.PEOPLE_REACHED, Counts.CANDIDATES, Counts.ACTIONS),
    Source.STRUCTURES: (Counts.STRUCTURES,),
}
AGE_BANDS = {
    "under_18": "Moins de 18 ans",
    "18_29": "18 à 29 ans",
    "30_54": "30 à 54 ans",
    "55_plus": "55 ans et plus",
    "unknown": "Âge inconnu",
}


class Labels(Frozen):
    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)


FilterValue = str | bool | int | tuple[str | bool | int, ...]


def _as_tuple(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    return value


class IndicatorSpec(Frozen):
    """One line of the report: what it counts, from which facts, and against what target."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    code: str | None = Field(default=None, max_length=16, description="an official code")
    label: Labels
    counts: Counts = Counts.PARTICIPANTS
    source: Source
    where: Annotated[dict[str, FilterValue], BeforeValidator(_as_tuple)] = Field(
        default_factory=dict
    )
    target: int | None = Field(default=None, ge=0, description="over the programme period")
    targets: dict[str, int] = Field(
        default_factory=dict, description="by calendar year: {'2026': 50, '2027': 50}"
    )
    detail: str | None = Field(
        default=None, description="a breakdown always shown with the total (creations: status)"
    )
    breakdowns: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _fits_its_source(self) -> IndicatorSpec:
        allowed_counts = COUNTS_OF.get(self.source, (Counts.PARTICIPANTS,))
        if self.counts not in allowed_counts:
            raise ValueError(
                f"counts: {self.counts.value} cannot be counted from {self.source.value}; "
                f"use {', '.join(c.value for c in allowed_counts)}"
            )
        for name in self.where:
            if name not in FILTERS[self.source]:
                known = ", ".join(FILTERS[self.source]) or "nothing"
                raise ValueError(
                    f"where: {self.source.value} cannot be filtered on {name!r}; known: {known}"
                )
        dimensions = DIMENSIONS[self.source]
        for name in (*self.breakdowns, *([self.detail] if self.detail else [])):
            if name not in dimensions:
                raise ValueError(
                    f"{self.source.value} cannot be broken down by {name!r}; "
                    f"known: {', '.join(dimensions)}"
                )
        for year in self.targets:
            if not (len(year) == 4 and year.isdigit()):
                raise ValueError(f"targets: {year!r} is not a calendar year such as '2026'")
        return self

    @property
    def per_participant(self) -> bool:
        return self.counts is Counts.PARTICIPANTS


class ProgrammeSpec(Frozen):
    title: str = Field(min_length=1)
    funder: str = "Fonds social européen"
    starts_on: date = Field(alias="from")
    ends_on: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> ProgrammeSpec:
        if self.ends_on < self.starts_on:
            raise ValueError(f"'to' ({self.ends_on}) is before 'from' ({self.starts_on})")
        return self


class PipelineSpec(Frozen):
    """The coordinator's board: a pathway with no event for `stalled_after` is stalled."""

    stalled_after: IsoDuration = timedelta(days=30)


class IndicatorsSpec(Frozen):
    """rules/indicators.yaml."""

    programme: ProgrammeSpec
    pipeline: PipelineSpec = Field(default_factory=PipelineSpec)
    indicators: Annotated[dict[str, IndicatorSpec], BeforeValidator(_keyed)]
    esf: Annotated[dict[str, IndicatorSpec], BeforeValidator(_keyed)] = Field(
        default_factory=dict, description="the ESF+ common indicators, each with its code"
    )

    @model_validator(mode="after")
    def _esf_by_participant(self) -> IndicatorsSpec:
        for key, spec in self.esf.items():
            if spec.code is None:
                raise ValueError(f"esf.{key}: an ESF+ common indicator needs its 'code'")
        return self
