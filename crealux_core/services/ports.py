"""What the services need from the outside world, as protocols (Prefect and Apprise adapters)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from crealux_core.rules.specs import OrganisationSpec


class OrchestrationError(Exception):
    """The orchestrator could not be reached or refused the request."""


class Delivery(StrEnum):
    DELIVERED = "delivered"
    NOT_WAITING = "not_waiting"  # the run does not wait on that step (yet): try again later


class Orchestrator(Protocol):
    def start_pathway(self, *, pathway_run_id: int, participant_reference: str) -> str:
        """Start (or find, if already started) the flow run of a pathway; return its id."""
        ...

    def resume_step(
        self, *, flow_run_id: str, suspend_key: str, run_input: dict[str, Any]
    ) -> Delivery:
        """Resume a run waiting on `suspend_key` with `run_input`."""
        ...


@dataclass(frozen=True)
class SendResult:
    ok: bool
    detail: str = ""


class Notifier(Protocol):
    def send(self, *, organisation: OrganisationSpec, title: str, body: str) -> SendResult:
        """Send a message to every address of an organisation."""
        ...
