from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class GoalStatus(StrEnum):
    OPEN = "open"
    ACHIEVED = "achieved"
    DROPPED = "dropped"


class PlanGoal(SQLModel, table=True):
    """A goal of a participant's individual plan, in their own words (agreed at the assessment).

    Each change is also a `goal` event on the pathway, so the plan's history stays readable.
    """

    __tablename__ = "plan_goal"

    id: int | None = Field(default=None, primary_key=True)
    pathway_run_id: int = Field(foreign_key="pathway_run.id", index=True)
    label: str = Field(sa_column=Column(Text, nullable=False))
    status: GoalStatus = GoalStatus.OPEN
    target_on: date | None = None
    created_at: datetime
    updated_at: datetime
    updated_by_id: int | None = Field(default=None, foreign_key="app_user.id")


class OrientationAdvice(SQLModel, table=True):
    """What the orientation rules advised for a decided orientation step, and what was decided:
    the coordinator counts how often they differ."""

    __tablename__ = "orientation_advice"

    id: int | None = Field(default=None, primary_key=True)
    step_run_id: int = Field(foreign_key="step_run.id", unique=True)
    event_id: int = Field(foreign_key="pathway_event.id")
    advised_route: str | None = Field(default=None, max_length=64)
    advice_rule: str | None = Field(default=None, max_length=64)
    decided_route: str = Field(max_length=64)
    decided_at: datetime = Field(index=True)
