"""Every input to a pathway is an event, committed with the transition it causes.

A decision, a skip, a reassignment, a deadline passed, a scheduled step reaching its date: each
service here writes the event row, closes the step it is about with a compare-and-set update,
reaches the next step (open now, or scheduled) or ends the pathway, and queues the notifications,
all in one transaction. When the commit returns the pathway has moved on, whether Prefect is up
or not; the flow run catches up afterwards (`needs_flow_at`).

These functions check no permission: `steps` does, for people; deadlines are the system's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, func, select

from crealux_core.domain import messages
from crealux_core.domain.pathway import (
    Answers,
    default_next,
    next_step,
    opening_time,
    step_times,
)
from crealux_core.models import (
    SILENT_EVENT_KINDS,
    EventKind,
    Notification,
    Organisation,
    Participant,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
)
from crealux_core.rules.specs import OrganisationKind, PathwaySpec, Role, Rules, StepSpec
from crealux_core.services import notices
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import Conflict
from crealux_core.services.lookup import get_row
from crealux_core.services.organisations import organisation_by_key


@dataclass(frozen=True)
class Recorded:
    """An event and where it left the pathway: its current step, or ended."""

    event: PathwayEvent
    current: StepRun | None


def answers_of(session: Session, pathway_run_id: int) -> dict[str, dict[str, Any]]:
    """Return the latest decided outcome of each step of a pathway run, by step key."""
    rows = session.exec(
        select(StepRun.step_key, PathwayEvent.payload)
        .join(StepRun, col(PathwayEvent.step_run_id) == col(StepRun.id))
        .where(
            PathwayEvent.pathway_run_id == pathway_run_id,
            PathwayEvent.kind == EventKind.DECISION,
        )
        .order_by(col(PathwayEvent.id))
    ).all()
    return {step_key: dict(payload) for step_key, payload in rows}


def current_step(session: Session, pathway_run_id: int) -> StepRun | None:
    """Return the step the pathway is on (open or scheduled), if any."""
    return session.exec(
        select(StepRun)
        .where(
            StepRun.pathway_run_id == pathway_run_id,
            col(StepRun.status).in_([StepStatus.OPEN, StepStatus.SCHEDULED]),
        )
        .order_by(col(StepRun.seq).desc())
    ).first()


def record(
    session: Session,
    run: PathwayRun,
    *,
    kind: EventKind,
    now: datetime,
    step_run_id: int | None = None,
    actor_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> PathwayEvent:
    event = PathwayEvent(
        pathway_run_id=run.id or 0,
        step_run_id=step_run_id,
        kind=kind,
        actor_id=actor_id,
        payload=dict(payload or {}),
        note=note,
        occurred_at=now,
        recorded_at=now,
    )
    session.add(event)
    session.flush()
    if kind not in SILENT_EVENT_KINDS:
        run.last_event_id = event.id
        run.needs_flow_at = now
        session.add(run)
    return event


def _queue(
    session: Session,
    *,
    key: str,
    organisation_id: int,
    pathway_run_id: int | None,
    message: messages.Message,
    now: datetime,
) -> None:
    session.add(
        Notification(
            event_key=key,
            organisation_id=organisation_id,
            pathway_run_id=pathway_run_id,
            title=message.title,
            body=message.body,
            created_at=now,
        )
    )


def _open(
    session: Session,
    *,
    run: PathwayRun,
    step_run: StepRun,
    step: StepSpec,
    answers: Answers,
    now: datetime,
    dashboard_url: str,
) -> None:
    """Open a step: its deadlines become columns, and its organisation is told."""
    times = step_times(step, now, answers)
    step_run.status, step_run.opened_at = StepStatus.OPEN, now
    step_run.due_at, step_run.remind_at = times.due_at, times.remind_at
    step_run.escalate_at, step_run.overdue_at = times.escalate_at, times.overdue_at
    session.add(step_run)
    session.flush()
    participant = get_row(session, Participant, run.participant_id)
    _queue(
        session,
        key=f"step-opened:{step_run.id}",
        organisation_id=step_run.organisation_id,
        pathway_run_id=run.id,
        message=messages.step_opened(
            step=step,
            participant_reference=participant.reference,
            due_at=step_run.due_at,
            dashboard_url=dashboard_url,
            step_run_id=step_run.id,
        ),
        now=now,
    )


def _reach(
    session: Session,
    *,
    run: PathwayRun,
    step: StepSpec,
    answers: Answers,
    now: datetime,
    dashboard_url: str,
) -> StepRun:
    """Add the step the pathway goes to: open now, or scheduled to open later."""
    participant = get_row(session, Participant, run.participant_id)
    organisation = organisation_by_key(session=session, key=step.concerns)
    last_seq = session.exec(
        select(func.max(StepRun.seq)).where(StepRun.pathway_run_id == run.id)
    ).one()
    opens_at = opening_time(step, now, answers)
    step_run = StepRun(
        pathway_run_id=run.id or 0,
        seq=(last_seq or 0) + 1,
        step_key=step.key,
        status=StepStatus.SCHEDULED,
        reached_at=now,
        opens_at=opens_at,
        assignee_id=participant.advisor_id if step.role is Role.ADVISOR else None,
        organisation_id=organisation.id or 0,
    )
    session.add(step_run)
    session.flush()
    if opens_at <= now:
        _open(
            session,
            run=run,
            step_run=step_run,
            step=step,
            answers=answers,
            now=now,
            dashboard_url=dashboard_url,
        )
    return step_run


def _end(
    session: Session, run: PathwayRun, *, reason: str, now: datetime, dashboard_url: str
) -> None:
    run.status, run.completed_at, run.end_reason = PathwayStatus.COMPLETED, now, reason
    session.add(run)
    notices.pathway_ended(session, run=run, reason=reason, now=now, dashboard_url=dashboard_url)


def _move_on(
    session: Session,
    *,
    run: PathwayRun,
    pathway: PathwaySpec,
    following: StepSpec | None,
    end_reason: str,
    now: datetime,
    dashboard_url: str,
) -> StepRun | None:
    if following is None:
        _end(session, run, reason=end_reason, now=now, dashboard_url=dashboard_url)
        return None
    return _reach(
        session,
        run=run,
        step=following,
        answers=answers_of(session, run.id or 0),
        now=now,
        dashboard_url=dashboard_url,
    )


def _close(session: Session, step_run_id: int, *, to: StepStatus, now: datetime) -> bool:
    """Close a current step with a compare-and-set update: False if it was closed meanwhile."""
    result = session.execute(
        update(StepRun)
        .where(
            col(StepRun.id) == step_run_id,
            col(StepRun.status).in_([StepStatus.OPEN, StepStatus.SCHEDULED]),
        )
        .values(status=to, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    closed = bool(getattr(result, "rowcount", 0) == 1)
    if closed:
        forget(session, StepRun, step_run_id)
    return closed


def forget(session: Session, model: type[Any], ident: int) -> None:
    """Drop what the session remembers of a row changed by a bulk update (sessions here keep
    objects across commits)."""
    cached = session.identity_map.get(identity_key(model, ident))
    if cached is not None:
        session.expire(cached)


def _refreshed(session: Session, step_run_id: int) -> tuple[StepRun, PathwayRun]:
    step_run = session.get(StepRun, step_run_id, populate_existing=True)
    if step_run is None:
        raise Conflict(f"step {step_run_id} does not exist")
    run = session.get(PathwayRun, step_run.pathway_run_id, populate_existing=True)
    assert run is not None
    return step_run, run


def start(
    *,
    session: Session,
    rules: Rules,
    participant: Participant,
    now: datetime,
    dashboard_url: str,
    pathway_key: str | None = None,
) -> PathwayRun:
    """Add a participant's pathway run with its first step open (the caller commits)."""
    pathway = rules.pathway(pathway_key)
    run = PathwayRun(
        participant_id=participant.id or 0,
        pathway_key=pathway.key,
        pathway_version=pathway.version,
        definition_digest=pathway.digest(),
        started_at=now,
    )
    session.add(run)
    session.flush()
    _reach(
        session,
        run=run,
        step=pathway.step(pathway.start),
        answers={},
        now=now,
        dashboard_url=dashboard_url,
    )
    run.needs_flow_at = now
    session.add(run)
    return run


def _close_and_move_on(
    session: Session,
    *,
    rules: Rules,
    step_run_id: int,
    closed_as: StepStatus,
    event: dict[str, Any],
    choose: Callable[[PathwaySpec, StepSpec], StepSpec | None],
    now: datetime,
    dashboard_url: str,
) -> Recorded:
    """Close a current step (compare-and-set), record the event, reach the step `choose`
    returns or end the pathway; one transaction."""
    step_run, run = _refreshed(session, step_run_id)
    pathway = definition_of(session=session, rules=rules, run=run)
    if not _close(session, step_run_id, to=closed_as, now=now):
        session.rollback()
        raise Conflict(f"step {step_run_id} is not open")
    recorded = record(session, run, now=now, step_run_id=step_run_id, **event)
    step = pathway.step(step_run.step_key)
    notices.step_closed(
        session,
        run=run,
        step_run=step_run,
        step=step,
        event=recorded,
        now=now,
        dashboard_url=dashboard_url,
    )
    current = _move_on(
        session,
        run=run,
        pathway=pathway,
        following=choose(pathway, step),
        end_reason=f"{step.key}:{'decided' if closed_as is StepStatus.COMPLETED else 'skipped'}",
        now=now,
        dashboard_url=dashboard_url,
    )
    session.commit()
    return Recorded(event=recorded, current=current)


def decide(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor_id: int,
    outcome: BaseModel,
    note: str | None,
    now: datetime,
    dashboard_url: str,
) -> Recorded:
    """Commit a validated decision on an open step and move the pathway on."""
    return _close_and_move_on(
        session,
        rules=rules,
        step_run_id=step_run_id,
        closed_as=StepStatus.COMPLETED,
        event={
            "kind": EventKind.DECISION,
            "actor_id": actor_id,
            "payload": outcome.model_dump(mode="json"),
            "note": note,
        },
        choose=lambda pathway, step: next_step(pathway, step, outcome.model_dump()),
        now=now,
        dashboard_url=dashboard_url,
    )


def skip(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor_id: int,
    reason: str,
    now: datetime,
    dashboard_url: str,
) -> Recorded:
    """Skip a current step with a reason; the pathway takes the step's default way on."""
    return _close_and_move_on(
        session,
        rules=rules,
        step_run_id=step_run_id,
        closed_as=StepStatus.SKIPPED,
        event={"kind": EventKind.SKIP, "actor_id": actor_id, "note": reason},
        choose=default_next,
        now=now,
        dashboard_url=dashboard_url,
    )


def reassign(
    *,
    session: Session,
    step_run_id: int,
    actor_id: int,
    assignee_id: int,
    note: str | None,
    now: datetime,
) -> Recorded:
    """Give a current step to another person; the pathway stays where it is."""
    step_run, run = _refreshed(session, step_run_id)
    if step_run.status not in (StepStatus.OPEN, StepStatus.SCHEDULED):
        raise Conflict(f"step {step_run_id} is not open")
    event = record(
        session,
        run,
        kind=EventKind.REASSIGN,
        now=now,
        step_run_id=step_run_id,
        actor_id=actor_id,
        payload={"from": step_run.assignee_id, "to": assignee_id},
        note=note,
    )
    step_run.assignee_id = assignee_id
    session.add(step_run)
    session.commit()
    return Recorded(event=event, current=step_run)


def comment(
    *, session: Session, step_run_id: int, actor_id: int, note: str, now: datetime
) -> PathwayEvent:
    """Keep a note on a step (for instance one sent with a decision that came second)."""
    step_run, run = _refreshed(session, step_run_id)
    event = record(
        session,
        run,
        kind=EventKind.COMMENT,
        now=now,
        step_run_id=step_run.id,
        actor_id=actor_id,
        note=note,
    )
    session.commit()
    return event


def expire(
    *, session: Session, rules: Rules, step_run_id: int, now: datetime, dashboard_url: str
) -> Recorded | None:
    """Close an open step whose overdue deadline passed, as its rules say; None if it was
    closed meanwhile (a decision came first, or another sweeper did it)."""
    step_run, run = _refreshed(session, step_run_id)
    if step_run.status is not StepStatus.OPEN or step_run.overdue_at is None:
        return None
    if step_run.overdue_at > now:
        return None
    pathway = definition_of(session=session, rules=rules, run=run)
    step = pathway.step(step_run.step_key)
    if step.on_overdue is None:
        return None
    if not _close(session, step_run_id, to=StepStatus.EXPIRED, now=now):
        session.rollback()
        return None
    event = record(
        session,
        run,
        kind=EventKind.DEADLINE,
        now=now,
        step_run_id=step_run_id,
        payload={"reason": step.on_overdue.reason, "overdue_at": step_run.overdue_at.isoformat()},
    )
    following = pathway.step(step.on_overdue.to) if step.on_overdue.to else None
    current = _move_on(
        session,
        run=run,
        pathway=pathway,
        following=following,
        end_reason=step.on_overdue.reason,
        now=now,
        dashboard_url=dashboard_url,
    )
    session.commit()
    return Recorded(event=event, current=current)


def open_scheduled(
    *, session: Session, rules: Rules, step_run_id: int, now: datetime, dashboard_url: str
) -> Recorded | None:
    """Open a scheduled step whose date has come; None if it is no longer scheduled."""
    result = session.execute(
        update(StepRun)
        .where(
            col(StepRun.id) == step_run_id,
            col(StepRun.status) == StepStatus.SCHEDULED,
            col(StepRun.opens_at) <= now,
        )
        .values(status=StepStatus.OPEN, opened_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.rollback()
        return None
    forget(session, StepRun, step_run_id)
    step_run, run = _refreshed(session, step_run_id)
    pathway = definition_of(session=session, rules=rules, run=run)
    event = record(session, run, kind=EventKind.OPENED, now=now, step_run_id=step_run_id)
    _open(
        session,
        run=run,
        step_run=step_run,
        step=pathway.step(step_run.step_key),
        answers=answers_of(session, run.id or 0),
        now=now,
        dashboard_url=dashboard_url,
    )
    session.commit()
    return Recorded(event=event, current=step_run)


def coordinator_organisation(session: Session, rules: Rules) -> Organisation | None:
    """Return the coordinating organisation (told of escalations)."""
    for key, spec in rules.organisations.items():
        if spec.kind is OrganisationKind.COORDINATOR:
            return organisation_by_key(session=session, key=key)
    return None
