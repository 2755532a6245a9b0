"""What a pathway flow run does at each pass: open the step it waits on, apply decisions.

Each function is idempotent, keyed by database ids: the flow re-runs from the top after every
resume, and a second pass opens nothing twice and queues no notification twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from crealux_core.domain import messages
from crealux_core.domain.pathway import due_at, next_step
from crealux_core.models import (
    Decision,
    Notification,
    Participant,
    PathwayRun,
    PathwayStatus,
    StepRun,
)
from crealux_core.rules import outcome_model
from crealux_core.rules.specs import PathwaySpec, Role, Rules, StepSpec
from crealux_core.services.errors import Conflict
from crealux_core.services.lookup import get_row
from crealux_core.services.organisations import organisation_by_key


def pathway_spec(rules: Rules, run: PathwayRun) -> PathwaySpec:
    """Return the definition a pathway run started with; refuse a changed version."""
    spec = rules.pathways.get(run.pathway_key)
    if spec is None:
        raise Conflict(f"pathway {run.pathway_key!r} is no longer in the rules")
    if spec.version != run.pathway_version:
        raise Conflict(
            f"pathway run {run.id} started on {run.pathway_key} v{run.pathway_version}, the rules"
            f" now hold v{spec.version}: migrate the run on purpose before it goes on"
        )
    return spec


def _latest_step(session: Session, pathway_run_id: int) -> StepRun | None:
    query = (
        select(StepRun)
        .where(StepRun.pathway_run_id == pathway_run_id)
        .order_by(col(StepRun.seq).desc())
    )
    return session.exec(query).first()


def _open_step(
    *,
    session: Session,
    run: PathwayRun,
    step: StepSpec,
    seq: int,
    flow_run_id: str | None,
    dashboard_url: str,
    now: datetime,
) -> StepRun:
    """Add a step run and its notification to the session (the caller commits both at once)."""
    participant = get_row(session, Participant, run.participant_id)
    organisation = organisation_by_key(session=session, key=step.concerns)
    step_run = StepRun(
        pathway_run_id=run.id or 0,
        seq=seq,
        step_key=step.key,
        opened_at=now,
        due_at=due_at(step, now),
        assignee_id=participant.advisor_id if step.role is Role.ADVISOR else None,
        organisation_id=organisation.id or 0,
        flow_run_id=flow_run_id,
    )
    session.add(step_run)
    session.flush()
    message = messages.step_opened(
        step=step,
        participant_reference=participant.reference,
        due_at=step_run.due_at,
        dashboard_url=dashboard_url,
    )
    session.add(
        Notification(
            event_key=f"step-opened:{step_run.id}",
            organisation_id=organisation.id or 0,
            pathway_run_id=run.id,
            title=message.title,
            body=message.body,
            created_at=now,
        )
    )
    return step_run


def open_current_step(
    *,
    session: Session,
    rules: Rules,
    pathway_run_id: int,
    flow_run_id: str | None,
    dashboard_url: str,
    now: datetime,
) -> StepRun | None:
    """Return the step the pathway waits on, opening the first one if none is; None when ended."""
    run = get_row(session, PathwayRun, pathway_run_id)
    if run.status is PathwayStatus.COMPLETED:
        return None
    pathway = pathway_spec(rules, run)
    step_run = _latest_step(session, pathway_run_id)
    if step_run is None:
        step_run = _open_step(
            session=session,
            run=run,
            step=pathway.step(pathway.start),
            seq=1,
            flow_run_id=flow_run_id,
            dashboard_url=dashboard_url,
            now=now,
        )
    elif step_run.flow_run_id != flow_run_id:
        step_run.flow_run_id = flow_run_id  # this run is now the one that waits on it
        session.add(step_run)
    if run.flow_run_id != flow_run_id:
        run.flow_run_id = flow_run_id
        session.add(run)
    session.commit()
    return step_run


def apply_decision(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    decision_id: int,
    flow_run_id: str | None,
    dashboard_url: str,
    now: datetime,
) -> StepRun | None:
    """Move the pathway past a decided step: open the next step, or end the pathway."""
    decision = get_row(session, Decision, decision_id)
    if decision.step_run_id != step_run_id:
        raise Conflict(
            f"decision {decision_id} belongs to step {decision.step_run_id}, not {step_run_id}"
        )
    step_run = get_row(session, StepRun, step_run_id)
    if decision.applied_at is not None:
        return _latest_step(session, step_run.pathway_run_id)
    run = get_row(session, PathwayRun, step_run.pathway_run_id)
    pathway = pathway_spec(rules, run)
    step = pathway.step(step_run.step_key)
    outcome = outcome_model(step).model_validate(decision.outcome)
    following = next_step(pathway, step, outcome.model_dump())
    decision.applied_at = now
    decision.delivered_at = decision.delivered_at or now  # it has reached the flow either way
    session.add(decision)
    opened: StepRun | None = None
    if following is None:
        run.status, run.completed_at = PathwayStatus.COMPLETED, now
        session.add(run)
    else:
        opened = _open_step(
            session=session,
            run=run,
            step=following,
            seq=step_run.seq + 1,
            flow_run_id=flow_run_id,
            dashboard_url=dashboard_url,
            now=now,
        )
    session.commit()
    return opened


def step_spec_of(*, session: Session, rules: Rules, step_run: StepRun) -> StepSpec:
    """Return the spec of a step run, from the pathway version its run started with."""
    run = get_row(session, PathwayRun, step_run.pathway_run_id)
    return pathway_spec(rules, run).step(step_run.step_key)


def committed_decision(*, session: Session, step_run_id: int) -> int | None:
    """Return the id of a decision committed on this step but not yet applied, if any.

    A flow pass that finds one applies it straight from the database instead of suspending:
    the decision may have been committed while the run was still on its way to suspend.
    """
    return session.exec(
        select(Decision.id).where(
            Decision.step_run_id == step_run_id, col(Decision.applied_at).is_(None)
        )
    ).first()
