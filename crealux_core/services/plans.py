"""A participant's individual plan: their goals, the optional steps added alongside the pathway,
corrections of decisions, and the plan as the participant page shows it.

Who may change a plan: the participant's advisor and the coordinator (as for skipping and
reassigning a step). Each change is an event on the pathway, committed with what it changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from crealux_core.models import (
    EventKind,
    GoalStatus,
    Participant,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    PlanGoal,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.rules.specs import PathwaySpec, Rules, StepSpec
from crealux_core.services import events
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput
from crealux_core.services.lookup import get_row
from crealux_core.services.ports import Orchestrator
from crealux_core.services.steps import (
    Submitted,
    after_commit,
    clean_note,
    may_steer,
    step_form,
    validate_outcome,
)

GOAL_MAX_CHARS = 300


def _steerable_run(session: Session, user: User, pathway_run_id: int) -> PathwayRun:
    run = get_row(session, PathwayRun, pathway_run_id)
    participant = get_row(session, Participant, run.participant_id)
    if not may_steer(user, participant):
        raise Forbidden(f"{user.username} may not change the plan of {participant.reference}")
    return run


class GoalInput(BaseModel):
    """A goal as the advisor writes it with the participant."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str = Field(min_length=3, max_length=GOAL_MAX_CHARS)
    target_on: dt.date | None = None

    @field_validator("target_on")
    @classmethod
    def _not_absurd(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and not dt.date(2000, 1, 1) <= value <= dt.date(2100, 12, 31):
            raise ValueError("date out of range (2000-2100)")
        return value


def _goal_input(data: dict[str, Any]) -> GoalInput:
    try:
        return GoalInput.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            {str(d["loc"][0]) if d["loc"] else "goal": d["msg"] for d in error.errors()}
        ) from None


def add_goal(
    *,
    session: Session,
    user: User,
    pathway_run_id: int,
    data: dict[str, Any],
    now: dt.datetime,
) -> PlanGoal:
    """Add a goal to a participant's plan (agreed at the assessment, or later)."""
    goal_input = _goal_input(data)
    run = _steerable_run(session, user, pathway_run_id)
    goal = PlanGoal(
        pathway_run_id=run.id or 0,
        label=goal_input.label,
        target_on=goal_input.target_on,
        created_at=now,
        updated_at=now,
        updated_by_id=user.id,
    )
    session.add(goal)
    session.flush()
    events.record(
        session,
        run,
        kind=EventKind.GOAL,
        now=now,
        actor_id=user.id,
        payload={"goal_id": goal.id, "status": goal.status.value, "added": True},
        note=goal.label,
    )
    session.commit()
    return goal


def update_goal(
    *,
    session: Session,
    user: User,
    goal_id: int,
    status: GoalStatus,
    note: str | None,
    now: dt.datetime,
) -> PlanGoal:
    """Mark a goal achieved, dropped or open again, with an optional note."""
    goal = get_row(session, PlanGoal, goal_id)
    run = _steerable_run(session, user, goal.pathway_run_id)
    text = clean_note(note)
    if goal.status is status and not text:
        return goal
    goal.status, goal.updated_at, goal.updated_by_id = status, now, user.id
    session.add(goal)
    events.record(
        session,
        run,
        kind=EventKind.GOAL,
        now=now,
        actor_id=user.id,
        payload={"goal_id": goal.id, "status": status.value},
        note=text,
    )
    session.commit()
    return goal


def goals_of(*, session: Session, pathway_run_id: int) -> list[PlanGoal]:
    return list(
        session.exec(
            select(PlanGoal)
            .where(PlanGoal.pathway_run_id == pathway_run_id)
            .order_by(col(PlanGoal.id))
        ).all()
    )


def optional_catalogue(*, session: Session, rules: Rules, pathway_run_id: int) -> list[StepSpec]:
    """Return the optional steps the pathway's version offers."""
    run = get_row(session, PathwayRun, pathway_run_id)
    return list(definition_of(session=session, rules=rules, run=run).optional.values())


def add_optional_step(
    *,
    session: Session,
    rules: Rules,
    user: User,
    pathway_run_id: int,
    step_key: str,
    note: str | None,
    now: dt.datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
) -> Submitted:
    """Add an optional step (an immersion, a coaching session) alongside the pathway."""
    run = _steerable_run(session, user, pathway_run_id)
    if run.status is not PathwayStatus.ACTIVE:
        raise Conflict(f"pathway run {pathway_run_id} has ended")
    offered = {
        step.key
        for step in optional_catalogue(session=session, rules=rules, pathway_run_id=pathway_run_id)
    }
    if step_key not in offered:
        raise InvalidInput({"step": f"{step_key!r} is not in the catalogue ({sorted(offered)})"})
    recorded = events.add_optional(
        session=session,
        rules=rules,
        pathway_run_id=pathway_run_id,
        step_key=step_key,
        actor_id=user.id or 0,
        note=clean_note(note),
        now=now,
        dashboard_url=dashboard_url,
    )
    return after_commit(session, recorded, orchestrator)


def correct_decision(
    *,
    session: Session,
    rules: Rules,
    user: User,
    step_run_id: int,
    data: dict[str, Any],
    note: str | None,
    now: dt.datetime,
) -> PathwayEvent:
    """Correct a decided step's answers; the original decision stays visible beside it.

    The participant's advisor, the coordinator, or the organisation that completed a partner's
    step may correct it. A written reason is required. Answers that would have taken the
    pathway elsewhere are refused: skip or re-orient instead.
    """
    form = step_form(session=session, rules=rules, user=user, step_run_id=step_run_id)
    if form.view.status is not StepStatus.COMPLETED:
        raise Conflict(f"step {step_run_id} is not decided: complete it instead")
    if not form.may_correct:
        raise Forbidden(f"{user.username} may not correct step {step_run_id}")
    text = clean_note(note)
    if not text:
        raise InvalidInput({"note": "a correction needs a written reason"})
    outcome = validate_outcome(session=session, form=form, data=data, now=now)
    if outcome.model_dump(mode="json") == form.answers:
        raise InvalidInput({"form": "nothing to correct: these are the answers already recorded"})
    try:
        recorded = events.correct(
            session=session,
            rules=rules,
            step_run_id=step_run_id,
            actor_id=user.id or 0,
            outcome=outcome,
            note=text,
            now=now,
        )
    except events.ChangesTheRoute as error:
        raise InvalidInput({"form": f"this correction changes the route: {error}"}) from None
    return recorded.event


class PlanState:
    DONE = "done"
    OPEN = "open"
    COMING = "coming"
    SKIPPED = "skipped"
    CLOSED = "closed"  # expired by its deadline, or cancelled by a migration


@dataclass(frozen=True)
class PlanItem:
    """A step of the plan as the participant page shows it."""

    step_run_id: int
    step_key: str
    title: str
    state: str
    optional: bool
    when: dt.datetime | None  # done or skipped at, due at, or opens at
    who: str | None
    why: str | None
    corrected: bool = False


def _state(status: StepStatus) -> str:
    return {
        StepStatus.COMPLETED: PlanState.DONE,
        StepStatus.OPEN: PlanState.OPEN,
        StepStatus.SCHEDULED: PlanState.COMING,
        StepStatus.SKIPPED: PlanState.SKIPPED,
    }.get(status, PlanState.CLOSED)


def _closing(
    events_of_step: list[tuple[PathwayEvent, str | None]],
) -> tuple[str | None, str | None]:
    """Return who closed a step and why (a skip's reason, a deadline's reason)."""
    for event, actor in reversed(events_of_step):
        if event.kind in (EventKind.DECISION, EventKind.SKIP):
            return actor, event.note if event.kind is EventKind.SKIP else None
        if event.kind is EventKind.DEADLINE:
            return None, str(event.payload.get("reason", "deadline"))
    return None, None


def plan_of(*, session: Session, rules: Rules, pathway_run_id: int) -> list[PlanItem]:
    """Return a pathway's steps as a plan: done, open, coming, skipped, with who and why.

    Who may read it is checked by the caller (the participant page's timeline service)."""
    run = get_row(session, PathwayRun, pathway_run_id)
    pathway: PathwaySpec = definition_of(session=session, rules=rules, run=run)
    steps = session.exec(
        select(StepRun).where(StepRun.pathway_run_id == pathway_run_id).order_by(col(StepRun.seq))
    ).all()
    rows = session.exec(
        select(PathwayEvent, User.display_name)
        .join(User, col(PathwayEvent.actor_id) == col(User.id), isouter=True)
        .where(PathwayEvent.pathway_run_id == pathway_run_id)
        .order_by(col(PathwayEvent.id))
    ).all()
    by_step: dict[int, list[tuple[PathwayEvent, str | None]]] = {}
    for event, actor in rows:
        if event.step_run_id is not None:
            by_step.setdefault(event.step_run_id, []).append((event, actor))
    items = []
    for step_run in steps:
        state = _state(step_run.status)
        step_events = by_step.get(step_run.id or 0, [])
        who, why = _closing(step_events)
        if state == PlanState.OPEN:
            when = step_run.due_at
        elif state == PlanState.COMING:
            when = step_run.opens_at
        else:
            when = step_run.closed_at
        title = (
            pathway.step(step_run.step_key).title
            if _known(pathway, step_run)
            else (step_run.step_key)
        )
        items.append(
            PlanItem(
                step_run_id=step_run.id or 0,
                step_key=step_run.step_key,
                title=title,
                state=state,
                optional=step_run.optional,
                when=when,
                who=who,
                why=why,
                corrected=any(e.kind is EventKind.CORRECTION for e, _ in step_events),
            )
        )
    return items


def _known(pathway: PathwaySpec, step_run: StepRun) -> bool:
    return step_run.step_key in pathway.steps or step_run.step_key in pathway.optional
