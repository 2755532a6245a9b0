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
from crealux_core.services import facts, notices
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import Conflict
from crealux_core.services.lookup import get_row
from crealux_core.services.organisations import organisation_by_key

OnDecision = Callable[[Session, PathwaySpec, StepRun, PathwayEvent], None]
"""Something a decision records in its own transaction (the orientation advice beside it)."""


@dataclass(frozen=True)
class Recorded:
    """An event and where it left the pathway: its current step, or ended."""

    event: PathwayEvent
    current: StepRun | None


def outcome_of(event: PathwayEvent) -> dict[str, Any]:
    """Return the answers an event carries: a decision's payload, a correction's new outcome."""
    if event.kind is EventKind.CORRECTION:
        return dict(event.payload.get("outcome", {}))
    return dict(event.payload)


def answers_of(session: Session, pathway_run_id: int) -> dict[str, dict[str, Any]]:
    """Return the latest outcome of each step of a pathway run, by step key: its decision, or
    the latest correction of it (the pathway's own steps only, not optional ones)."""
    rows = session.exec(
        select(StepRun.step_key, PathwayEvent)
        .join(StepRun, col(PathwayEvent.step_run_id) == col(StepRun.id))
        .where(
            PathwayEvent.pathway_run_id == pathway_run_id,
            col(PathwayEvent.kind).in_([EventKind.DECISION, EventKind.CORRECTION]),
            col(StepRun.optional).is_(False),
        )
        .order_by(col(PathwayEvent.id))
    ).all()
    return {step_key: outcome_of(event) for step_key, event in rows}


def current_step(session: Session, pathway_run_id: int) -> StepRun | None:
    """Return the step the pathway is on (open or scheduled), if any; optional steps taken
    alongside are not where the pathway is."""
    return session.exec(
        select(StepRun)
        .where(
            StepRun.pathway_run_id == pathway_run_id,
            col(StepRun.status).in_([StepStatus.OPEN, StepStatus.SCHEDULED]),
            col(StepRun.optional).is_(False),
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
    """Queue a message to an organisation's channels as it is (routed messages, one per
    recipient, are made by services/routing.py)."""
    session.add(
        Notification(
            event_key=key,
            organisation_id=organisation_id,
            pathway_run_id=pathway_run_id,
            title=message.title,
            body=message.body,
            html=message.html or None,
            link=message.link,
            created_at=now,
        )
    )


def _open(
    session: Session,
    *,
    rules: Rules | None,
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
    # Who is told, and how: services/routing.py (step_opened, or checkpoint_due).
    from crealux_core.services import routing  # routing reads what events writes

    routing.queue_step_opened(
        session,
        rules=rules,
        participant=get_row(session, Participant, run.participant_id),
        pathway_run_id=run.id or 0,
        step_run=step_run,
        step=step,
        now=now,
        dashboard_url=dashboard_url,
    )


def _reach(
    session: Session,
    *,
    rules: Rules | None,
    run: PathwayRun,
    step: StepSpec,
    answers: Answers,
    now: datetime,
    dashboard_url: str,
    optional: bool = False,
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
        # A referral step is the advisor's until a partner accepts it (services/referrals.py).
        assignee_id=(
            participant.advisor_id
            if step.role is Role.ADVISOR or step.assign == "referral"
            else None
        ),
        organisation_id=organisation.id or 0,
        optional=optional,
    )
    session.add(step_run)
    session.flush()
    if opens_at <= now:
        _open(
            session,
            rules=rules,
            run=run,
            step_run=step_run,
            step=step,
            answers=answers,
            now=now,
            dashboard_url=dashboard_url,
        )
    return step_run


def _end(
    session: Session,
    run: PathwayRun,
    *,
    rules: Rules | None,
    first_step: str,
    reason: str,
    now: datetime,
    dashboard_url: str,
) -> None:
    run.status, run.completed_at, run.end_reason = PathwayStatus.COMPLETED, now, reason
    session.add(run)
    facts.close_stay(session, run=run, on=now.date())
    session.flush()
    facts.forget_stay_if_never_entered(session, run=run, first_step=first_step)
    # Optional steps still open end with the pathway: nobody is left to do them for.
    session.execute(
        update(StepRun)
        .where(
            col(StepRun.pathway_run_id) == run.id,
            col(StepRun.optional).is_(True),
            col(StepRun.status).in_([StepStatus.OPEN, StepStatus.SCHEDULED]),
        )
        .values(status=StepStatus.CANCELLED, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    notices.pathway_ended(
        session, run=run, reason=reason, now=now, dashboard_url=dashboard_url, rules=rules
    )


def _move_on(
    session: Session,
    *,
    rules: Rules | None,
    run: PathwayRun,
    pathway: PathwaySpec,
    following: StepSpec | None,
    end_reason: str,
    now: datetime,
    dashboard_url: str,
) -> StepRun | None:
    if following is None:
        _end(
            session,
            run,
            rules=rules,
            first_step=pathway.start,
            reason=end_reason,
            now=now,
            dashboard_url=dashboard_url,
        )
        return None
    return _reach(
        session,
        rules=rules,
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
    start_at: str | None = None,
) -> PathwayRun:
    """Add a participant's pathway run with its first step open (the caller commits), and
    open its stay for reports. `start_at` names another step to begin on (an imported
    participant who is already mid-way)."""
    pathway = rules.pathway(pathway_key)
    if start_at is not None and start_at not in pathway.steps:
        raise Conflict(f"{start_at!r} is not a step of {pathway.key} v{pathway.version}")
    run = PathwayRun(
        participant_id=participant.id or 0,
        pathway_key=pathway.key,
        pathway_version=pathway.version,
        definition_digest=pathway.digest(),
        started_at=now,
    )
    session.add(run)
    session.flush()
    facts.open_stay(session, run=run, participant=participant)
    _reach(
        session,
        rules=rules,
        run=run,
        step=pathway.step(start_at or pathway.start),
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
    on_decision: OnDecision | None = None,
) -> Recorded:
    """Close a current step (compare-and-set), record the event, reach the step `choose`
    returns or end the pathway; one transaction. An optional step closes alone."""
    step_run, run = _refreshed(session, step_run_id)
    pathway = definition_of(session=session, rules=rules, run=run)
    if not _close(session, step_run_id, to=closed_as, now=now):
        session.rollback()
        raise Conflict(f"step {step_run_id} is not open")
    recorded = record(session, run, now=now, step_run_id=step_run_id, **event)
    step = pathway.step(step_run.step_key)
    if recorded.kind is EventKind.DECISION:
        facts.record_step_facts(
            session,
            run=run,
            step_run=step_run,
            step=step,
            answers=recorded.payload,
            decided_at=now,
        )
    notices.step_closed(
        session,
        run=run,
        step_run=step_run,
        step=step,
        event=recorded,
        now=now,
        dashboard_url=dashboard_url,
    )
    if step_run.optional:  # taken alongside: the pathway stays where it is
        current = current_step(session, run.id or 0)
    else:
        how = "decided" if closed_as is StepStatus.COMPLETED else "skipped"
        if recorded.kind is EventKind.DECISION and on_decision is not None:
            on_decision(session, pathway, step_run, recorded)
        current = _move_on(
            session,
            rules=rules,
            run=run,
            pathway=pathway,
            following=choose(pathway, step),
            end_reason=f"{step.key}:{how}",
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
    on_decision: OnDecision | None = None,
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
        on_decision=on_decision,
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
    if step_run.optional:
        session.commit()
        return Recorded(event=event, current=current_step(session, run.id or 0))
    following = pathway.step(step.on_overdue.to) if step.on_overdue.to else None
    current = _move_on(
        session,
        rules=rules,
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
        rules=rules,
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


class ChangesTheRoute(Conflict):
    """A correction whose answers would have taken the pathway elsewhere."""


def _latest_outcome_event(session: Session, step_run_id: int) -> PathwayEvent | None:
    return session.exec(
        select(PathwayEvent)
        .where(
            PathwayEvent.step_run_id == step_run_id,
            col(PathwayEvent.kind).in_([EventKind.DECISION, EventKind.CORRECTION]),
        )
        .order_by(col(PathwayEvent.id).desc())
    ).first()


def correct(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor_id: int,
    outcome: BaseModel,
    note: str | None,
    now: datetime,
) -> Recorded:
    """Record new answers for a decided step; the original decision stays as it was.

    A correction fixes what was recorded, not where the pathway went: answers that would have
    led elsewhere are refused (ChangesTheRoute). A scheduled step counting from a corrected
    date (a checkpoint after the start of the activity) is re-dated.
    """
    step_run, run = _refreshed(session, step_run_id)
    original = _latest_outcome_event(session, step_run_id)
    if step_run.status is not StepStatus.COMPLETED or original is None:
        raise Conflict(f"step {step_run_id} has no decision to correct")
    pathway = definition_of(session=session, rules=rules, run=run)
    step = pathway.step(step_run.step_key)
    new = outcome.model_dump(mode="json")
    if not step_run.optional:
        before = next_step(pathway, step, outcome_of(original))
        after = next_step(pathway, step, outcome.model_dump())
        if (before.key if before else None) != (after.key if after else None):
            session.rollback()
            raise ChangesTheRoute(
                f"these answers lead to {after.key if after else 'the end'}, not to"
                f" {before.key if before else 'the end'} where the pathway went"
            )
    event = record(
        session,
        run,
        kind=EventKind.CORRECTION,
        now=now,
        step_run_id=step_run_id,
        actor_id=actor_id,
        payload={"corrects": original.id, "outcome": new},
        note=note,
    )
    facts.record_step_facts(
        session, run=run, step_run=step_run, step=step, answers=new, decided_at=now
    )
    _redate_scheduled(session, pathway, run)
    session.commit()
    return Recorded(event=event, current=current_step(session, run.id or 0))


def _redate_scheduled(session: Session, pathway: PathwaySpec, run: PathwayRun) -> None:
    """Re-date the pathway's scheduled step from the answers as they are now."""
    current = current_step(session, run.id or 0)
    if current is None or current.status is not StepStatus.SCHEDULED:
        return
    opens_at = opening_time(
        pathway.step(current.step_key), current.reached_at, answers_of(session, run.id or 0)
    )
    if opens_at != current.opens_at:
        current.opens_at = opens_at
        session.add(current)


def add_optional(
    *,
    session: Session,
    rules: Rules,
    pathway_run_id: int,
    step_key: str,
    actor_id: int,
    note: str | None,
    now: datetime,
    dashboard_url: str,
) -> Recorded:
    """Open an optional step from the pathway's catalogue alongside its current step."""
    run = session.get(PathwayRun, pathway_run_id, populate_existing=True)
    if run is None or run.status is not PathwayStatus.ACTIVE:
        raise Conflict(f"pathway run {pathway_run_id} is not active")
    pathway = definition_of(session=session, rules=rules, run=run)
    step = pathway.optional.get(step_key)
    if step is None:
        raise Conflict(f"{step_key!r} is not an optional step of {pathway.key}@{pathway.version}")
    added = _reach(
        session,
        rules=rules,
        run=run,
        step=step,
        answers={},
        now=now,
        dashboard_url=dashboard_url,
        optional=True,
    )
    event = record(
        session,
        run,
        kind=EventKind.ADDED,
        now=now,
        step_run_id=added.id,
        actor_id=actor_id,
        payload={"step_key": step_key},
        note=note,
    )
    session.commit()
    return Recorded(event=event, current=added)


def transfer(
    session: Session,
    *,
    participant: Participant,
    to_advisor_id: int,
    actor_id: int,
    note: str | None,
    now: datetime,
) -> list[PathwayEvent]:
    """Give a participant to another advisor, with the current steps assigned to the former
    one (the caller commits: a whole caseload moves in one transaction)."""
    former = participant.advisor_id
    participant.advisor_id = to_advisor_id
    session.add(participant)
    recorded: list[PathwayEvent] = []
    runs = session.exec(
        select(PathwayRun).where(
            PathwayRun.participant_id == participant.id,
            PathwayRun.status == PathwayStatus.ACTIVE,
        )
    ).all()
    for run in runs:
        payload = {"from": former, "to": to_advisor_id}
        recorded.append(
            record(
                session,
                run,
                kind=EventKind.TRANSFER,
                now=now,
                actor_id=actor_id,
                payload=payload,
                note=note,
            )
        )
        steps = session.exec(
            select(StepRun).where(
                StepRun.pathway_run_id == run.id,
                StepRun.assignee_id == former,
                col(StepRun.status).in_([StepStatus.OPEN, StepStatus.SCHEDULED]),
            )
        ).all()
        for step_run in steps:
            step_run.assignee_id = to_advisor_id
            session.add(step_run)
            recorded.append(
                record(
                    session,
                    run,
                    kind=EventKind.REASSIGN,
                    now=now,
                    step_run_id=step_run.id,
                    actor_id=actor_id,
                    payload=payload,
                    note=note,
                )
            )
    return recorded
