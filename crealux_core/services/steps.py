"""The advisor's and partner's side of steps: the worklist, a step's form, deciding, skipping,
reassigning. Each input is an event committed with its transition (`events`); the waiting flow
run is woken after the commit (`delivery`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from crealux_core.domain.orientation import Advice
from crealux_core.models import (
    SILENT_EVENT_KINDS,
    EventKind,
    Organisation,
    OrientationAdvice,
    Participant,
    PathwayEvent,
    PathwayRun,
    Role,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.rules import outcome_model
from crealux_core.rules.forms import check_note
from crealux_core.rules.specs import PathwaySpec, Rules, StepSpec
from crealux_core.services import advice, events, policy
from crealux_core.services.definitions import definition_of
from crealux_core.services.delivery import wake
from crealux_core.services.errors import (
    AlreadyDone,
    CannotContinue,
    Conflict,
    Forbidden,
    InvalidInput,
)
from crealux_core.services.lookup import get_row
from crealux_core.services.policy import Action
from crealux_core.services.ports import Orchestrator


@dataclass(frozen=True)
class StepView:
    id: int
    participant_id: int
    participant_reference: str
    participant_name: str
    pathway_run_id: int
    step_key: str
    title: str
    seq: int
    status: StepStatus
    opened_at: datetime | None
    opens_at: datetime | None
    due_at: datetime | None
    completed_at: datetime | None
    organisation: str
    assignee_id: int | None

    def as_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "id": self.id,
            "participant_id": self.participant_id,
            "participant": self.participant_reference,
            "pathway_run_id": self.pathway_run_id,
            "step_key": self.step_key,
            "title": self.title,
            "status": self.status.value,
            "opened_at": iso(self.opened_at),
            "opens_at": iso(self.opens_at),
            "due_at": iso(self.due_at),
            "completed_at": iso(self.completed_at),
            "organisation": self.organisation,
            "assignee_id": self.assignee_id,
        }


def _may_see(user: User | None, step_run: StepRun, participant: Participant) -> bool:
    if user is None or user.role is Role.COORDINATOR:
        return True
    if user.role is Role.ADVISOR:
        return step_run.assignee_id == user.id or participant.advisor_id == user.id
    return step_run.organisation_id == user.organisation_id


def _may_complete(user: User, step_run: StepRun, step: StepSpec) -> bool:
    if user.role is Role.COORDINATOR:
        return True
    if step.role is Role.ADVISOR:
        return user.role is Role.ADVISOR and step_run.assignee_id == user.id
    return user.role is Role.PARTNER and step_run.organisation_id == user.organisation_id


def may_steer(user: User, participant: Participant) -> bool:
    """Skip, reassign, or change the plan: the coordinator, or the participant's own advisor."""
    return policy.can(user, Action.STEER_PARTICIPANT, participant)


def _title(rules: Rules, run: PathwayRun, step_key: str) -> str:
    spec = rules.pathway_version(run.pathway_key, run.pathway_version)
    step = spec.steps.get(step_key) if spec else None
    return step.title if step else step_key


def _view(
    rules: Rules,
    step_run: StepRun,
    run: PathwayRun,
    participant: Participant,
    org: Organisation,
    user: User | None,
) -> StepView:
    return StepView(
        id=step_run.id or 0,
        participant_id=participant.id or 0,
        participant_reference=participant.reference,
        participant_name=(
            policy.shown_name(user, participant) if user is not None else participant.full_name
        ),
        pathway_run_id=run.id or 0,
        step_key=step_run.step_key,
        title=_title(rules, run, step_run.step_key),
        seq=step_run.seq,
        status=step_run.status,
        opened_at=step_run.opened_at,
        opens_at=step_run.opens_at,
        due_at=step_run.due_at,
        completed_at=step_run.closed_at,
        organisation=org.name,
        assignee_id=step_run.assignee_id,
    )


def list_steps(
    *,
    session: Session,
    rules: Rules,
    user: User | None,
    participant_id: int | None = None,
    status: StepStatus | None = None,
    mine: bool = True,
) -> list[StepView]:
    """Return the steps a user may see, soonest due first.

    With `mine`, an advisor gets the steps assigned to them and a partner the steps of their
    organisation; `user=None` is the unrestricted view of scripted administration.
    """
    query = (
        select(StepRun, PathwayRun, Participant, Organisation)
        .join(PathwayRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
        .join(Participant, col(PathwayRun.participant_id) == col(Participant.id))
        .join(Organisation, col(StepRun.organisation_id) == col(Organisation.id))
        .order_by(col(StepRun.due_at), col(StepRun.id))
    )
    if participant_id is not None:
        query = query.where(Participant.id == participant_id)
    if status is not None:
        query = query.where(StepRun.status == status)
    if mine and user is not None and user.role is Role.ADVISOR:
        query = query.where(StepRun.assignee_id == user.id)
    if mine and user is not None and user.role is Role.PARTNER:
        query = query.where(StepRun.organisation_id == user.organisation_id)
    return [
        _view(rules, step_run, run, participant, org, user)
        for step_run, run, participant, org in session.exec(query).all()
        if _may_see(user, step_run, participant)
    ]


@dataclass(frozen=True)
class EventView:
    id: int
    kind: EventKind
    actor: str | None
    payload: dict[str, Any]
    note: str | None
    occurred_at: datetime
    seen_by_flow: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "actor": self.actor,
            "payload": self.payload,
            "note": self.note,
            "occurred_at": self.occurred_at.isoformat(),
            "seen_by_flow": self.seen_by_flow,
        }


def step_events(*, session: Session, step_run_id: int) -> list[EventView]:
    """Return the events about a step, oldest first, with who made them."""
    step_run = get_row(session, StepRun, step_run_id)
    run = get_row(session, PathwayRun, step_run.pathway_run_id)
    rows = session.exec(
        select(PathwayEvent, User)
        .join(User, col(PathwayEvent.actor_id) == col(User.id), isouter=True)
        .where(PathwayEvent.step_run_id == step_run_id)
        .order_by(col(PathwayEvent.id))
    ).all()
    return [
        EventView(
            id=event.id or 0,
            kind=event.kind,
            actor=actor.display_name if actor else None,
            payload=dict(event.payload),
            note=event.note,
            occurred_at=event.occurred_at,
            seen_by_flow=event.kind in SILENT_EVENT_KINDS
            or (run.acked_event_id or 0) >= (event.id or 0),
        )
        for event, actor in rows
    ]


@dataclass(frozen=True)
class StepForm:
    """A step as its page shows it: the view, its spec, the outcome model, its events."""

    view: StepView
    step: StepSpec
    model: type[BaseModel]
    events: list[EventView]
    may_complete: bool
    may_steer: bool
    may_correct: bool = False
    answers: dict[str, Any] | None = None  # the latest answers of a decided step
    advice: Advice | None = None  # what the orientation rules advise, on an open orientation
    advice_given: OrientationAdvice | None = None  # what was advised and decided, once decided

    @property
    def decision(self) -> EventView | None:
        return next((e for e in self.events if e.kind is EventKind.DECISION), None)


def _definition(session: Session, rules: Rules, run: PathwayRun) -> PathwaySpec:
    try:
        return definition_of(session=session, rules=rules, run=run)
    except Conflict as error:
        raise CannotContinue(str(error)) from None


def step_form(*, session: Session, rules: Rules, user: User, step_run_id: int) -> StepForm:
    """Return a step for its page; refuse a user who may not see it."""
    step_run = get_row(session, StepRun, step_run_id)
    run = get_row(session, PathwayRun, step_run.pathway_run_id)
    participant = get_row(session, Participant, run.participant_id)
    if not _may_see(user, step_run, participant):
        raise Forbidden("this step is not yours to see")
    step = _definition(session, rules, run).step(step_run.step_key)
    org = get_row(session, Organisation, step_run.organisation_id)
    is_open = step_run.status is StepStatus.OPEN
    is_current = step_run.status in (StepStatus.OPEN, StepStatus.SCHEDULED)
    history = step_events(session=session, step_run_id=step_run_id)
    latest = next(
        (e for e in reversed(history) if e.kind in (EventKind.DECISION, EventKind.CORRECTION)),
        None,
    )
    answers = None
    if latest is not None:
        answers = (
            dict(latest.payload.get("outcome", {}))
            if latest.kind is EventKind.CORRECTION
            else dict(latest.payload)
        )
    partner_own = (
        user.role is Role.PARTNER
        and step.role is Role.PARTNER
        and step_run.organisation_id == user.organisation_id
    )
    advised = rules.orientation is not None and rules.orientation.decided_step == step.key
    return StepForm(
        view=_view(rules, step_run, run, participant, org, user),
        step=step,
        model=outcome_model(step),
        events=history,
        may_complete=is_open and _may_complete(user, step_run, step),
        may_steer=is_current and may_steer(user, participant),
        may_correct=step_run.status is StepStatus.COMPLETED
        and latest is not None
        and (may_steer(user, participant) or partner_own),
        answers=answers,
        advice=advice.advice_for(session=session, rules=rules, step_run=step_run)
        if is_open and advised
        else None,
        advice_given=advice.recorded_advice(session=session, step_run_id=step_run_id)
        if advised
        else None,
    )


def _field_errors(error: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"]) or "form"
        if detail["type"] == "extra_forbidden":
            errors[field] = "unknown field"
        else:
            errors.setdefault(field, str(detail["msg"]))
    return errors


def clean_note(note: str | None) -> str | None:
    """Return a note stripped (None if empty); refuse one longer than NOTE_MAX_CHARS."""
    try:
        return check_note(note)
    except ValueError as error:
        raise InvalidInput({"note": str(error)}) from None


def validate_outcome(
    *, session: Session, form: StepForm, data: dict[str, Any], now: datetime
) -> BaseModel:
    """Validate answers against the step's form, dates against the participant's window."""
    participant = get_row(session, Participant, form.view.participant_id)
    context = {"enrolled_on": participant.enrolled_at.date(), "today": now.date()}
    try:
        return form.model.model_validate(data, context=context)
    except ValidationError as error:
        raise InvalidInput(_field_errors(error)) from None


def _already_done(session: Session, step_run_id: int) -> AlreadyDone:
    events_so_far = step_events(session=session, step_run_id=step_run_id)
    closing = next(
        (e for e in events_so_far if e.kind in (EventKind.DECISION, EventKind.SKIP)), None
    )
    step_run = get_row(session, StepRun, step_run_id)
    if closing is None:
        return AlreadyDone(
            f"step {step_run_id} is {step_run.status.value}", decided_by=None, decided_at=None
        )
    what = "decided" if closing.kind is EventKind.DECISION else "skipped"
    by = closing.actor or "the system"
    when = closing.occurred_at.isoformat(timespec="minutes")
    return AlreadyDone(
        f"step {step_run_id} was already {what} by {by} at {when}",
        decided_by=by,
        decided_at=when,
    )


@dataclass(frozen=True)
class Submitted:
    """What a submit did: the event, the step the pathway is on now, and if the run was woken."""

    pathway_run_id: int
    event_id: int
    current_step_id: int | None
    woken: bool


def submit_decision(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor: User,
    data: dict[str, Any],
    note: str | None = None,
    now: datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
) -> Submitted:
    """Validate and commit a decision with its transition, then wake the waiting run.

    Nothing is written if the answers are wrong. If the step was decided meanwhile (a second
    tab), the note is kept as a comment and AlreadyDone says by whom and when.
    """
    form = step_form(session=session, rules=rules, user=actor, step_run_id=step_run_id)
    text = clean_note(note)
    if form.view.status is not StepStatus.OPEN:
        raise _keep_note_and_refuse(session, step_run_id, actor, text, now)
    if not form.may_complete:
        raise Forbidden(f"{actor.username} may not complete step {step_run_id}")
    outcome = validate_outcome(session=session, form=form, data=data, now=now)
    try:
        recorded = events.decide(
            session=session,
            rules=rules,
            step_run_id=step_run_id,
            actor_id=actor.id or 0,
            outcome=outcome,
            note=text,
            now=now,
            dashboard_url=dashboard_url,
            on_decision=advice.recorder(rules),
        )
    except Conflict:
        raise _keep_note_and_refuse(session, step_run_id, actor, text, now) from None
    return after_commit(session, recorded, orchestrator)


def _keep_note_and_refuse(
    session: Session, step_run_id: int, actor: User, note: str | None, now: datetime
) -> AlreadyDone:
    session.rollback()
    if note:
        events.comment(
            session=session, step_run_id=step_run_id, actor_id=actor.id or 0, note=note, now=now
        )
    return _already_done(session, step_run_id)


def after_commit(
    session: Session, recorded: events.Recorded, orchestrator: Orchestrator | None
) -> Submitted:
    woken = orchestrator is not None and wake(
        session=session,
        pathway_run_id=recorded.event.pathway_run_id,
        event_id=recorded.event.id,
        orchestrator=orchestrator,
    )
    return Submitted(
        pathway_run_id=recorded.event.pathway_run_id,
        event_id=recorded.event.id or 0,
        current_step_id=recorded.current.id if recorded.current else None,
        woken=woken,
    )


def skip_step(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor: User,
    reason: str,
    now: datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
) -> Submitted:
    """Skip a current step with a written reason (the participant's advisor or the
    coordinator); the pathway goes on by the step's default way."""
    form = step_form(session=session, rules=rules, user=actor, step_run_id=step_run_id)
    text = clean_note(reason)
    if not form.may_steer:
        if form.view.status not in (StepStatus.OPEN, StepStatus.SCHEDULED):
            raise _keep_note_and_refuse(session, step_run_id, actor, text, now)
        raise Forbidden(f"{actor.username} may not skip step {step_run_id}")
    if not text:
        raise InvalidInput({"reason": "a skip needs a written reason"})
    try:
        recorded = events.skip(
            session=session,
            rules=rules,
            step_run_id=step_run_id,
            actor_id=actor.id or 0,
            reason=text,
            now=now,
            dashboard_url=dashboard_url,
        )
    except Conflict:
        raise _keep_note_and_refuse(session, step_run_id, actor, text, now) from None
    return after_commit(session, recorded, orchestrator)


def reassign_step(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor: User,
    assignee: User,
    note: str | None,
    now: datetime,
) -> Submitted:
    """Give a current step to a colleague (an advisor); recorded as an event."""
    form = step_form(session=session, rules=rules, user=actor, step_run_id=step_run_id)
    if not form.may_steer:
        raise Forbidden(f"{actor.username} may not reassign step {step_run_id}")
    if assignee.role is not Role.ADVISOR or not assignee.active:
        raise InvalidInput({"assignee": f"{assignee.username} is not an active advisor"})
    recorded = events.reassign(
        session=session,
        step_run_id=step_run_id,
        actor_id=actor.id or 0,
        assignee_id=assignee.id or 0,
        note=clean_note(note),
        now=now,
    )
    return Submitted(
        pathway_run_id=recorded.event.pathway_run_id,
        event_id=recorded.event.id or 0,
        current_step_id=step_run_id,
        woken=False,
    )


def step_json(*, session: Session, rules: Rules, user: User, step_run_id: int) -> dict[str, Any]:
    """Return a step with its state, its events and its form's JSON schema (`step show`)."""
    form = step_form(session=session, rules=rules, user=user, step_run_id=step_run_id)
    return {
        **form.view.as_json(),
        "may_complete": form.may_complete,
        "events": [event.as_json() for event in form.events],
        "form_schema": form.model.model_json_schema(),
    }
