"""Measure the time from submitting a step to the next step being open and its email sent.

Starts a real instance at the embedded default (Prefect server on SQLite, one runner serving the
deployments, SQLite application database) plus an SMTP server that timestamps what it receives,
enrolls participants, then for each sample completes the first step through the same service as
the dashboard and waits for (a) the next step to be open in the database and (b) its email.

    python benchmarks/step_latency.py --samples 20 --poll 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from crealux.demo import ensure_reference_data
from crealux.launcher import Supervisor, instance_env, start_prefect_server, start_runner
from crealux_core.clock import utcnow
from crealux_core.db import migrate
from crealux_core.models import Gender, ParticipantCreate, StepStatus
from crealux_core.runtime import Runtime
from crealux_core.services.participants import enroll_participant
from crealux_core.services.steps import complete_step, list_steps
from crealux_core.services.users import get_user
from crealux_core.settings import Settings

FIRST_RECEPTION = {
    "meeting_on": "2026-11-20",
    "consent_given": True,
    "referred_by": "self",
    "expectation": "creation",
}


class Inbox:
    """SMTP handler that remembers when each subject arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        from email import policy

        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.arrivals.append((time.perf_counter(), str(message["Subject"])))
        return "250 OK"

    def arrival(self, needle: str) -> float | None:
        with self.lock:
            return next((at for at, subject in self.arrivals if needle in subject), None)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(probe: Any, timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(what)


def open_step(runtime: Runtime, participant_id: int) -> Any:
    with runtime.session() as session:
        steps = list_steps(
            session=session,
            rules=runtime.rules,
            user=None,
            participant_id=participant_id,
            status=StepStatus.OPEN,
        )
    return steps[0] if steps else None


def measure(samples: int, poll: int, home: Path) -> dict[str, Any]:
    settings = Settings(
        home=home,
        prefect_port=free_port(),
        dashboard_port=free_port(),
        smtp_port=free_port(),
        runner_poll_seconds=poll,
    )
    env = instance_env(settings)
    os.environ.update(env)
    migrate(settings.app_database_url)
    runtime = Runtime(settings)
    ensure_reference_data(runtime)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=settings.smtp_port)
    controller.start()
    supervisor = Supervisor(log_dir=home / "logs", env=env)
    started = time.perf_counter()
    try:
        start_prefect_server(supervisor, settings)
        start_runner(supervisor, settings)
        startup = time.perf_counter() - started
        participants = []
        with runtime.session() as session:
            advisor = get_user(session=session, username="conseillere")
            for number in range(samples):
                participant, run = enroll_participant(
                    session=session,
                    rules=runtime.rules,
                    data=ParticipantCreate(
                        first_name=f"Bench{number}", last_name="Mark", gender=Gender.FEMALE
                    ),
                    advisor=advisor,
                    now=utcnow(),
                    orchestrator=runtime.orchestrator,
                )
                participants.append((participant.id or 0, run.flow_run_id or ""))
        rows = []
        for participant_id, flow_run_id in participants:
            reference = f"P-{participant_id:05d}"

            def suspended_on_first(pid: int = participant_id, run: str = flow_run_id) -> Any:
                step = open_step(runtime, pid)
                if step is None:
                    return None
                state, key = runtime.orchestrator.run_state(run)
                return step if (state, key) == ("Suspended", f"step-{step.id}") else None

            step = wait(suspended_on_first, 300, "first suspend", interval=0.2)
            t0 = time.perf_counter()
            with runtime.session() as session:
                _, delivered = complete_step(
                    session=session,
                    rules=runtime.rules,
                    step_run_id=step.id,
                    actor=get_user(session=session, username="conseillere"),
                    data=FIRST_RECEPTION,
                    now=utcnow(),
                    orchestrator=runtime.orchestrator,
                )
            t_submitted = time.perf_counter()
            assert delivered, "the decision was not delivered"
            wait(
                lambda pid=participant_id: (
                    getattr(open_step(runtime, pid), "step_key", None)
                    == "socio_professional_assessment"
                ),
                120,
                "next step",
            )
            t_open = time.perf_counter()
            t_mail = wait(
                lambda ref=reference: inbox.arrival(f"Bilan socioprofessionnel - {ref}"),
                120,
                "email",
            )
            rows.append(
                {
                    "submit_s": t_submitted - t0,
                    "next_step_open_s": t_open - t0,
                    "email_s": t_mail - t0,
                    "total_s": max(t_open, t_mail) - t0,
                }
            )
            print(f"  {reference}: " + ", ".join(f"{k}={v:.2f}" for k, v in rows[-1].items()))
    finally:
        supervisor.stop_all()
        controller.stop()
    totals = sorted(row["total_s"] for row in rows)
    return {
        "samples": len(rows),
        "runner_poll_seconds": poll,
        "startup_s": round(startup, 2),
        "median_total_s": round(statistics.median(totals), 3),
        "p90_total_s": round(totals[int(0.9 * (len(totals) - 1))], 3),
        "min_total_s": round(totals[0], 3),
        "max_total_s": round(totals[-1], 3),
        "median_submit_s": round(statistics.median(r["submit_s"] for r in rows), 3),
        "median_next_step_open_s": round(statistics.median(r["next_step_open_s"] for r in rows), 3),
        "median_email_s": round(statistics.median(r["email_s"] for r in rows), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--poll", type=int, nargs="+", default=[1], help="runner poll seconds")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/step_latency.json"))
    args = parser.parse_args()
    results = []
    for poll in args.poll:
        with tempfile.TemporaryDirectory(prefix="crealux-bench-") as home:
            print(f"runner poll {poll} s, {args.samples} samples")
            results.append(measure(args.samples, poll, Path(home)))
            print(json.dumps(results[-1], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
