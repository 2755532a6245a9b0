"""Serve the project's deployments from one process: the embedded default of `crealux up`.

The runner polls Prefect for runs to start every `runner_poll_seconds` (15 s by default: each
poll is a request the server answers, which is most of an idle instance's CPU). So that a
resumed or new pathway run does not wait for the next poll, whoever resumes or starts one sends
a one-byte UDP datagram ("kick") to 127.0.0.1 at the runner's kick port, and the runner polls at
once. A kick lost (UDP, or the runner restarting) costs one poll interval, nothing else.

At scale, the same flows are deployed from prefect.yaml to a process work pool instead, whose
workers poll on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
from typing import cast

import anyio
from prefect.client.orchestration import get_client
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound, TerminationSignal
from prefect.runner import Runner

from crealux_core.settings import load_settings
from flows.pathway import pathway
from flows.reconcile import reconcile

log = logging.getLogger("crealux.runner")


def deployments() -> list[RunnerDeployment]:
    return [
        cast(RunnerDeployment, pathway.to_deployment(name="pathway", tags=["crealux-pathway"])),
        # No schedule: `crealux maintain` reconciles without a new process a minute; this
        # deployment is there to run a full pass by hand from the Prefect UI.
        cast(RunnerDeployment, reconcile.to_deployment(name="reconcile")),
    ]


async def _poll_now(runner: Runner) -> None:
    if not runner.started:
        return
    try:
        await runner._get_and_submit_flow_runs()  # type: ignore[no-untyped-call]
    except Exception:  # the regular poll is still there
        log.exception("an early poll failed")


# After a kick, poll at once, then again 1 s and 3 s later: a run resumed while the process of
# its previous pass is still exiting (it suspended a moment ago) is skipped by the first poll.
FOLLOW_UPS = (0.0, 1.0, 2.0)


async def _poll_when_kicked(runner: Runner, kicked: asyncio.Event) -> None:
    """Poll on each kick (a burst makes one round), and while the runner is full
    (`runner_limit` passes at once), as soon as a pass ends: local checks once a second, no
    request while nothing changes."""
    while True:
        await kicked.wait()
        kicked.clear()
        for delay in FOLLOW_UPS:
            await asyncio.sleep(delay)
            await _poll_now(runner)
        while runner.started and not runner.has_slots_available():
            await asyncio.sleep(1.0)
            if runner.has_slots_available():
                await _poll_now(runner)


async def _listen_for_kicks(runner: Runner, host: str, port: int) -> None:
    """Receive kicks (one-byte UDP datagrams) and have the runner poll for them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as error:
        log.warning("no kicks on udp %s:%s (%s): polling only", host, port, error)
        sock.close()
        return
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    kicked = asyncio.Event()
    poller = asyncio.create_task(_poll_when_kicked(runner, kicked))
    try:
        while True:
            await loop.sock_recv(sock, 16)
            kicked.set()
    finally:
        poller.cancel()
        sock.close()


# How often the runner checks that Prefect still knows its deployments.
DEPLOYMENT_CHECK_SECONDS = 30.0
LOST_DEPLOYMENTS_EXIT = 75  # the supervisor restarts the runner, which registers them again


async def until_deployments_lost(names: list[str], every: float) -> None:
    """Return once Prefect no longer knows a deployment this runner serves (its database was
    deleted or reset while running). Prefect unreachable is not a loss: keep checking."""
    while True:
        await asyncio.sleep(every)
        try:
            async with get_client() as client:
                for name in names:
                    await client.read_deployment_by_name(name)
        except ObjectNotFound:
            log.warning("Prefect no longer knows the deployments (database reset?): restarting")
            return
        except Exception as error:  # unreachable, restarting: the next check will tell
            log.info("deployments not checked: %s", error)


async def aserve_deployments(
    served: list[RunnerDeployment], *, limit: int | None, kick: tuple[str, int] | None
) -> bool:
    """Serve until interrupted; return True if Prefect lost the deployments meanwhile."""
    runner = Runner(pause_on_shutdown=False, limit=limit)
    for deployment in served:
        added = runner.add_deployment(deployment)  # a coroutine here: async context
        assert inspect.isawaitable(added)
        await added
    names = [f"{d.flow_name}/{d.name}" for d in served]
    lost = False

    async def watch(scope: anyio.CancelScope) -> None:
        nonlocal lost
        await until_deployments_lost(names, DEPLOYMENT_CHECK_SECONDS)
        lost = True
        scope.cancel()

    async with anyio.create_task_group() as group:
        if kick is not None:
            group.start_soon(_listen_for_kicks, runner, *kick)
        group.start_soon(watch, group.cancel_scope)
        await runner.start()
        group.cancel_scope.cancel()
    return lost


def serve_deployments(*, limit: int | None = None) -> None:
    """Register the deployments and run their flow runs until interrupted."""
    settings = load_settings()
    lost = False
    with contextlib.suppress(KeyboardInterrupt, TerminationSignal):  # Ctrl-C, SIGTERM
        served = deployments()  # built outside the loop: there, to_deployment is a coroutine
        lost = asyncio.run(aserve_deployments(served, limit=limit, kick=settings.kick_address))
    if lost:  # the supervisor starts a new runner, which registers them again
        raise SystemExit(LOST_DEPLOYMENTS_EXIT)


if __name__ == "__main__":
    serve_deployments(limit=load_settings().runner_limit)
