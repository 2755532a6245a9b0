"""Training sessions (cohorts) of the training modules of rules/organisations.yaml, their
enrolments with a waiting list, and attendance per session day.

A module is an offer of kind `training` of an organisation in the rules; a session names it by
the organisation's id and the offer's key. When a session closes, each enrolled participant's
pathway moves on through its own decision (services/training.py); `decision_event_id` on the
enrolment says it was done, so closing again decides nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class SessionStatus(StrEnum):
    PLANNED = "planned"  # created; enrolments taken
    OPEN = "open"  # under way: attendance is being recorded
    CLOSED = "closed"  # over: each enrolled participant's pathway moved on


class EnrolmentStatus(StrEnum):
    ENROLLED = "enrolled"  # holds a place
    WAITING = "waiting"  # on the waiting list, in the order of `queued_at`
    WITHDRAWN = "withdrawn"


class Presence(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    EXCUSED = "excused"


class TrainingSession(SQLModel, table=True):
    """A session of a training module, at a place, on given days, for so many people."""

    __tablename__ = "training_session"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    offer_key: str = Field(max_length=64)
    starts_on: date = Field(index=True)
    ends_on: date
    capacity: int = Field(ge=1)
    place: str = Field(max_length=200)
    status: SessionStatus = Field(default=SessionStatus.PLANNED, index=True)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime
    # Touched by every change of its enrolments: the update takes the row's lock first, so two
    # enrolments at once count the places one after the other.
    changed_at: datetime
    closed_by: int | None = Field(default=None, foreign_key="app_user.id")
    closed_at: datetime | None = None


class TrainingDay(SQLModel, table=True):
    """A day a session meets, and how many hours it lasts."""

    __tablename__ = "training_day"
    __table_args__ = (UniqueConstraint("training_session_id", "held_on"),)

    id: int | None = Field(default=None, primary_key=True)
    training_session_id: int = Field(foreign_key="training_session.id", index=True)
    held_on: date
    hours: float = Field(gt=0, le=24)


class TrainingEnrolment(SQLModel, table=True):
    """A participant in a session (or on its waiting list), enrolled from the `training` step
    of their pathway, and what came of it."""

    __tablename__ = "training_enrolment"
    __table_args__ = (
        UniqueConstraint("training_session_id", "participant_id"),
        Index("ix_training_enrolment_queue", "training_session_id", "status", "queued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    training_session_id: int = Field(foreign_key="training_session.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    pathway_run_id: int = Field(foreign_key="pathway_run.id", index=True)
    step_run_id: int = Field(foreign_key="step_run.id")  # the training step enrolled from
    status: EnrolmentStatus
    queued_at: datetime  # the waiting list's order
    enrolled_by: int | None = Field(default=None, foreign_key="app_user.id")
    withdrawn_at: datetime | None = None
    completed: bool | None = None
    qualification: bool | None = None
    # Set in the transaction of the decision that moved the pathway on when the session closed.
    decision_event_id: int | None = Field(default=None, foreign_key="pathway_event.id")


class TrainingAttendance(SQLModel, table=True):
    """One participant on one session day: present (for some hours), absent or excused."""

    __tablename__ = "training_attendance"
    __table_args__ = (UniqueConstraint("enrolment_id", "training_day_id"),)

    id: int | None = Field(default=None, primary_key=True)
    enrolment_id: int = Field(foreign_key="training_enrolment.id", index=True)
    training_day_id: int = Field(foreign_key="training_day.id", index=True)
    presence: Presence
    hours: float = Field(ge=0, le=24)
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_at: datetime
