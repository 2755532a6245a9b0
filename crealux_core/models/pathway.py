from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class PathwayStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"


class StepStatus(StrEnum):
    SCHEDULED = "scheduled"  # reached, opens later (`opens` in the rules)
    OPEN = "open"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    EXPIRED = "expired"  # closed by its overdue deadline
    CANCELLED = "cancelled"  # removed by a migration to another version


CURRENT_STEP_STATUSES = (StepStatus.SCHEDULED, StepStatus.OPEN)


class EventKind(StrEnum):
    """What can reach a pathway. Each event is committed with the transition it causes."""

    DECISION = "decision"
    SKIP = "skip"
    REASSIGN = "reassign"
    DEADLINE = "deadline"
    OPENED = "opened"  # a scheduled step reached its opening date
    COMMENT = "comment"  # a note on a step, moves nothing
    MIGRATION = "migration"
    CORRECTION = "correction"  # new answers for a decided step; the original stays
    ADDED = "added"  # an optional step added from the catalogue, alongside the pathway
    TRANSFER = "transfer"  # the participant's advisor changed (a caseload moved)
    GOAL = "goal"  # a goal of the individual plan added or updated, moves nothing
    REFERRAL = "referral"  # the participant was referred to a partner's offer
    REFERRAL_ACCEPTED = "referral_accepted"  # the partner accepted, with a start date
    REFERRAL_DECLINED = "referral_declined"  # the partner declined, with a reason
    TRAINING = "training"  # a training enrolment, attendance or a session's closing


# Events the flow does not need to see: they change nothing it waits on.
SILENT_EVENT_KINDS = (
    EventKind.COMMENT,
    EventKind.GOAL,
    EventKind.CORRECTION,
    EventKind.TRANSFER,
    EventKind.TRAINING,  # an enrolment in a training session, for the timeline
)


class PathwayDefinition(SQLModel, table=True):
    """A version of a pathway as it was first used: an edit without a new version is refused."""

    __tablename__ = "pathway_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    version: int
    digest: str = Field(max_length=64)
    spec_json: str = Field(sa_column=Column(Text, nullable=False))
    registered_at: datetime


class PathwayRun(SQLModel, table=True):
    """One participant's pathway, driven by one Prefect flow run at a time (its generation)."""

    __tablename__ = "pathway_run"
    __table_args__ = (Index("ix_pathway_run_attention", "status", "needs_flow_at"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    pathway_key: str = Field(max_length=64)
    pathway_version: int
    definition_digest: str = Field(default="", max_length=64)
    status: PathwayStatus = PathwayStatus.ACTIVE
    started_at: datetime
    completed_at: datetime | None = None
    end_reason: str | None = Field(default=None, max_length=64)
    # The flow run that drives it now; a replacement raises the generation.
    flow_run_id: str | None = Field(default=None, max_length=64, index=True)
    generation: int = 0
    # The latest event, and the latest the flow has acknowledged: when they differ for too long,
    # the reconciler looks at the run first. `needs_flow_at` is set when an event is committed
    # and cleared when the flow acknowledges it.
    last_event_id: int | None = None
    acked_event_id: int | None = None
    needs_flow_at: datetime | None = None
    # Healing: attempts back off, then give up visibly (`stuck_reason`).
    heal_attempts: int = 0
    heal_after: datetime | None = None
    stuck_reason: str | None = Field(default=None, max_length=500)
    last_heal_error: str | None = Field(default=None, max_length=500)


class StepRun(SQLModel, table=True):
    """A step of a pathway as it happens; its deadlines are columns, swept by time."""

    __tablename__ = "step_run"
    __table_args__ = (
        UniqueConstraint("pathway_run_id", "seq"),
        # The worklists, a page at a time: an advisor's open steps, an organisation's, everyone's
        # (migration 0005).
        Index("ix_step_run_worklist_assignee", "status", "assignee_id", "due_at"),
        Index("ix_step_run_worklist_organisation", "status", "organisation_id", "due_at"),
        Index("ix_step_run_worklist", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pathway_run_id: int = Field(foreign_key="pathway_run.id", index=True)
    seq: int
    step_key: str = Field(max_length=64)
    status: StepStatus = Field(default=StepStatus.OPEN, index=True)
    reached_at: datetime
    opens_at: datetime | None = Field(default=None, index=True)
    opened_at: datetime | None = None
    due_at: datetime | None = Field(default=None, index=True)
    remind_at: datetime | None = Field(default=None, index=True)
    escalate_at: datetime | None = Field(default=None, index=True)
    overdue_at: datetime | None = Field(default=None, index=True)
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    assignee_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # An optional step from the catalogue, taken alongside the pathway: it never moves it on.
    optional: bool = False

    @property
    def completed_at(self) -> datetime | None:
        return self.closed_at


class Wait(SQLModel, table=True):
    """One suspend of a pathway's flow run; its key is derived from its id and never reused."""

    id: int | None = Field(default=None, primary_key=True)
    pathway_run_id: int = Field(foreign_key="pathway_run.id", index=True)
    flow_run_id: str = Field(max_length=64, index=True)
    created_at: datetime
    fired_at: datetime | None = None
    woken_by_event_id: int | None = None

    @property
    def key(self) -> str:
        return f"wait-{self.id}"


class PathwayEvent(SQLModel, table=True):
    """Everything that reaches a pathway, committed with the transition it caused."""

    __tablename__ = "pathway_event"

    id: int | None = Field(default=None, primary_key=True)
    pathway_run_id: int = Field(foreign_key="pathway_run.id", index=True)
    step_run_id: int | None = Field(default=None, foreign_key="step_run.id", index=True)
    kind: EventKind
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")  # None: the system
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    occurred_at: datetime
    recorded_at: datetime
