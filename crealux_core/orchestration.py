"""The one place in crealux_core that talks to Prefect: start, resume, describe, cancel runs.

Only opaque ids reach Prefect: run names and tags carry the pathway run's id, parameters its id
and generation, resume inputs an event id.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.responses import SetStateStatus
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Cancelled

from crealux_core.domain.healing import RunState, RunType
from crealux_core.services.ports import Delivery, OrchestrationError

PATHWAY_FLOW = "pathway"
PATHWAY_DEPLOYMENT = "pathway"
PATHWAY_TAG = "crealux-pathway"
log = logging.getLogger(__name__)
_ERRORS = (httpx.HTTPError, PrefectHTTPStatusError, RuntimeError, OSError)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Return one TLS context for every client: loading the CA bundle costs ~60 ms each time."""
    return ssl.create_default_context()


def pathway_run_tag(pathway_run_id: int) -> str:
    return f"pathway-run-{pathway_run_id}"


def idempotency_key(pathway_run_id: int, generation: int) -> str:
    """Return the key of one generation of a pathway's flow run: a replacement gets a new one."""
    return f"pathway-run-{pathway_run_id}-g{generation}"


class PrefectOrchestrator:
    """Orchestrator port over a Prefect server's API."""

    def __init__(
        self,
        api_url: str,
        *,
        timeout: float = 10.0,
        retries: int = 0,
        kick: tuple[str, int] | None = None,
    ) -> None:
        self.api_url = api_url
        self.timeout = timeout
        self.retries = retries
        self.kick_address = kick

    def kick(self) -> None:
        """Tell the local runner to poll now (flows/serve.py): a run was resumed or created.
        One UDP datagram, sent after the fact; lost or unheard, the next poll finds the run."""
        if self.kick_address is None:
            return
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(b"k", self.kick_address)
        except OSError as error:
            log.debug("runner not kicked: %s", error)

    @contextmanager
    def _client(self) -> Iterator[SyncPrefectClient]:
        """Yield a client that fails at once when Prefect is down (no connection retries: the
        caller has committed already, the reconciler tries again later, a user must not wait)."""
        verify = _tls_context()
        transport = httpx.HTTPTransport(retries=self.retries, verify=verify)
        settings = {"timeout": self.timeout, "transport": transport, "verify": verify}
        with SyncPrefectClient(self.api_url, httpx_settings=settings) as client:
            yield client

    def _failure(self, error: BaseException) -> OrchestrationError:
        passing = isinstance(error, PrefectHTTPStatusError) and error.response.status_code >= 500
        return OrchestrationError(f"Prefect at {self.api_url}: {error}", passing=passing)

    def start_pathway(self, *, pathway_run_id: int, generation: int) -> str:
        """Create the flow run of a pathway's generation once (idempotency key)."""
        try:
            with self._client() as client:
                deployment = client.read_deployment_by_name(f"{PATHWAY_FLOW}/{PATHWAY_DEPLOYMENT}")
                flow_run = client.create_flow_run_from_deployment(
                    deployment.id,
                    parameters={"pathway_run_id": pathway_run_id, "generation": generation},
                    name=f"pathway-{pathway_run_id}",
                    tags=[PATHWAY_TAG, pathway_run_tag(pathway_run_id)],
                    idempotency_key=idempotency_key(pathway_run_id, generation),
                )
        except ObjectNotFound as error:
            raise OrchestrationError(
                "the pathway deployment is not registered: is the runner started?"
            ) from error
        except _ERRORS as error:
            raise self._failure(error) from error
        if flow_run.state is not None and flow_run.state.is_scheduled():
            self.kick()
        return str(flow_run.id)

    def resume(self, *, flow_run_id: str, key: str, run_input: dict[str, Any]) -> Delivery:
        """Resume the run only if it is suspended on exactly this key."""
        try:
            with self._client() as client:
                state = client.read_flow_run(UUID(flow_run_id)).state
                if state is not None and (state.is_scheduled() or state.is_pending()):
                    if state.is_scheduled():
                        self.kick()
                    return Delivery.WILL_PASS  # resumed already, or about to start
                if state is None or not state.is_paused():
                    log.info("flow run %s not resumed: it is %s", flow_run_id, state and state.name)
                    return Delivery.NOT_WAITING
                if state.state_details.pause_key != key:
                    log.info(
                        "flow run %s not resumed: it waits on %s, not %s",
                        flow_run_id,
                        state.state_details.pause_key,
                        key,
                    )
                    return Delivery.NOT_WAITING
                response = client.resume_flow_run(UUID(flow_run_id), run_input=run_input)
        except ObjectNotFound as error:
            raise OrchestrationError(f"flow run {flow_run_id} does not exist") from error
        except _ERRORS as error:
            raise self._failure(error) from error
        if response.status is SetStateStatus.ACCEPT:
            self.kick()
            return Delivery.DELIVERED
        # Refused: most often the run was resumed by someone else between the read above and
        # this call (the maintainer delivering the same event after its grace, under load): the
        # caller reads the run again rather than giving up.
        reason = getattr(response.details, "reason", "") or response.status.value
        raise OrchestrationError(f"Prefect refused to resume {flow_run_id}: {reason}", passing=True)

    def describe(self, flow_run_ids: Iterable[str]) -> dict[str, RunState]:
        """Return the state of each existing flow run among `flow_run_ids`, 200 per request."""
        ids = [UUID(flow_run_id) for flow_run_id in flow_run_ids]
        states: dict[str, RunState] = {}
        try:
            with self._client() as client:
                for start in range(0, len(ids), 200):
                    batch = ids[start : start + 200]
                    runs = client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=batch)),
                        limit=len(batch),
                    )
                    for run in runs:
                        if run.state is None:
                            continue
                        states[str(run.id)] = RunState(
                            type=RunType(run.state.type.value),
                            name=run.state.name or run.state.type.value,
                            pause_key=run.state.state_details.pause_key,
                            since=run.state.timestamp,
                        )
        except _ERRORS as error:
            raise self._failure(error) from error
        return states

    def cancel(self, *, flow_run_id: str) -> None:
        """Force a replaced run into Cancelled, so that the runner stops it if it runs."""
        try:
            with self._client() as client:
                client.set_flow_run_state(UUID(flow_run_id), Cancelled(), force=True)
        except ObjectNotFound:
            return
        except _ERRORS as error:
            raise self._failure(error) from error

    def deployments_ready(self) -> bool:
        """Return True once the pathway deployment is registered (the runner has started)."""
        try:
            with self._client() as client:
                client.read_deployment_by_name(f"{PATHWAY_FLOW}/{PATHWAY_DEPLOYMENT}")
        except (ObjectNotFound, *_ERRORS):
            return False
        return True

    def run_state(self, flow_run_id: str) -> tuple[str, str | None]:
        """Return the state name of a flow run and the key it is paused on, if any."""
        state = self.describe([flow_run_id]).get(flow_run_id)
        if state is None:
            return "Missing", None
        return state.name, state.pause_key
