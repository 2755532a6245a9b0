"""What the services need from the outside world, as protocols (Prefect and Apprise adapters)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from crealux_core.domain.healing import RunState
from crealux_core.rules.specs import OrganisationSpec


class OrchestrationError(Exception):
    """The orchestrator could not be reached or refused the request.

    `passing` is True when the orchestrator answered with an error of its own that may pass in
    a moment (an HTTP 5xx: Prefect's SQLite database locked under load), or refused a resume
    (the run was resumed by another caller meanwhile: reading it again tells); False when it is
    unreachable or the run does not exist: then trying again at once is pointless."""

    def __init__(self, message: str, *, passing: bool = False) -> None:
        super().__init__(message)
        self.passing = passing


class Delivery(StrEnum):
    DELIVERED = "delivered"
    NOT_WAITING = "not_waiting"  # the run does not wait on that key (yet)
    WILL_PASS = "will_pass"  # scheduled or pending: its next pass sees every committed event


class Orchestrator(Protocol):
    def start_pathway(self, *, pathway_run_id: int, generation: int) -> str:
        """Start (or find, if already started) a pathway's flow run of this generation."""
        ...

    def resume(self, *, flow_run_id: str, key: str, run_input: dict[str, Any]) -> Delivery:
        """Resume a run suspended on `key` with `run_input` (opaque ids only)."""
        ...

    def describe(self, flow_run_ids: Iterable[str]) -> dict[str, RunState]:
        """Return the state of each flow run that exists (missing ones are left out)."""
        ...

    def cancel(self, *, flow_run_id: str) -> None:
        """Cancel a flow run that has been replaced (best effort)."""
        ...


@dataclass(frozen=True)
class SendResult:
    ok: bool
    detail: str = ""


class Notifier(Protocol):
    def send(
        self, *, organisation: OrganisationSpec, title: str, body: str, html: str | None = None
    ) -> SendResult:
        """Send a message to every address of an organisation: the HTML to e-mail addresses
        (when given), the plain text to other channels."""
        ...
