from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class PathwayStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"


class StepStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class PathwayRun(SQLModel, table=True):
    """One participant's pathway, driven by one Prefect flow run."""

    __tablename__ = "pathway_run"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    pathway_key: str = Field(max_length=64)
    pathway_version: int
    status: PathwayStatus = PathwayStatus.ACTIVE
    started_at: datetime
    completed_at: datetime | None = None
    flow_run_id: str | None = Field(default=None, max_length=64, index=True)


class StepRun(SQLModel, table=True):
    """A step of a pathway as it happens: opened, due, completed; `seq` orders it in its pathway."""

    __tablename__ = "step_run"
    __table_args__ = (UniqueConstraint("pathway_run_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    pathway_run_id: int = Field(foreign_key="pathway_run.id", index=True)
    seq: int
    step_key: str = Field(max_length=64)
    status: StepStatus = Field(default=StepStatus.OPEN, index=True)
    opened_at: datetime
    due_at: datetime = Field(index=True)
    completed_at: datetime | None = None
    assignee_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    flow_run_id: str | None = Field(default=None, max_length=64)

    @property
    def suspend_key(self) -> str:
        """Return the key of the flow's suspend for this step, derived from its id."""
        return f"step-{self.id}"


class Decision(SQLModel, table=True):
    """What a person decided on a step; committed before it is delivered to the flow run."""

    id: int | None = Field(default=None, primary_key=True)
    step_run_id: int = Field(foreign_key="step_run.id", unique=True)
    actor_id: int = Field(foreign_key="app_user.id")
    outcome: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    note: str | None = None
    decided_at: datetime
    delivered_at: datetime | None = Field(default=None, index=True)
    delivery_attempts: int = 0
    last_delivery_error: str | None = None
    applied_at: datetime | None = None
