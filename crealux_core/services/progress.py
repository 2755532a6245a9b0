"""What a pathway's flow run does at each pass. The pathway has already moved on when an event
was committed; the flow acknowledges it, sends what is queued, and waits on a new key.

Each function is idempotent, keyed by database ids: the flow re-runs from the top after every
resume, and a second pass changes nothing but the wait it suspends on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from crealux_core.models import PathwayEvent, PathwayRun, PathwayStatus, Wait
from crealux_core.rules.specs import Rules
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import Conflict
from crealux_core.services.events import forget


class Wake(BaseModel):
    """What a resume hands a waiting run: the id of the event that woke it, nothing else.

    The typed outcome stays in the database; Prefect refuses any other field.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: int | None = Field(default=None, ge=1, title="Event id")


@dataclass(frozen=True)
class Pass:
    """Where a pass left the pathway: ended, superseded by a newer run, or waiting on a key."""

    ended: bool = False
    superseded: bool = False
    problem: str | None = None
    wait_id: int | None = None
    wait_key: str | None = None


def _acknowledge(session: Session, run: PathwayRun) -> None:
    """Record that the flow has seen every event so far (unless one arrives meanwhile)."""
    seen = run.last_event_id
    session.execute(
        update(PathwayRun)
        .where(
            col(PathwayRun.id) == run.id,
            func.coalesce(col(PathwayRun.last_event_id), 0) == (seen or 0),
        )
        .values(
            acked_event_id=seen,
            needs_flow_at=None,
            heal_attempts=0,
            heal_after=None,
            last_heal_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    forget(session, PathwayRun, run.id or 0)


def _wait(session: Session, run: PathwayRun, flow_run_id: str, now: datetime) -> Wait:
    """Return this flow run's wait that has not fired yet, or a new one."""
    wait = session.exec(
        select(Wait)
        .where(
            Wait.pathway_run_id == run.id,
            Wait.flow_run_id == flow_run_id,
            col(Wait.fired_at).is_(None),
        )
        .order_by(col(Wait.id).desc())
    ).first()
    if wait is None:
        wait = Wait(pathway_run_id=run.id or 0, flow_run_id=flow_run_id, created_at=now)
        session.add(wait)
        session.flush()
    return wait


def begin_pass(
    *,
    session: Session,
    rules: Rules,
    pathway_run_id: int,
    generation: int,
    flow_run_id: str,
    now: datetime,
) -> Pass:
    """Acknowledge the pathway's events and return the key to wait on; commits."""
    run = session.get(PathwayRun, pathway_run_id, populate_existing=True)
    if run is None:
        return Pass(ended=True, problem=f"pathway run {pathway_run_id} does not exist")
    if generation != run.generation or run.flow_run_id not in (None, flow_run_id):
        return Pass(superseded=True)
    if run.flow_run_id is None:
        run.flow_run_id = flow_run_id
        session.add(run)
    try:
        definition_of(session=session, rules=rules, run=run)
    except Conflict as error:
        run.stuck_reason = str(error)[:500]
        session.add(run)
        session.commit()
        return Pass(ended=True, problem=str(error))
    session.flush()
    _acknowledge(session, run)
    if run.status is PathwayStatus.COMPLETED:
        session.commit()
        return Pass(ended=True)
    wait = _wait(session, run, flow_run_id, now)
    session.commit()
    return Pass(wait_id=wait.id, wait_key=wait.key)


def has_unseen_events(*, session: Session, pathway_run_id: int) -> bool:
    """Return True if an event was committed since the pass acknowledged the pathway's events
    (the flow then passes again instead of suspending: that event's wake may have come while
    the run was not suspended yet)."""
    row = session.exec(
        select(PathwayRun.last_event_id, PathwayRun.acked_event_id).where(
            PathwayRun.id == pathway_run_id
        )
    ).first()
    return row is not None and (row[0] or 0) != (row[1] or 0)


def record_wake(*, session: Session, wait_id: int, event_id: int | None, now: datetime) -> bool:
    """Mark a wait fired; return True if it was woken by a committed event of its pathway.

    Anything else (a Resume from the Prefect UI, a stale input) is ignored: the next pass
    reads the pathway from the database anyway.
    """
    wait = session.get(Wait, wait_id, populate_existing=True)
    if wait is None:
        return False
    event = session.get(PathwayEvent, event_id) if event_id else None
    matched = event is not None and event.pathway_run_id == wait.pathway_run_id
    if wait.fired_at is None:
        wait.fired_at = now
        wait.woken_by_event_id = event_id if matched else None
        session.add(wait)
        session.commit()
    return matched


def current_wait(*, session: Session, pathway_run_id: int) -> Wait | None:
    """Return the wait the pathway's current flow run is (or will be) suspended on."""
    run = session.get(PathwayRun, pathway_run_id)
    if run is None or run.flow_run_id is None:
        return None
    return session.exec(
        select(Wait)
        .where(
            Wait.pathway_run_id == pathway_run_id,
            Wait.flow_run_id == run.flow_run_id,
            col(Wait.fired_at).is_(None),
        )
        .order_by(col(Wait.id).desc())
    ).first()
