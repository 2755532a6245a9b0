"""The advisor's and partner's side of steps: the worklist, a step's form, completing it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from crealux_core.models import (
    Decision,
    Organisation,
    Participant,
    PathwayRun,
    Role,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.rules import outcome_model
from crealux_core.rules.specs import Rules, StepSpec
from crealux_core.services.delivery import deliver_decision
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput
from crealux_core.services.lookup import get_row
from crealux_core.services.ports import Orchestrator
from crealux_core.services.progress import pathway_spec


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
    opened_at: datetime
    due_at: datetime
    completed_at: datetime | None
    organisation: str
    assignee_id: int | None
    flow_run_id: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "participant_id": self.participant_id,
            "participant": self.participant_reference,
            "pathway_run_id": self.pathway_run_id,
            "step_key": self.step_key,
            "title": self.title,
            "status": self.status.value,
            "opened_at": self.opened_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "organisation": self.organisation,
            "flow_run_id": self.flow_run_id,
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


def _view(
    rules: Rules, step_run: StepRun, run: PathwayRun, participant: Participant, org: Organisation
) -> StepView:
    spec = rules.pathways.get(run.pathway_key)
    step = spec.steps.get(step_run.step_key) if spec else None
    return StepView(
        id=step_run.id or 0,
        participant_id=participant.id or 0,
        participant_reference=participant.reference,
        participant_name=participant.full_name,
        pathway_run_id=run.id or 0,
        step_key=step_run.step_key,
        title=step.title if step else step_run.step_key,
        seq=step_run.seq,
        status=step_run.status,
        opened_at=step_run.opened_at,
        due_at=step_run.due_at,
        completed_at=step_run.completed_at,
        organisation=org.name,
        assignee_id=step_run.assignee_id,
        flow_run_id=step_run.flow_run_id,
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
        _view(rules, step_run, run, participant, org)
        for step_run, run, participant, org in session.exec(query).all()
        if _may_see(user, step_run, participant)
    ]


@dataclass(frozen=True)
class StepForm:
    """A step as its form shows it: the view, its spec, the outcome model, the decision if any."""

    view: StepView
    step: StepSpec
    model: type[BaseModel]
    decision: Decision | None
    decided_by: str | None
    may_complete: bool


def step_form(*, session: Session, rules: Rules, user: User, step_run_id: int) -> StepForm:
    step_run = get_row(session, StepRun, step_run_id)
    run = get_row(session, PathwayRun, step_run.pathway_run_id)
    participant = get_row(session, Participant, run.participant_id)
    if not _may_see(user, step_run, participant):
        raise Forbidden("this step is not yours to see")
    step = pathway_spec(rules, run).step(step_run.step_key)
    org = get_row(session, Organisation, step_run.organisation_id)
    decision = session.exec(select(Decision).where(Decision.step_run_id == step_run_id)).first()
    actor = session.get(User, decision.actor_id) if decision else None
    return StepForm(
        view=_view(rules, step_run, run, participant, org),
        step=step,
        model=outcome_model(step),
        decision=decision,
        decided_by=actor.display_name if actor else None,
        may_complete=step_run.status is StepStatus.OPEN and _may_complete(user, step_run, step),
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


def record_decision(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor: User,
    data: dict[str, Any],
    note: str | None,
    now: datetime,
) -> Decision:
    """Validate and commit a decision on an open step; nothing is written if anything is wrong."""
    form = step_form(session=session, rules=rules, user=actor, step_run_id=step_run_id)
    if form.view.status is not StepStatus.OPEN:
        raise Conflict(f"step {step_run_id} is already completed")
    if not form.may_complete:
        raise Forbidden(f"{actor.username} may not complete step {step_run_id}")
    try:
        outcome = form.model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(_field_errors(error)) from None
    step_run = get_row(session, StepRun, step_run_id)
    step_run.status, step_run.completed_at = StepStatus.COMPLETED, now
    decision = Decision(
        step_run_id=step_run_id,
        actor_id=actor.id or 0,
        outcome=outcome.model_dump(mode="json"),
        note=(note or "").strip() or None,
        decided_at=now,
    )
    session.add(step_run)
    session.add(decision)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"step {step_run_id} was completed by someone else") from None
    session.refresh(decision)
    return decision


def complete_step(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor: User,
    data: dict[str, Any],
    note: str | None = None,
    now: datetime,
    orchestrator: Orchestrator,
) -> tuple[Decision, bool]:
    """Commit a decision, then deliver it to the waiting run; return it and if it was delivered.

    A decision that cannot be delivered now stays committed and pending for `reconcile`.
    """
    decision = record_decision(
        session=session,
        rules=rules,
        step_run_id=step_run_id,
        actor=actor,
        data=data,
        note=note,
        now=now,
    )
    delivered = deliver_decision(
        session=session, decision_id=decision.id or 0, orchestrator=orchestrator, now=now
    )
    return decision, delivered
