"""What people are told when a pathway moves: queued in the outbox in the same transaction as
the event that caused it (`events` calls these hooks), sent after the commit."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from crealux_core.models import PathwayEvent, PathwayRun, StepRun
from crealux_core.rules.specs import StepSpec


def step_closed(
    session: Session,
    *,
    run: PathwayRun,
    step_run: StepRun,
    step: StepSpec,
    event: PathwayEvent,
    now: datetime,
    dashboard_url: str,
) -> None:
    """Queue what a closed step (decided or skipped) tells: the participant's advisor when
    someone else (a partner) closed it."""


def pathway_ended(
    session: Session, *, run: PathwayRun, reason: str, now: datetime, dashboard_url: str
) -> None:
    """Queue what an ended pathway tells: the participant's advisor."""
