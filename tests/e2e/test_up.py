"""`crealux up` as a newcomer runs it: everything starts, demo data loads, Ctrl-C stops it all,
and a second start reuses the data."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import clean_environ, free_port
from tests.e2e.test_pathway_e2e import FIRST_RECEPTION

pytestmark = pytest.mark.e2e


def start_up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "crealux.cli", "up"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_for_line(log: Path, process: subprocess.Popen[bytes], needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if needle in text:
            return text
        if process.poll() is not None:
            raise AssertionError(f"crealux up exited {process.returncode}:\n{text}")
        time.sleep(0.5)
    raise AssertionError(f"no {needle!r} after {timeout} s:\n{log.read_text()}")


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status)


def port_closed(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=60)


def cli(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "crealux.cli", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def open_steps(env: dict[str, str]) -> list[dict]:
    return cli(env, "step", "list", "--status", "open")


def test_up_starts_everything_loads_the_demo_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("prefect", "dashboard", "smtp")}
    env = {
        **clean_environ(),
        "CREALUX_HOME": str(tmp_path / "home"),
        "CREALUX_PREFECT_PORT": str(ports["prefect"]),
        "CREALUX_DASHBOARD_PORT": str(ports["dashboard"]),
        "CREALUX_SMTP_PORT": str(ports["smtp"]),
    }
    log = tmp_path / "up.log"
    process = start_up(env, log)
    try:
        output = wait_for_line(log, process, "Ctrl-C", timeout=420)
        assert f"http://127.0.0.1:{ports['dashboard']}" in output
        assert f"http://127.0.0.1:{ports['prefect']}" in output
        assert http_status(f"http://127.0.0.1:{ports['dashboard']}/_stcore/health") == 200
        assert http_status(f"http://127.0.0.1:{ports['prefect']}/api/health") == 200
        steps = open_steps(env)
        assert len({step["participant_id"] for step in steps}) == 12
        assert {"first_reception", "socio_professional_assessment", "orientation"} <= {
            step["step_key"] for step in steps
        }
        assert len(list((tmp_path / "home" / "mail").glob("*.eml"))) >= 12
    finally:
        code = stop(process)
    assert code == 0
    assert all(port_closed(port) for port in ports.values())

    log_again = tmp_path / "up-again.log"
    process = start_up(env, log_again)
    try:
        output = wait_for_line(log_again, process, "Ctrl-C", timeout=300)
        assert "démonstration" not in output  # the data was reused, not loaded again
        assert {step["id"] for step in open_steps(env)} == {step["id"] for step in steps}
        # a pathway suspended before the restart still moves on
        waiting = next(step for step in steps if step["step_key"] == "first_reception")
        completed = cli(
            env,
            "step",
            "complete",
            str(waiting["id"]),
            "--as",
            "conseillere",
            "--data",
            json.dumps(FIRST_RECEPTION),
        )
        assert completed["delivered"] is True
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            keys = {
                s["step_key"]
                for s in open_steps(env)
                if s["participant_id"] == waiting["participant_id"]
            }
            if keys == {"socio_professional_assessment"}:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the pathway did not move on after the restart: {keys}")
    finally:
        assert stop(process) == 0
