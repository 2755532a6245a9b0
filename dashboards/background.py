"""Calls to Prefect that a page does not wait for.

When a submit returns, its event and the transition it causes are committed: the next step is
open whatever Prefect does. Waking the waiting flow run (or starting a new participant's) is then
only a nudge, so it goes to a small thread pool and the page answers at once; if Prefect is slow,
down or refuses, nothing is lost: the reconciler sees the event the flow has not acknowledged and
delivers it. The threads only talk to Prefect (and, to start a flow, open their own database
session); none touches Streamlit.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from crealux_core.runtime import Runtime
from crealux_core.services.delivery import start_flow, wake

log = logging.getLogger(__name__)

# One pool per dashboard process: a module is imported once, whatever the reruns of the pages.
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="crealux-nudge")


def wake_later(runtime: Runtime, pathway_run_id: int, event_id: int) -> None:
    """Wake the pathway's waiting flow run from a background thread, as `delivery.wake` does
    in line (tried again for about 3 s while the run is between two passes); if it cannot,
    the maintainer delivers the event within its grace."""
    _POOL.submit(_wake, runtime, pathway_run_id, event_id)


def _wake(runtime: Runtime, pathway_run_id: int, event_id: int) -> None:
    try:
        with runtime.session() as session:
            woken = wake(
                session=session,
                pathway_run_id=pathway_run_id,
                event_id=event_id,
                orchestrator=runtime.orchestrator,
            )
    except Exception:
        log.exception("pathway run %s: not woken (the maintainer will)", pathway_run_id)
        return
    log.info("pathway run %s woken: %s", pathway_run_id, woken)


def start_flow_later(runtime: Runtime, pathway_run_id: int) -> None:
    """Start a new pathway's flow run from a background thread (idempotent; the reconciler
    starts it if this fails)."""
    _POOL.submit(_start_flow, runtime, pathway_run_id)


def _start_flow(runtime: Runtime, pathway_run_id: int) -> None:
    try:
        with runtime.session() as session:
            start_flow(
                session=session, pathway_run_id=pathway_run_id, orchestrator=runtime.orchestrator
            )
    except Exception:
        log.exception("pathway run %s: flow run not started (the reconciler will)", pathway_run_id)
