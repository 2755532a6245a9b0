"""The runner's kick (flows/serve.py): a resume or a start sends one UDP byte, and the runner
polls Prefect at once instead of at its next regular poll. Real sockets; the runner is a
stand-in that counts polls (the real one is driven in tests/e2e, whose runner polls only every
60 s, so that each step there goes through a kick)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import pytest

from crealux_core.orchestration import PrefectOrchestrator
from flows import serve


@dataclass
class CountingRunner:
    started: bool = True
    full_until: float = 0.0  # loop time until which every slot is busy
    polls: list[float] = field(default_factory=list)

    async def _get_and_submit_flow_runs(self) -> None:
        self.polls.append(asyncio.get_running_loop().time())

    def has_slots_available(self) -> bool:
        return asyncio.get_running_loop().time() >= self.full_until


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_listener(runner: CountingRunner, port: int, actions: object) -> None:
    listener = asyncio.create_task(serve._listen_for_kicks(runner, "127.0.0.1", port))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.1)  # bound
        await actions  # type: ignore[misc]
    finally:
        listener.cancel()


@pytest.fixture(autouse=True)
def short_follow_ups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve, "FOLLOW_UPS", (0.0, 0.1, 0.2))


def test_a_burst_of_kicks_from_the_orchestrator_makes_one_round_of_polls() -> None:
    port = free_udp_port()
    orchestrator = PrefectOrchestrator("http://127.0.0.1:9/api", kick=("127.0.0.1", port))
    runner = CountingRunner()

    async def actions() -> None:
        for _ in range(5):
            orchestrator.kick()
        await asyncio.sleep(0.6)
        assert len(runner.polls) == 3  # at once, then the two follow-ups: one round
        orchestrator.kick()
        await asyncio.sleep(0.6)
        assert len(runner.polls) == 6

    asyncio.run(run_listener(runner, port, actions()))


def test_a_full_runner_polls_again_as_soon_as_a_slot_frees() -> None:
    port = free_udp_port()
    orchestrator = PrefectOrchestrator("http://127.0.0.1:9/api", kick=("127.0.0.1", port))
    runner = CountingRunner()

    async def actions() -> None:
        runner.full_until = asyncio.get_running_loop().time() + 1.5  # a pass ends in 1.5 s
        orchestrator.kick()
        await asyncio.sleep(0.6)
        assert len(runner.polls) == 3  # the round; then only local checks while full
        await asyncio.sleep(2.0)
        assert len(runner.polls) == 4  # one poll when the slot freed, then nothing
        assert runner.polls[-1] >= runner.full_until

    asyncio.run(run_listener(runner, port, actions()))


def test_nothing_is_polled_before_the_runner_has_started_nor_without_a_kick() -> None:
    port = free_udp_port()
    runner = CountingRunner(started=False)

    async def actions() -> None:
        await asyncio.sleep(0.3)
        assert runner.polls == []  # no kick: the listener costs nothing
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"k", ("127.0.0.1", port))
        await asyncio.sleep(0.5)
        assert runner.polls == []  # the runner's own first poll, at start, finds the run

    asyncio.run(run_listener(runner, port, actions()))


def test_no_kick_is_sent_when_prefect_is_remote() -> None:
    from crealux_core.settings import Settings

    assert Settings(prefect_port=4321).kick_address == ("127.0.0.1", 4321)
    assert Settings(prefect_port=4321, runner_kick_port=4400).kick_address == ("127.0.0.1", 4400)
    assert Settings(prefect_api_url="http://prefect.example/api").kick_address is None
