"""Cohort: a training session of N participants (50 by default) closes; how long until every
one of their pathways waits on its next step.

On the real components, as tests/e2e/conftest.py and benchmarks/step_latency.py start them: a
Prefect server on SQLite, the runner serving the deployments (kicked, polling as the product
does), the maintainer as `crealux up` runs it (it re-delivers a wake Prefect lost), an SMTP
server, and the application database (SQLite; `--database-url postgresql://...` for another).

Setup (not timed): N participants enrolled and walked to the training step in the database,
their flow runs started and waited for until each is suspended on the training step; a session
of Écoconstruction (Le Trusquin) with N places, everyone enrolled, two days of attendance.

Timed: `close_session` as the partner closes it (each pathway decided in its own transaction,
its flow run woken after each commit, as the CLI does), then until every pathway's flow run has
acknowledged its decision and is suspended on the wait of `self_evaluation_mid`. Printed: the
time the closing call took, and the time until all N wait (the number the issue asks for),
with when each pathway got there (p50, p95, max).

    .venv/bin/python benchmarks/cohort.py [--participants 50] [--timeout 600]

Appends a JSON line to benchmarks/results/cohort.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchkit import free_port, machine, summary, wait_until_load_below, write_result

TRAINING, NEXT = "training", "self_evaluation_mid"
WALK = ("first_reception", "self_evaluation_entry", "socio_professional_assessment", "orientation")


def say(line: str) -> None:
    print(line, flush=True)


class Bench:
    def __init__(self, home: Path, database_url: str | None, with_maintainer: bool) -> None:
        from crealux.demo import ensure_reference_data
        from crealux.launcher import Supervisor, instance_env
        from crealux_core.clock import utcnow
        from crealux_core.db import migrate
        from crealux_core.runtime import Runtime
        from crealux_core.services.definitions import register_definitions
        from crealux_core.settings import REPO_RULES_DIR, Settings

        self.settings = Settings(
            home=home,
            database_url=database_url,
            rules_dir=REPO_RULES_DIR,
            prefect_port=free_port(),
            dashboard_port=free_port(),
            smtp_port=free_port(),
        )
        self.env = instance_env(self.settings)
        os.environ.update(self.env)  # the Prefect client of this process, the rules' ${...}
        migrate(self.settings.app_database_url)
        self.runtime = Runtime(self.settings)
        ensure_reference_data(self.runtime)
        with self.runtime.session() as session:
            register_definitions(session=session, rules=self.runtime.rules, now=utcnow())
        self.supervisor = Supervisor(log_dir=home / "logs", env=self.env, echo=say)
        self.with_maintainer = with_maintainer
        self.controller: Any = None

    def start(self) -> None:
        from crealux.launcher import start_maintainer, start_prefect_server, start_runner
        from tests.smtp import start_smtp

        _, self.controller = start_smtp(self.settings.smtp_port)
        start_prefect_server(self.supervisor, self.settings)
        start_runner(self.supervisor, self.settings)
        if self.with_maintainer:
            start_maintainer(self.supervisor, self.settings)

    def stop(self) -> None:
        try:
            self.supervisor.stop_all()
        finally:
            if self.controller is not None:
                self.controller.stop()
            if "engine" in self.runtime.__dict__:
                self.runtime.engine.dispose()

    def prepare(self, count: int) -> list[int]:
        """Enroll `count` participants and walk them to the training step (committed, no
        Prefect); start their flow runs; return their pathway run ids."""
        from crealux.demo import demo_answers, start_flows
        from crealux_core.clock import utcnow
        from crealux_core.models import Gender, ParticipantCreate
        from crealux_core.services.events import current_step
        from crealux_core.services.participants import enroll_participant
        from crealux_core.services.steps import submit_decision
        from crealux_core.services.users import get_user

        runs = []
        with self.runtime.session() as session:
            advisor = get_user(session=session, username="conseillere")
            for number in range(count):
                _, run = enroll_participant(
                    session=session,
                    rules=self.runtime.rules,
                    data=ParticipantCreate(
                        first_name=f"Cohorte{number}", last_name="Essai", gender=Gender.FEMALE
                    ),
                    advisor=advisor,
                    now=utcnow(),
                    orchestrator=None,
                    dashboard_url=self.settings.dashboard_url,
                )
                for step_key in WALK:
                    step = current_step(session, run.id or 0)
                    assert step is not None and step.step_key == step_key, step
                    data = demo_answers(step_key, utcnow().date(), "training")
                    if step_key == "orientation":
                        data["route"] = "training"
                    submit_decision(
                        session=session,
                        rules=self.runtime.rules,
                        step_run_id=step.id or 0,
                        actor=advisor,
                        data=data,
                        now=utcnow(),
                        orchestrator=None,
                        dashboard_url=self.settings.dashboard_url,
                    )
                runs.append(run.id or 0)
        started = start_flows(self.runtime, runs, self.runtime.orchestrator)
        assert started == count, f"{started} of {count} flow runs started"
        return runs

    def waiting_on(self, runs: list[int], step_key: str) -> set[int]:
        """The pathways whose flow run has acknowledged every event and is suspended on the
        wait of their current step, which is `step_key` (one Prefect request for all)."""
        from crealux_core.models import PathwayRun
        from crealux_core.services.events import current_step
        from crealux_core.services.ports import OrchestrationError
        from crealux_core.services.progress import current_wait

        keys: dict[str, tuple[int, str]] = {}
        with self.runtime.session() as session:
            for run_id in runs:
                run = session.get(PathwayRun, run_id)
                step = current_step(session, run_id)
                wait = current_wait(session=session, pathway_run_id=run_id)
                if run is None or step is None or wait is None or run.flow_run_id is None:
                    continue
                if step.step_key != step_key or run.acked_event_id != run.last_event_id:
                    continue
                keys[run.flow_run_id] = (run_id, wait.key)
        try:
            states = self.runtime.orchestrator.describe(list(keys)) if keys else {}
        except OrchestrationError:
            return set()
        return {
            run_id
            for flow_run_id, (run_id, key) in keys.items()
            if (state := states.get(flow_run_id)) is not None
            and state.name == "Suspended"
            and state.pause_key == key
        }

    def wait_all(
        self, runs: list[int], step_key: str, timeout: float, started: float | None = None
    ) -> dict[int, float]:
        """Wait until every pathway waits on `step_key`; return when each got there (seconds
        after `started`)."""
        reached: dict[int, float] = {}
        deadline = time.monotonic() + timeout
        while len(reached) < len(runs):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(reached)} of {len(runs)} wait on {step_key}")
            now = time.monotonic()
            for run_id in self.waiting_on([r for r in runs if r not in reached], step_key):
                reached[run_id] = now - (started or now)
            time.sleep(0.2)
        return reached

    def cohort(self, runs: list[int]) -> int:
        """A session with a place for each, everyone enrolled, two days attended."""
        from crealux_core.clock import local_today, utcnow
        from crealux_core.models import PathwayRun, Presence
        from crealux_core.services import training
        from crealux_core.services.users import get_user

        start = local_today(utcnow())
        rules = self.runtime.rules
        with self.runtime.session() as session:
            partner = get_user(session=session, username="trusquin")
            advisor = get_user(session=session, username="conseillere")
            view = training.create_session(
                session=session,
                rules=rules,
                user=partner,
                organisation_key="le-trusquin",
                offer_key="eco-construction",
                starts_on=start,
                ends_on=start + timedelta(days=1),
                days=[start, start + timedelta(days=1)],
                capacity=len(runs),
                place="Barvaux",
                now=utcnow(),
                hours_per_day=7,
            )
            for run_id in runs:
                run = session.get(PathwayRun, run_id)
                assert run is not None
                training.enrol(
                    session=session,
                    rules=rules,
                    user=advisor,
                    training_session_id=view.id,
                    participant_id=run.participant_id,
                    now=utcnow(),
                    dashboard_url=self.settings.dashboard_url,
                )
            entries = training.roster(
                session=session, rules=rules, user=partner, training_session_id=view.id
            ).entries
            for day in (start, start + timedelta(days=1)):
                training.record_attendance(
                    session=session,
                    user=partner,
                    training_session_id=view.id,
                    held_on=day,
                    marks=[training.Mark(e.enrolment_id, Presence.PRESENT) for e in entries],
                    now=utcnow(),
                )
        return view.id

    def close(self, training_session_id: int) -> Any:
        from crealux_core.clock import utcnow
        from crealux_core.services import training
        from crealux_core.services.users import get_user

        with self.runtime.session() as session:
            return training.close_session(
                session=session,
                rules=self.runtime.rules,
                user=get_user(session=session, username="trusquin"),
                training_session_id=training_session_id,
                completions={},
                now=utcnow(),
                orchestrator=self.runtime.orchestrator,
                dashboard_url=self.settings.dashboard_url,
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=900, help="for any one wait, seconds")
    parser.add_argument("--database-url", default=None, help="default: SQLite under the home")
    parser.add_argument("--no-maintainer", action="store_true", help="leave `crealux maintain` out")
    parser.add_argument("--quiet-load", type=float, default=2.0, help="wait for a load below")
    parser.add_argument("--patience", type=float, default=0, help="...at most this long (s)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    wait_until_load_below(args.quiet_load, patience=args.patience, say=say)
    home = Path(tempfile.mkdtemp(prefix="crealux-bench-cohort-"))
    result: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    bench = Bench(home, args.database_url, with_maintainer=not args.no_maintainer)
    try:
        say(f"starting a Prefect server, the runner and the maintainer ({home})")
        bench.start()
        t = time.monotonic()
        say(f"walking {args.participants} participants to the training step")
        runs = bench.prepare(args.participants)
        bench.wait_all(runs, TRAINING, args.timeout)
        say(f"  all wait on the training step after {time.monotonic() - t:.0f} s")
        session_id = bench.cohort(runs)
        say(f"closing session {session_id} ({args.participants} enrolled)")
        started = time.monotonic()
        closed = bench.close(session_id)
        close_s = time.monotonic() - started
        assert len(closed.decided) == args.participants, closed.as_json()
        reached = bench.wait_all(runs, NEXT, args.timeout, started=started)
        all_s = max(reached.values())
        result.update(
            participants=args.participants,
            close_call_s=round(close_s, 3),
            woken_by_close=closed.woken,
            all_waiting_s=round(all_s, 3),
            each_waiting_s=summary(list(reached.values())),
            database="sqlite" if args.database_url is None else "other",
        )
    except KeyboardInterrupt:
        say("interrupted: stopping what was started")
        return 130
    except Exception:
        args.keep = True
        say(f"failed: the data directory and the logs are kept in {home}")
        raise
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("cohort", result)
    say(
        f"cohort of {args.participants}: closing took {close_s:.1f} s ({closed.woken} flow runs"
        f" woken by it); all {args.participants} pathways wait on their next step"
        f" {all_s:.1f} s after the close began (each: p50"
        f" {result['each_waiting_s']['p50']:.1f} s, p95 {result['each_waiting_s']['p95']:.1f} s);"
        f" load {result['machine']['loadavg']} -> {result['machine']['loadavg_end']} ({path})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
