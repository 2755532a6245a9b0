"""`crealux up` keeps the instance up: each of its processes, killed in turn, comes back, and
Ctrl-C still stops everything, even when it was started with SIGINT ignored."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from crealux_core.services.processes import ProcessState, ProcessStatus, read_process_status
from tests.conftest import clean_environ, free_port

pytestmark = pytest.mark.e2e

KILLED_IN_TURN = ("mail-sink", "runner", "prefect-server", "dashboard")


def status_of(home: Path, name: str) -> ProcessStatus | None:
    return next((s for s in read_process_status(home=home) if s.name == name), None)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_until(
    what: str, check: Callable[[], bool], up: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if up.poll() is not None:
            raise AssertionError(f"crealux up exited {up.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout} s:\n{log.read_text()}")
        time.sleep(0.3)


def test_up_restarts_each_process_killed_and_still_stops_on_ctrl_c(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("prefect", "dashboard", "smtp")}
    home = tmp_path / "home"
    env = {
        **clean_environ(),
        "CREALUX_HOME": str(home),
        "CREALUX_PREFECT_PORT": str(ports["prefect"]),
        "CREALUX_DASHBOARD_PORT": str(ports["dashboard"]),
        "CREALUX_SMTP_PORT": str(ports["smtp"]),
    }
    health = {
        "prefect-server": f"http://127.0.0.1:{ports['prefect']}/api/health",
        "dashboard": f"http://127.0.0.1:{ports['dashboard']}/_stcore/health",
    }
    log = tmp_path / "up.log"
    up = subprocess.Popen(
        [sys.executable, "-m", "crealux.cli", "up", "--no-demo"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        # Started as a script's background job is: with SIGINT ignored. Ctrl-C must still stop
        # it and every child (it once ignored it, leaving its children running).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        wait_until("Ctrl-C line", lambda: "Ctrl-C" in log.read_text(), up, log, timeout=240)
        for name in KILLED_IN_TURN:
            before = status_of(home, name)
            assert before is not None and before.state == ProcessState.RUNNING, before
            assert before.pid is not None
            os.kill(before.pid, signal.SIGKILL)

            def back(name: str = name, before: ProcessStatus = before) -> bool:
                now = status_of(home, name)
                return (
                    now is not None
                    and now.state == ProcessState.RUNNING
                    and now.restarts > before.restarts
                    and now.pid != before.pid
                )

            wait_until(f"{name} restarted", back, up, log, timeout=90)
            if name in health:
                assert answers(health[name]), f"{name} is running but does not answer"
            assert f"  {name} arrêté (code -9), redémarrage dans 1 s" in log.read_text()
            assert "redémarrage dans 1 s" in (home / "logs" / f"{name}.log").read_text()
            assert up.poll() is None

        def all_running() -> bool:
            statuses = read_process_status(home=home)
            return {s.name for s in statuses} >= set(KILLED_IN_TURN) and all(
                s.state == ProcessState.RUNNING for s in statuses
            )

        # a process that died with the Prefect server (the runner may) is back too
        wait_until("every process running", all_running, up, log, timeout=60)
        assert all(answers(url) for url in health.values())
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=60)
    assert code == 0, log.read_text()
    assert {s.state for s in read_process_status(home=home)} == {ProcessState.STOPPED}
    assert all(port_closed(port) for port in ports.values())
