"""What the reconciler does with each state Prefect can report of a pathway's flow run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crealux_core.domain.healing import Remedy, RunState, RunType, backoff, diagnose

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
STALL = timedelta(seconds=90)


def state(kind: RunType, *, key: str | None = None, age: float = 1) -> RunState:
    return RunState(
        type=kind, name=kind.value.title(), pause_key=key, since=NOW - timedelta(seconds=age)
    )


def remedy(found: RunState | None, *, needs_flow: bool = False, has_run: bool = True) -> Remedy:
    return diagnose(
        has_flow_run=has_run,
        state=found,
        wait_key="wait-7",
        needs_flow=needs_flow,
        now=NOW,
        stall=STALL,
    ).remedy


def test_a_pathway_without_a_flow_run_is_started() -> None:
    assert remedy(None, has_run=False) is Remedy.START


@pytest.mark.parametrize(
    "kind",
    [RunType.FAILED, RunType.CRASHED, RunType.CANCELLED, RunType.CANCELLING, RunType.COMPLETED],
)
def test_a_dead_flow_run_is_replaced(kind: RunType) -> None:
    assert remedy(state(kind)) is Remedy.REPLACE


def test_a_flow_run_lost_with_prefects_database_is_replaced() -> None:
    assert remedy(None) is Remedy.REPLACE


def test_a_run_waiting_on_its_key_is_left_alone_or_woken_for_an_unseen_event() -> None:
    assert remedy(state(RunType.PAUSED, key="wait-7")) is Remedy.NONE
    assert remedy(state(RunType.PAUSED, key="wait-7"), needs_flow=True) is Remedy.WAKE


def test_a_run_waiting_on_another_key_is_replaced() -> None:
    assert remedy(state(RunType.PAUSED, key="step-3")) is Remedy.REPLACE


def test_a_run_replaying_its_own_last_wait_is_left_alone_unless_it_lasts() -> None:
    """The states are read before the waits: the run may have moved on in between."""

    def replaying(age: float) -> Remedy:
        return diagnose(
            has_flow_run=True,
            state=state(RunType.PAUSED, key="wait-6", age=age),
            wait_key="wait-7",
            needs_flow=False,
            now=NOW,
            stall=STALL,
            own_key=True,
        ).remedy

    assert replaying(age=1) is Remedy.NONE
    assert replaying(age=600) is Remedy.REPLACE


@pytest.mark.parametrize("kind", [RunType.PENDING, RunType.RUNNING])
def test_a_busy_run_is_replaced_only_once_it_has_stalled(kind: RunType) -> None:
    assert remedy(state(kind, age=30), needs_flow=True) is Remedy.NONE
    assert remedy(state(kind, age=91), needs_flow=True) is Remedy.REPLACE


def test_a_scheduled_run_waits_for_the_runner() -> None:
    assert remedy(state(RunType.SCHEDULED, age=3600), needs_flow=True) is Remedy.NONE


def test_attempts_back_off_up_to_a_cap() -> None:
    base, cap = timedelta(seconds=10), timedelta(minutes=30)
    delays = [backoff(n, base=base, cap=cap).total_seconds() for n in range(1, 10)]
    assert delays[:4] == [10, 20, 40, 80]
    assert delays[-1] == 1800
