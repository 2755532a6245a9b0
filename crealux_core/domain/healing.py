"""What the reconciler does with a pathway, given what Prefect says of its flow run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class RunType(StrEnum):
    """Prefect's state types, as the reconciler sees them."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"


@dataclass(frozen=True)
class RunState:
    type: RunType
    name: str
    pause_key: str | None
    since: datetime


class Remedy(StrEnum):
    NONE = "none"
    START = "start"  # no flow run yet
    WAKE = "wake"  # suspended on its wait with an event it has not seen: resume it
    REPLACE = "replace"  # dead, lost, or stalled: a new generation rebuilds from the database


DEAD = {RunType.COMPLETED, RunType.FAILED, RunType.CRASHED, RunType.CANCELLED, RunType.CANCELLING}
BUSY = {RunType.PENDING, RunType.RUNNING}


@dataclass(frozen=True)
class Diagnosis:
    remedy: Remedy
    reason: str


def diagnose(
    *,
    has_flow_run: bool,
    state: RunState | None,
    wait_key: str | None,
    needs_flow: bool,
    now: datetime,
    stall: timedelta,
    own_key: bool = False,
) -> Diagnosis:
    """Return what brings an active pathway's flow run back to waiting on its right key.

    `own_key`: the key the run is paused on is one of its own earlier waits; right after a
    resume the run replays it on its way to the next one, so that is not a reason to replace it
    (unless it lasts).
    """
    if not has_flow_run:
        return Diagnosis(Remedy.START, "no flow run")
    if state is None:
        return Diagnosis(Remedy.REPLACE, "flow run missing from Prefect")
    if state.type in DEAD:
        return Diagnosis(Remedy.REPLACE, f"flow run {state.name or state.type.value}")
    if state.type is RunType.PAUSED:
        if wait_key is None or state.pause_key != wait_key:
            if own_key and now - state.since <= stall:
                return Diagnosis(Remedy.NONE, f"replaying {state.pause_key}")
            return Diagnosis(Remedy.REPLACE, f"suspended on {state.pause_key}, not {wait_key}")
        if needs_flow:
            return Diagnosis(Remedy.WAKE, "an event was not delivered")
        return Diagnosis(Remedy.NONE, "waiting")
    if state.type in BUSY and now - state.since > stall:
        return Diagnosis(Remedy.REPLACE, f"{state.name or state.type.value} since {state.since}")
    return Diagnosis(Remedy.NONE, state.name or state.type.value)


def backoff(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """Return how long to wait before the next attempt after `attempts` failed ones."""
    delay: timedelta = base * (2 ** max(0, attempts - 1))
    return min(cap, delay)
