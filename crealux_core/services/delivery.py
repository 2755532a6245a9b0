"""After an event is committed: start the pathway's flow run, or wake the run waiting on it.

Both are network calls, so both happen after the commit and may fail: nothing is lost then, the
event is in the database and the reconciler catches the flow run up later.
"""

from __future__ import annotations

import logging
import time

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
    *,
    session: Session,
    pathway_run_id: int,
    event_id: int | None,
    orchestrator: Orchestrator,
    retry_delays: tuple[float, ...] = (0.2, 0.4, 0.8, 1.6),
) -> bool:
    """Resume the pathway's flow run if it waits; return True once the flow has the event:
    resumed with it, or a pass in flight has acknowledged it.

    A run caught between two passes (still running, about to suspend) or a Prefect server that
    answers an error for a moment (its SQLite database locked under load) is tried again after
    each of `retry_delays` (3 s in all: about one pass); after that the maintainer takes over,
    within its grace. Callers that must not wait (a user's page) call this in the background."""
    for delay in (0.0, *retry_delays):
        if delay:
            time.sleep(delay)
        run = get_row(session, PathwayRun, pathway_run_id)
        session.refresh(run)
        wait = current_wait(session=session, pathway_run_id=pathway_run_id)
        if run.flow_run_id is None or wait is None:
            return False
        if run.acked_event_id == run.last_event_id:
            return True  # a pass in flight has seen the event already: the flow has it
        try:
            outcome = orchestrator.resume(
                flow_run_id=run.flow_run_id, key=wait.key, run_input={"event_id": event_id}
            )
        except OrchestrationError as error:
            if not error.passing:  # unreachable, or no such run: the maintainer will see
                log.info("pathway run %s not woken: %s", pathway_run_id, error)
                return False
            log.info("pathway run %s not woken yet: %s", pathway_run_id, error)
            continue
        if outcome in (Delivery.DELIVERED, Delivery.WILL_PASS):
            return True
    log.info("pathway run %s not woken (the maintainer will, within its grace)", pathway_run_id)
    return False
