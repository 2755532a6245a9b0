"""Sensitisation and networking, before anyone enrols: outreach actions (information sessions,
the fair, school visits), training information, prospective workshops, structures sensitised."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class OutreachCategory(StrEnum):
    """What an action feeds: candidates sensitised, people sensitised to training, or the
    prospective workshops held."""

    CANDIDATES = "candidates"
    TRAINING = "training"
    PROSPECTIVE = "prospective"


class OutreachKind(StrEnum):
    INFORMATION_SESSION = "information_session"
    FAIR = "fair"  # the « Salon du parcours du créateur »
    SCHOOL_VISIT = "school_visit"
    WORKSHOP = "workshop"
    OTHER = "other"


class StructureKind(StrEnum):
    FIRST_LINE = "first_line"
    PROFESSIONAL = "professional"


class OutreachAction(SQLModel, table=True):
    """An action that reached people: how many, and how many became candidates."""

    __tablename__ = "outreach_action"

    id: int | None = Field(default=None, primary_key=True)
    category: OutreachCategory = Field(index=True)
    kind: OutreachKind
    held_on: date = Field(index=True)
    title: str = Field(min_length=1, max_length=200)
    organiser_id: int = Field(foreign_key="organisation.id", index=True)
    municipality: str | None = Field(default=None, max_length=100)
    people_reached: int = Field(default=0, ge=0)
    became_candidates: int = Field(default=0, ge=0)
    hours: float | None = Field(default=None, ge=0)
    outputs: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_at: datetime
    source_key: str | None = Field(default=None, max_length=200, unique=True, nullable=True)


class StructureSensitisation(SQLModel, table=True):
    """A first-line or professional structure sensitised to the programme. A structure
    sensitised twice counts once: `structure_key` is its name, normalised."""

    __tablename__ = "structure_sensitisation"

    id: int | None = Field(default=None, primary_key=True)
    structure_key: str = Field(max_length=200, index=True)
    structure_name: str = Field(min_length=1, max_length=200)
    structure_kind: StructureKind
    municipality: str | None = Field(default=None, max_length=100)
    sensitised_on: date = Field(index=True)
    by_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_at: datetime
    source_key: str | None = Field(default=None, max_length=200, unique=True, nullable=True)
