"""After an event is committed: start the pathway's flow run, or wake the run waiting on it.

Both are network calls, so both happen after the commit and may fail: nothing is lost then, the
event is in the database and the reconciler catches the flow run up later.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from crealux_core.models import PathwayRun
from crealux_core.services.lookup import get_row
from crealux_core.services.ports import Delivery, OrchestrationError, Orchestrator
from crealux_core.services.progress import current_wait

log = logging.getLogger(__name__)


def start_flow(*, session: Session, pathway_run_id: int, orchestrator: Orchestrator) -> str | None:
    """Start the flow run of a pathway's current generation (idempotent); None if unreachable."""
    run = get_row(session, PathwayRun, pathway_run_id)
    if run.flow_run_id is not None:
        return run.flow_run_id
    try:
        flow_run_id = orchestrator.start_pathway(
            pathway_run_id=pathway_run_id, generation=run.generation
        )
    except OrchestrationError as error:
        log.warning("pathway run %s not started: %s", pathway_run_id, error)
        return None
    session.refresh(run)
    if run.flow_run_id is None:
        run.flow_run_id = flow_run_id
        session.add(run)
        session.commit()
    return run.flow_run_id


def wake(
    *, session: Session, pathway_run_id: int, event_id: int | None, orchestrator: Orchestrator
) -> bool:
    """Resume the pathway's flow run if it waits; return True if it was resumed."""
    run = get_row(session, PathwayRun, pathway_run_id)
    wait = current_wait(session=session, pathway_run_id=pathway_run_id)
    if run.flow_run_id is None or wait is None:
        return False
    try:
        outcome = orchestrator.resume(
            flow_run_id=run.flow_run_id, key=wait.key, run_input={"event_id": event_id}
        )
    except OrchestrationError as error:
        log.info("pathway run %s not woken (the reconciler will): %s", pathway_run_id, error)
        return False
    return outcome is Delivery.DELIVERED
