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
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from crealux_core.domain.healing import RunState
from crealux_core.runtime import Runtime
from crealux_core.services.delivery import start_flow
from crealux_core.services.ports import Delivery, OrchestrationError, Orchestrator

log = logging.getLogger(__name__)

# One pool per dashboard process: a module is imported once, whatever the reruns of the pages.
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="crealux-nudge")


class BackgroundOrchestrator:
    """An Orchestrator whose `resume` is sent from a background thread.

    `resume` returns at once with `Delivery.QUEUED`, so a service reports the run as not woken
    (`Submitted.woken` is False): the page does not say whether Prefect answered, because
    nothing the user entered depends on it. The thread tries again for about 3 s when the run
    is between two passes or Prefect answers an error (as `delivery.wake` does); after that the
    maintainer delivers the event. Everything else is delegated as it is.
    """

    RETRY_DELAYS = (0.2, 0.4, 0.8, 1.6)

    def __init__(self, inner: Orchestrator) -> None:
        self.inner = inner

    def resume(self, *, flow_run_id: str, key: str, run_input: dict[str, Any]) -> Delivery:
        _POOL.submit(self._resume, flow_run_id, key, dict(run_input))
        return Delivery.QUEUED

    def _resume(self, flow_run_id: str, key: str, run_input: dict[str, Any]) -> None:
        for delay in (0.0, *self.RETRY_DELAYS):
            time.sleep(delay)
            try:
                outcome = self.inner.resume(flow_run_id=flow_run_id, key=key, run_input=run_input)
            except OrchestrationError as error:  # the maintainer delivers it later
                log.info("flow run %s not woken yet: %s", flow_run_id, error)
                if error.passing:
                    continue
                return
            except Exception as error:
                log.info("flow run %s not woken: %s", flow_run_id, error)
                return
            if outcome is not Delivery.NOT_WAITING:
                log.info("flow run %s: %s", flow_run_id, outcome.value)
                return
        log.info("flow run %s not woken (the maintainer will)", flow_run_id)

    def start_pathway(self, *, pathway_run_id: int, generation: int) -> str:
        return self.inner.start_pathway(pathway_run_id=pathway_run_id, generation=generation)

    def describe(self, flow_run_ids: Iterable[str]) -> dict[str, RunState]:
        return self.inner.describe(flow_run_ids)

    def cancel(self, *, flow_run_id: str) -> None:
        self.inner.cancel(flow_run_id=flow_run_id)


def orchestrator(runtime: Runtime) -> BackgroundOrchestrator:
    """Return the runtime's orchestrator, with resumes sent in the background."""
    return BackgroundOrchestrator(runtime.orchestrator)


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
