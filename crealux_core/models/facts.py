"""Facts reports count, as typed rows: written by the events that establish them.

A decision whose form fields say `records: ...` (rules/facts.py) writes or updates these rows in
its own transaction; a correction rewrites them; an import writes them with a `source_key` that
makes a second import of the same file a no-op. Reports count these rows with SQL and never
read a step's answers.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Stay(SQLModel, table=True):
    """A time a participant is accompanied: from entering the programme to leaving it.

    A pathway run opens one when it starts and closes it on the exit date (or when it ends
    without an exit); an import writes past stays. A participant who leaves and re-enters has
    two stays, and is counted once.
    """

    __tablename__ = "fact_stay"
    __table_args__ = (Index("ix_fact_stay_period", "started_on", "ended_on"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    pathway_run_id: int | None = Field(
        default=None, foreign_key="pathway_run.id", unique=True, nullable=True
    )
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    started_on: date
    ended_on: date | None = None
    source_key: str | None = Field(default=None, max_length=200, unique=True, nullable=True)


class EntrySituation(SQLModel, table=True):
    """A participant's situation on entering the programme: one per participant, the first
    entry (a re-entry keeps it). The ESF+ output indicators count these rows."""

    __tablename__ = "fact_entry"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", unique=True)
    pathway_run_id: int | None = Field(default=None, foreign_key="pathway_run.id")
    entered_on: date = Field(index=True)
    age_at_entry: int | None = Field(default=None, ge=0, le=130)
    labour_status: str | None = Field(default=None, max_length=32)
    education_level: str | None = Field(default=None, max_length=16)
    disability: str | None = Field(default=None, max_length=16)
    foreign_background: str | None = Field(default=None, max_length=16)
    third_country_national: str | None = Field(default=None, max_length=16)
    minority: str | None = Field(default=None, max_length=16)
    homeless: str | None = Field(default=None, max_length=16)
    rural_area: str | None = Field(default=None, max_length=16)
    source_key: str | None = Field(default=None, max_length=200, unique=True, nullable=True)


class Moment:
    LEAVING = "leaving"
    SIX_MONTHS = "six_months"


class ExitSituation(SQLModel, table=True):
    """Where a participant stands on leaving (`leaving`, recorded within four weeks) or six
    months later (`six_months`); one row per stay and moment."""

    __tablename__ = "fact_exit"
    __table_args__ = (UniqueConstraint("stay_id", "moment"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    stay_id: int = Field(foreign_key="fact_stay.id", index=True)
    moment: str = Field(max_length=16)
    left_on: date | None = Field(default=None, index=True)
    reason: str | None = Field(default=None, max_length=64)
    situation: str | None = Field(default=None, max_length=32)
    qualification_gained: bool | None = None
    improved: bool | None = None


class BusinessCreation(SQLModel, table=True):
    """An activity a participant started (self-employment, as principal or complementary)."""

    __tablename__ = "fact_business"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    step_run_id: int | None = Field(default=None, foreign_key="step_run.id", unique=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    status: str | None = Field(default=None, max_length=32)
    started_on: date | None = Field(default=None, index=True)
    sector: str | None = Field(default=None, max_length=64)
    company_number: str | None = Field(default=None, max_length=16)
    source_key: str | None = Field(default=None, max_length=200, unique=True, nullable=True)


class TrainingRecord(SQLModel, table=True):
    """A training a participant followed: completed or not, with a qualification or not."""

    __tablename__ = "fact_training"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    step_run_id: int | None = Field(default=None, foreign_key="step_run.id", unique=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    kind: str | None = Field(default=None, max_length=64)
    completed: bool | None = None
    qualification: bool | None = None
    hours: int | None = Field(default=None, ge=0)
    ended_on: date = Field(index=True)
    source_key: str | None = Field(default=None, max_length=200, unique=True, nullable=True)


class Placement(SQLModel, table=True):
    """A participant placed in employment (a job found during the pathway)."""

    __tablename__ = "fact_placement"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    step_run_id: int | None = Field(default=None, foreign_key="step_run.id", unique=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    employed: bool | None = None
    contract: str | None = Field(default=None, max_length=32)
    started_on: date | None = Field(default=None, index=True)
    sector: str | None = Field(default=None, max_length=64)
    source_key: str | None = Field(default=None, max_length=200, unique=True, nullable=True)


class SupportTime(SQLModel, table=True):
    """Hours of support a participant received, by kind: counted from completed steps (their
    `support:` in the rules), or a manual correction with its reason (signed hours)."""

    __tablename__ = "fact_support"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    step_run_id: int | None = Field(default=None, foreign_key="step_run.id", unique=True)
    kind: str = Field(max_length=32)
    hours: float
    given_on: date = Field(index=True)
    correction: bool = False
    reason: str | None = Field(default=None, max_length=500)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_at: datetime
    source_key: str | None = Field(default=None, max_length=200, unique=True, nullable=True)
