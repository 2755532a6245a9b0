"""Deliver committed decisions to the flow runs that wait on them, and start unstarted pathways.

A decision is committed before it is delivered; whatever could not be delivered (server down, a
crash between commit and resume, a run not yet suspended) stays pending and `reconcile` delivers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from crealux_core.models import Decision, Participant, PathwayRun, PathwayStatus, StepRun
from crealux_core.services.lookup import get_row
from crealux_core.services.ports import Delivery, OrchestrationError, Orchestrator


def deliver_decision(
    *, session: Session, decision_id: int, orchestrator: Orchestrator, now: datetime
) -> bool:
    """Resume the run waiting on the decision's step; record the attempt; return True if done."""
    decision = get_row(session, Decision, decision_id)
    if decision.delivered_at is not None:
        return True
    step_run = get_row(session, StepRun, decision.step_run_id)
    if decision.applied_at is not None:  # the flow already took it (a replayed suspend)
        outcome, error = Delivery.DELIVERED, None
    elif step_run.flow_run_id is None:
        outcome, error = Delivery.NOT_WAITING, "no flow run waits on this step yet"
    else:
        try:
            outcome = orchestrator.resume_step(
                flow_run_id=step_run.flow_run_id,
                suspend_key=step_run.suspend_key,
                run_input={"decision_id": decision.id, "outcome": decision.outcome},
            )
            error = None if outcome is Delivery.DELIVERED else "the run is not waiting on this step"
        except OrchestrationError as failure:
            outcome, error = Delivery.NOT_WAITING, str(failure)[:500]
    decision.delivery_attempts += 1
    decision.last_delivery_error = error
    if outcome is Delivery.DELIVERED:
        decision.delivered_at = now
    session.add(decision)
    session.commit()
    return outcome is Delivery.DELIVERED


def start_pathway_run(
    *, session: Session, pathway_run_id: int, orchestrator: Orchestrator
) -> str | None:
    """Start the flow run of a pathway (idempotent); return its id, or None if unreachable."""
    run = get_row(session, PathwayRun, pathway_run_id)
    if run.flow_run_id is not None:
        return run.flow_run_id
    participant = get_row(session, Participant, run.participant_id)
    try:
        run.flow_run_id = orchestrator.start_pathway(
            pathway_run_id=pathway_run_id, participant_reference=participant.reference
        )
    except OrchestrationError:
        return None
    session.add(run)
    session.commit()
    return run.flow_run_id


@dataclass(frozen=True)
class Reconciled:
    started: int
    delivered: int
    pending: int


def reconcile(*, session: Session, orchestrator: Orchestrator, now: datetime) -> Reconciled:
    """Start pathways that have no flow run and deliver decisions that were not delivered."""
    unstarted = session.exec(
        select(PathwayRun.id).where(
            col(PathwayRun.flow_run_id).is_(None), PathwayRun.status == PathwayStatus.ACTIVE
        )
    ).all()
    started = sum(
        start_pathway_run(session=session, pathway_run_id=run_id, orchestrator=orchestrator)
        is not None
        for run_id in unstarted
        if run_id is not None
    )
    pending = session.exec(
        select(Decision.id).where(col(Decision.delivered_at).is_(None)).order_by(col(Decision.id))
    ).all()
    delivered = sum(
        deliver_decision(
            session=session, decision_id=decision_id, orchestrator=orchestrator, now=now
        )
        for decision_id in pending
        if decision_id is not None
    )
    return Reconciled(started=started, delivered=delivered, pending=len(pending) - delivered)
