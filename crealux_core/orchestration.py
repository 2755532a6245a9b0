"""The one place in crealux_core that talks to Prefect: start, resume and find pathway runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from crealux_core.services.ports import Delivery, OrchestrationError

PATHWAY_FLOW = "pathway"
PATHWAY_DEPLOYMENT = "pathway"
PATHWAY_TAG = "crealux-pathway"


def pathway_run_tag(pathway_run_id: int) -> str:
    return f"pathway-run-{pathway_run_id}"


@dataclass(frozen=True)
class WaitingRun:
    flow_run_id: str
    pathway_run_id: int | None
    pause_key: str | None


class PrefectOrchestrator:
    """Orchestrator port over a Prefect server's API."""

    def __init__(self, api_url: str, *, timeout: float = 10.0) -> None:
        self.api_url = api_url
        self.timeout = timeout

    def _client(self) -> SyncPrefectClient:
        return SyncPrefectClient(self.api_url, httpx_settings={"timeout": self.timeout})

    def start_pathway(self, *, pathway_run_id: int, participant_reference: str) -> str:
        """Create the pathway's flow run once: the idempotency key is the pathway run's id."""
        try:
            with self._client() as client:
                deployment = client.read_deployment_by_name(f"{PATHWAY_FLOW}/{PATHWAY_DEPLOYMENT}")
                flow_run = client.create_flow_run_from_deployment(
                    deployment.id,
                    parameters={"pathway_run_id": pathway_run_id},
                    name=f"pathway-{pathway_run_id}",
                    tags=[PATHWAY_TAG, pathway_run_tag(pathway_run_id), participant_reference],
                    idempotency_key=pathway_run_tag(pathway_run_id),
                )
        except ObjectNotFound as error:
            raise OrchestrationError(
                "the pathway deployment is not registered: is the runner started?"
            ) from error
        except (httpx.HTTPError, PrefectHTTPStatusError, RuntimeError) as error:
            raise OrchestrationError(f"Prefect at {self.api_url}: {error}") from error
        return str(flow_run.id)

    def resume_step(
        self, *, flow_run_id: str, suspend_key: str, run_input: dict[str, Any]
    ) -> Delivery:
        """Resume the run only if it waits on exactly this step's key."""
        try:
            with self._client() as client:
                flow_run = client.read_flow_run(UUID(flow_run_id))
                state = flow_run.state
                if state is None or not state.is_paused():
                    return Delivery.NOT_WAITING
                if state.state_details.pause_key != suspend_key:
                    return Delivery.NOT_WAITING
                response = client.resume_flow_run(UUID(flow_run_id), run_input=run_input)
        except ObjectNotFound as error:
            raise OrchestrationError(f"flow run {flow_run_id} does not exist") from error
        except (httpx.HTTPError, PrefectHTTPStatusError, RuntimeError) as error:
            raise OrchestrationError(f"Prefect at {self.api_url}: {error}") from error
        if response.status is SetStateStatus.ACCEPT:
            return Delivery.DELIVERED
        reason = getattr(response.details, "reason", "") or response.status.value
        raise OrchestrationError(f"Prefect refused to resume {flow_run_id}: {reason}")

    def deployments_ready(self) -> bool:
        """Return True once the pathway deployment is registered (the runner has started)."""
        try:
            with self._client() as client:
                client.read_deployment_by_name(f"{PATHWAY_FLOW}/{PATHWAY_DEPLOYMENT}")
        except (ObjectNotFound, httpx.HTTPError, PrefectHTTPStatusError, RuntimeError):
            return False
        return True

    def run_state(self, flow_run_id: str) -> tuple[str, str | None]:
        """Return the state name of a flow run and the key it is paused on, if any."""
        try:
            with self._client() as client:
                state = client.read_flow_run(UUID(flow_run_id)).state
        except (httpx.HTTPError, PrefectHTTPStatusError, RuntimeError) as error:
            raise OrchestrationError(f"Prefect at {self.api_url}: {error}") from error
        if state is None:
            return "Unknown", None
        return state.name or state.type.value, state.state_details.pause_key

    def waiting_runs(self) -> list[WaitingRun]:
        """Return the pathway runs suspended on a step."""
        try:
            with self._client() as client:
                runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        tags=FlowRunFilterTags(all_=[PATHWAY_TAG]),
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.PAUSED])
                        ),
                    ),
                    deployment_filter=DeploymentFilter(
                        name=DeploymentFilterName(any_=[PATHWAY_DEPLOYMENT])
                    ),
                )
        except (httpx.HTTPError, PrefectHTTPStatusError, RuntimeError) as error:
            raise OrchestrationError(f"Prefect at {self.api_url}: {error}") from error
        return [
            WaitingRun(
                flow_run_id=str(run.id),
                pathway_run_id=run.parameters.get("pathway_run_id"),
                pause_key=run.state.state_details.pause_key if run.state else None,
            )
            for run in runs
        ]
