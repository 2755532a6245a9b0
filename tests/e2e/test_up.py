"""`crealux up` as a newcomer runs it: everything starts, the demo loads in seconds and its
pathways' flow runs catch up behind it, a decision moves a pathway on, Ctrl-C stops it all.

The fresh start itself is the session's `demo_up` fixture (conftest.py), which also measures
it (run with -s to see the numbers). A second start on the same data, with Prefect's database
lost in between, is in test_healing.py; each process killed in turn and restarted, in
test_launcher.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from crealux_core.models import Notification, NotificationStatus
from tests.e2e.conftest import (
    DEMO_PARTICIPANTS,
    DemoUp,
    all_waiting,
    answers,
    held_for_digest,
    pathway_waiting,
    wait_for,
)

pytestmark = pytest.mark.e2e


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status)


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def cli(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "crealux.cli", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_up_starts_everything_loads_the_demo_and_stops_on_ctrl_c(
    demo_up: DemoUp, tmp_path: Path
) -> None:
    up, runtime = demo_up.up, demo_up.runtime
    print(
        f"\ncrealux up on a fresh home: dashboard answering after {demo_up.dashboard_after:.1f} s,"
        f" every demo participant waiting on their step after {demo_up.waiting_after:.1f} s"
    )
    assert "démonstration" in demo_up.first_output  # a fresh home: demo mode
    assert f"http://127.0.0.1:{up.ports['dashboard']}" in demo_up.first_output
    assert f"http://127.0.0.1:{up.ports['prefect']}" in demo_up.first_output
    demo_up.ensure_running(tmp_path / "up.log")  # if test_healing.py ran first and stopped it
    try:
        assert http_status(up.dashboard_health) == 200
        assert http_status(f"http://127.0.0.1:{up.ports['prefect']}/api/health") == 200

        # the demo was committed before any process started; the flow runs caught up behind
        waiting = wait_for(
            lambda: all_waiting(runtime, demo_up.pathways),
            timeout=60,
            what="every demo pathway to wait on its step",
            interval=0.5,
        )
        assert {
            "first_reception",
            "self_evaluation_entry",
            "socio_professional_assessment",
            "orientation",
            "post_creation_3m",  # scheduled: three months after the creation
        } <= {w.step_key for w in waiting.values()}
        listed = {
            status: cli(up.env, "step", "list", "--status", status, "--as", "coordination")
            for status in ("open", "scheduled")
        }
        assert [step["step_key"] for step in listed["scheduled"]] == ["post_creation_3m"]
        participants = {step["participant_id"] for steps in listed.values() for step in steps}
        assert len(participants) == DEMO_PARTICIPANTS

        # every message so far was mailed once, to the demo mail sink, except those to an
        # organisation that asked for a daily digest: they wait, pending, for it
        held = held_for_digest(runtime)

        def mailed() -> tuple[int, int] | None:
            with runtime.session() as session:
                notifications = session.exec(select(Notification)).all()
            waiting_for_digest = [n for n in notifications if held(n)]
            mailed_now = [n for n in notifications if not held(n)]
            if not all(n.status is NotificationStatus.SENT for n in mailed_now):
                return None
            if len(up.mail_subjects()) != len(mailed_now):
                return None
            for notification in waiting_for_digest:  # unless the day's digest carried it
                assert notification.status is NotificationStatus.PENDING or notification.digest_id
            return len(mailed_now), len(waiting_for_digest)

        mails, for_the_digest = wait_for(mailed, timeout=60, what="the demo's emails")
        assert len(set(up.mail_subjects())) == mails
        assert for_the_digest >= 1  # the training centre's, whose inbox is shared

        # a decision through the CLI: the next step is open at once, the run catches up
        first = next(w for w in waiting.values() if w.step_key == "first_reception")
        done = cli(
            up.env,
            *("step", "complete", str(first.step_id), "--as", "coordination"),
            *("--data", json.dumps(answers("first_reception"))),
        )
        assert done["woken"] is True and done["current_step_id"] != first.step_id

        def moved_on() -> bool:
            now = pathway_waiting(runtime, first.pathway_run_id)
            return (
                now is not None
                and now.step_id == done["current_step_id"]
                and now.wait_id > first.wait_id
            )

        wait_for(moved_on, timeout=60, what="the run to wait on the next step")
    finally:
        code = up.stop()
    assert code == 0, up.output()
    assert "arrêté." in up.output()
    assert all(port_closed(port) for port in up.ports.values())
