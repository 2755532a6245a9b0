"""Step latency: what an advisor or a partner waits for after submitting a step.

(a) Submit to next step visible in the worklist of whoever owns it: p50/p95/max over N submits
    (round robin over a few participants), with Prefect up (a real server and runner; the run
    woken by the submit itself, as the CLI does, then from a background thread, as the dashboard
    does with dashboards/background.py) and with Prefect down (the orchestrator at a closed
    port). Target: p95 under 300 ms in each case.
(b) Submit to the flow run suspended on its next wait AND the next step's mail received by a real
    SMTP server: median over N, and in the same run, interleaved sample by sample, a bare Prefect
    flow's resume-to-suspend (benchmarks/bare_flow.py, served by Prefect's own runner polling
    every second; the pathway's runner polls as the product's does, every 15 s, and is kicked).

The pathways loop orientation (advisor, route "social") -> social accompaniment (partner CPAS,
barriers lifted) -> orientation..., so any number of submits can be made on a few participants.
The instance is what tests/e2e/conftest.py starts: a Prefect server on SQLite, a runner serving
the deployments (crealux.launcher), a migrated SQLite database, an SMTP server (tests/smtp.py);
with --with-maintainer, `crealux maintain` too, as in `crealux up` (it sends queued mail every
tick and re-delivers a lost wake, so (b)'s mail no longer waits for the flow run).

    .venv/bin/python benchmarks/step_latency.py [--submits 50] [--mail-samples 10]
        [--with-maintainer]   (also run `crealux maintain`, as `crealux up` does)

Takes about 2-4 minutes. Prints the numbers and appends a JSON line to
benchmarks/results/step_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from benchkit import (
    BENCH_DIR,
    closed_port,
    free_port,
    machine,
    poll,
    summary,
    wait_until_load_below,
    write_result,
)

ORIENTATION, SOCIAL = "orientation", "social_accompaniment"
BACKGROUND = "background"  # submit as the step page does: no orchestrator, then wake_later
HEAL_AFTER = 10.0  # seconds before a wake that did not arrive is sent again


class TimedOrchestrator:
    """The orchestrator port, timing the resume calls a submit makes (to split its cost)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.spent: list[float] = []

    def resume(self, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return self.inner.resume(**kwargs)
        finally:
            self.spent.append(time.monotonic() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Pathway:
    participant_id: int
    pathway_run_id: int
    reference: str


def say(line: str) -> None:
    print(line, flush=True)


def decision(step_key: str, today: str) -> dict[str, Any]:
    if step_key == ORIENTATION:
        return {"decided_on": today, "route": "social"}
    if step_key == SOCIAL:
        return {"barriers_lifted": True, "sessions": 1}
    raise ValueError(f"no answers for {step_key}")


class Bench:
    """One instance: Prefect server, the pathway runner, the bare-flow runner, an SMTP server."""

    def __init__(self, home: Path, poll_seconds: int, timeout: float) -> None:
        from crealux.demo import ensure_reference_data
        from crealux.launcher import Supervisor, instance_env
        from crealux_core.clock import utcnow
        from crealux_core.db import migrate
        from crealux_core.runtime import Runtime
        from crealux_core.services.definitions import register_definitions
        from crealux_core.settings import REPO_RULES_DIR, Settings

        self.timeout = timeout
        self.settings = Settings(
            home=home,
            rules_dir=REPO_RULES_DIR,
            prefect_port=free_port(),
            dashboard_port=free_port(),
            smtp_port=free_port(),
            runner_poll_seconds=poll_seconds,
        )
        self.env = instance_env(self.settings)
        os.environ.update(self.env)  # the Prefect client of this process, the rules' ${...}
        migrate(self.settings.app_database_url)
        self.runtime = Runtime(self.settings)
        ensure_reference_data(self.runtime)
        with self.runtime.session() as session:
            register_definitions(session=session, rules=self.runtime.rules, now=utcnow())
        self.supervisor = Supervisor(log_dir=home / "logs", env=self.env, echo=say)
        self.smtp: Any = None
        self.controller: Any = None
        self.redelivered = 0
        self.bare_resume_errors = 0

    # -- start and stop --------------------------------------------------------------------------

    def start(self, *, maintainer: bool) -> None:
        from crealux.launcher import start_maintainer, start_prefect_server, start_runner
        from tests.smtp import start_smtp

        self.smtp, self.controller = start_smtp(self.settings.smtp_port)
        start_prefect_server(self.supervisor, self.settings)
        start_runner(self.supervisor, self.settings)
        if maintainer:  # as `crealux up` runs it: it also sends queued mail every tick
            start_maintainer(self.supervisor, self.settings)
        self.supervisor.start(
            "bare-runner",
            [sys.executable, str(BENCH_DIR / "bare_flow.py")],
            requires=("prefect-server",),
        )
        self.supervisor.wait_for(
            self._bare_deployment, timeout=self.timeout, what="the bare flow's deployment"
        )

    def stop(self) -> None:
        try:
            self.supervisor.stop_all()
        finally:
            if self.controller is not None:
                self.controller.stop()
            if "engine" in self.runtime.__dict__:
                self.runtime.engine.dispose()

    def _bare_deployment(self) -> bool:
        from bare_flow import DEPLOYMENT_NAME, FLOW_NAME

        try:
            with self.runtime.orchestrator._client() as client:
                client.read_deployment_by_name(f"{FLOW_NAME}/{DEPLOYMENT_NAME}")
        except Exception:  # not registered yet (ObjectNotFound), or the server is starting
            return False
        return True

    # -- pathways --------------------------------------------------------------------------------

    def user(self, username: str) -> Any:
        from crealux_core.services.users import get_user

        with self.runtime.session() as session:
            return get_user(session=session, username=username)

    def prepare(self, count: int) -> list[Pathway]:
        """Enroll participants and walk them to orientation (committed, no Prefect), then start
        their flow runs and wait until each is suspended on its wait."""
        from crealux.demo import demo_answers, start_flows
        from crealux_core.clock import utcnow
        from crealux_core.models import Gender, ParticipantCreate
        from crealux_core.services.events import current_step
        from crealux_core.services.participants import enroll_participant
        from crealux_core.services.steps import submit_decision

        advisor = self.user("conseillere")
        pathways = []
        with self.runtime.session() as session:
            for number in range(count):
                participant, run = enroll_participant(
                    session=session,
                    rules=self.runtime.rules,
                    data=ParticipantCreate(
                        first_name=f"Banc{number}", last_name="Essai", gender=Gender.FEMALE
                    ),
                    advisor=advisor,
                    now=utcnow(),
                    orchestrator=None,
                    dashboard_url=self.settings.dashboard_url,
                )
                for _ in range(2):  # first reception, assessment
                    step = current_step(session, run.id or 0)
                    assert step is not None
                    submit_decision(
                        session=session,
                        rules=self.runtime.rules,
                        step_run_id=step.id or 0,
                        actor=advisor,
                        data=demo_answers(step.step_key, utcnow().date(), "social"),
                        now=utcnow(),
                        orchestrator=None,
                        dashboard_url=self.settings.dashboard_url,
                    )
                pathways.append(Pathway(participant.id or 0, run.id or 0, participant.reference))
        started = start_flows(
            self.runtime, [p.pathway_run_id for p in pathways], self.runtime.orchestrator
        )
        assert started == count, f"{started} of {count} flow runs started"
        for pathway in pathways:
            self.wait_suspended(pathway)
        return pathways

    def current(self, pathway: Pathway) -> tuple[Any, str | None, str | None]:
        """Return the pathway's current step, its run's id and its current wait's key."""
        from crealux_core.models import PathwayRun
        from crealux_core.services.events import current_step
        from crealux_core.services.progress import current_wait

        with self.runtime.session() as session:
            step = current_step(session, pathway.pathway_run_id)
            run = session.get(PathwayRun, pathway.pathway_run_id)
            wait = current_wait(session=session, pathway_run_id=pathway.pathway_run_id)
            return step, run.flow_run_id if run else None, wait.key if wait else None

    def caught_up(self, pathway: Pathway) -> bool:
        """True if the flow run has acknowledged the pathway's latest event."""
        from crealux_core.models import PathwayRun

        with self.runtime.session() as session:
            run = session.get(PathwayRun, pathway.pathway_run_id)
            return run is not None and run.acked_event_id == run.last_event_id

    def suspended_key(self, pathway: Pathway, *, not_key: str | None = None) -> str | None:
        """The key the pathway's run is suspended on, if it is its current wait's key and the
        run has caught up with every event (a wake may still be on its way otherwise)."""
        _, flow_run_id, key = self.current(pathway)
        if flow_run_id is None or key is None or key == not_key or not self.caught_up(pathway):
            return None
        state, pause_key = self.runtime.orchestrator.run_state(flow_run_id)
        return key if (state, pause_key) == ("Suspended", key) else None

    def wait_suspended(self, pathway: Pathway, *, not_key: str | None = None) -> str:
        """Wait until the pathway's run is suspended on its current wait, having seen every
        event. A wake that Prefect lost (its server answers "database is locked" under load) is
        sent again every HEAL_AFTER seconds, as the maintainer of `crealux up` would; counted."""
        deadline = time.monotonic() + self.timeout
        heal_at = time.monotonic() + HEAL_AFTER
        while True:
            key = self.suspended_key(pathway, not_key=not_key)
            if key:
                return key
            if time.monotonic() >= heal_at:
                heal_at = time.monotonic() + HEAL_AFTER
                if self.redeliver(pathway):
                    self.redelivered += 1
                    say(f"    {pathway.reference}: a lost wake sent again after {HEAL_AFTER:g} s")
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{pathway.reference} not suspended on its wait after {self.timeout:.0f} s"
                )
            time.sleep(0.1)

    def redeliver(self, pathway: Pathway) -> bool:
        """Wake the run again with the latest event if it waits without having seen it."""
        from crealux_core.models import PathwayRun
        from crealux_core.services.delivery import wake

        if self.caught_up(pathway):
            return False
        with self.runtime.session() as session:
            run = session.get(PathwayRun, pathway.pathway_run_id)
            assert run is not None
            return wake(
                session=session,
                pathway_run_id=pathway.pathway_run_id,
                event_id=run.last_event_id,
                orchestrator=self.runtime.orchestrator,
            )

    def server_errors(self) -> int:
        """How many "database is locked" exceptions the Prefect server has logged so far."""
        log = self.settings.resolved_home / "logs" / "prefect-server.log"
        try:
            return log.read_text(errors="replace").count(
                "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked"
            )
        except OSError:
            return 0

    def submit(self, pathway: Pathway, orchestrator: Any) -> tuple[Any, Any, float]:
        """Submit the pathway's current step as its owner would; return (step, result, t0)."""
        from crealux_core.clock import utcnow
        from crealux_core.services.steps import submit_decision

        step, _, _ = self.current(pathway)
        actor = self.user("conseillere" if step.step_key == ORIENTATION else "cpas")
        t0 = time.monotonic()
        with self.runtime.session() as session:
            result = submit_decision(
                session=session,
                rules=self.runtime.rules,
                step_run_id=step.id,
                actor=actor,
                data=decision(step.step_key, utcnow().date().isoformat()),
                now=utcnow(),
                orchestrator=None if orchestrator is BACKGROUND else orchestrator,
                dashboard_url=self.settings.dashboard_url,
            )
        if orchestrator is BACKGROUND:  # as the step page does
            from dashboards.background import wake_later

            wake_later(self.runtime, result.pathway_run_id, result.event_id)
        return step, result, t0

    def in_worklist(self, pathway: Pathway, step_key: str, viewer: Any, after: int) -> bool:
        from crealux_core.models import StepStatus
        from crealux_core.services.steps import list_steps

        with self.runtime.session() as session:
            views = list_steps(
                session=session, rules=self.runtime.rules, user=viewer, status=StepStatus.OPEN
            )
        return any(
            v.participant_id == pathway.participant_id and v.step_key == step_key and v.id > after
            for v in views
        )

    # -- (a) submit -> next step in the worklist -------------------------------------------------

    def worklist_latency(
        self, pathways: list[Pathway], submits: int, orchestrator: Any, *, prefect_up: bool
    ) -> dict[str, Any]:
        viewers = {ORIENTATION: self.user("conseillere"), SOCIAL: self.user("cpas")}
        visible, submit_only, woken = [], [], 0
        redelivered, errors = self.redelivered, self.server_errors()
        timed = TimedOrchestrator(orchestrator)
        for number in range(submits):
            pathway = pathways[number % len(pathways)]
            if prefect_up:  # the run waits, as it does when nobody is hurrying it (untimed)
                self.wait_suspended(pathway)
            step, result, t0 = self.submit(
                pathway, BACKGROUND if orchestrator is BACKGROUND else timed
            )
            t_submit = time.monotonic()
            following = SOCIAL if step.step_key == ORIENTATION else ORIENTATION

            def seen(p: Pathway = pathway, k: str = following, after: int = step.id) -> bool:
                return self.in_worklist(p, k, viewers[k], after)

            poll(
                seen,
                timeout=self.timeout,
                what="the next step in the worklist",
                interval=0.005,
            )
            visible.append(time.monotonic() - t0)
            submit_only.append(t_submit - t0)
            woken += bool(result.woken)
        return {
            "visible_s": summary(visible),
            "submit_s": summary(submit_only),
            "of_which_resume_call_s": summary(timed.spent),
            "woken": woken,
            "lost_wakes_sent_again": self.redelivered - redelivered,
            "prefect_sqlite_locked_exceptions": self.server_errors() - errors,
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        }

    # -- (b) submit -> suspended on the next wait and mail received; the bare flow beside it -----

    def mail_after(self, pathway: Pathway, step_key: str, since: float) -> float | None:
        title = self.runtime.rules.pathway().step(step_key).title
        subject = f"CREALux - {title} - {pathway.reference}"
        arrivals = [
            mail.at
            for mail in list(self.smtp.received)
            if mail.at >= since and str(mail.message["Subject"]) == subject
        ]
        return min(arrivals) if arrivals else None

    def pathway_sample(self, pathway: Pathway) -> dict[str, float]:
        old_key = self.wait_suspended(pathway)
        step, _, t0 = self.submit(pathway, self.runtime.orchestrator)
        following = SOCIAL if step.step_key == ORIENTATION else ORIENTATION
        self.wait_suspended(pathway, not_key=old_key)
        t_suspended = time.monotonic()
        t_mail = poll(
            lambda: self.mail_after(pathway, following, t0),
            timeout=self.timeout,
            what="the next step's mail",
            interval=0.05,
        )
        return {
            "suspended_s": t_suspended - t0,
            "mail_s": t_mail - t0,
            "both_s": max(t_suspended, t_mail) - t0,
        }

    def start_bare(self) -> tuple[str, str]:
        from bare_flow import DEPLOYMENT_NAME, FLOW_NAME

        with self.runtime.orchestrator._client() as client:
            deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{DEPLOYMENT_NAME}")
            run = client.create_flow_run_from_deployment(deployment.id)
        flow_run_id = str(run.id)
        key = poll(
            lambda: self._bare_key(flow_run_id, None),
            timeout=self.timeout,
            what="the bare flow suspended",
            interval=0.1,
        )
        return flow_run_id, key

    def _bare_key(self, flow_run_id: str, old: str | None) -> str | None:
        state, key = self.runtime.orchestrator.run_state(flow_run_id)
        return key if state == "Suspended" and key and key != old else None

    def bare_sample(self, flow_run_id: str, key: str, number: int) -> tuple[float, str]:
        """Resume the bare flow (read its state, resume: what waking a pathway does)."""
        t0 = time.monotonic()
        for attempt in range(5):  # the server may refuse ("database is locked"): try again
            try:
                with self.runtime.orchestrator._client() as client:
                    state = client.read_flow_run(UUID(flow_run_id)).state
                    assert state is not None and state.state_details.pause_key == key
                    client.resume_flow_run(UUID(flow_run_id), run_input={"n": number})
                break
            except Exception as error:
                self.bare_resume_errors += 1
                say(f"    bare flow: resume refused ({error}), attempt {attempt + 1}")
                time.sleep(1)
        new_key = poll(
            lambda: self._bare_key(flow_run_id, key),
            timeout=self.timeout,
            what="the bare flow suspended again",
            interval=0.1,
        )
        return time.monotonic() - t0, new_key

    def suspend_latency(self, pathways: list[Pathway], samples: int) -> dict[str, Any]:
        flow_run_id, key = self.start_bare()
        redelivered, errors = self.redelivered, self.server_errors()
        rows: list[dict[str, float]] = []
        bare: list[float] = []
        for number in range(samples):  # interleaved, so that both see the same machine
            rows.append(self.pathway_sample(pathways[number % len(pathways)]))
            seconds, key = self.bare_sample(flow_run_id, key, number)
            bare.append(seconds)
            say(
                f"  sample {number + 1}/{samples}: pathway suspended {rows[-1]['suspended_s']:.2f}"
                f" s, mail {rows[-1]['mail_s']:.2f} s; bare flow {seconds:.2f} s"
            )

        def median(values: list[float]) -> float:
            return round(statistics.median(values), 3)

        return {
            "pathway_suspended_and_mail_s": summary([r["both_s"] for r in rows]),
            "pathway_suspended_s": summary([r["suspended_s"] for r in rows]),
            "pathway_mail_s": summary([r["mail_s"] for r in rows]),
            "bare_resume_to_suspend_s": summary(bare),
            "median_pathway_minus_bare_s": round(
                median([r["both_s"] for r in rows]) - median(bare), 3
            ),
            "lost_wakes_sent_again": self.redelivered - redelivered,
            "bare_resumes_refused": self.bare_resume_errors,
            "prefect_sqlite_locked_exceptions": self.server_errors() - errors,
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        }


def product_poll_seconds() -> int:
    from crealux_core.settings import Settings

    return int(Settings.model_fields["runner_poll_seconds"].default)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submits", type=int, default=50, help="(a) submits per case")
    parser.add_argument("--mail-samples", type=int, default=10, help="(b) samples of each")
    parser.add_argument("--participants", type=int, default=5, help="submits go round robin")
    parser.add_argument(
        "--poll",
        type=int,
        default=product_poll_seconds(),
        help="the pathway runner's poll, seconds (default: the product's, kicked as in up)",
    )
    parser.add_argument("--timeout", type=float, default=120, help="for any one wait, seconds")
    parser.add_argument("--quiet-load", type=float, default=2.0, help="wait for a load below")
    parser.add_argument("--patience", type=float, default=0, help="...at most this long (s)")
    parser.add_argument(
        "--with-maintainer",
        action="store_true",
        help="also run `crealux maintain`, as `crealux up` does (it sends queued mail itself)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    wait_until_load_below(args.quiet_load, patience=args.patience, say=say)
    home = Path(tempfile.mkdtemp(prefix="crealux-bench-latency-"))
    result: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    bench = Bench(home, args.poll, args.timeout)
    try:
        say(f"starting a Prefect server, the runner and the bare-flow runner ({home})")
        t = time.monotonic()
        bench.start(maintainer=args.with_maintainer)
        say(f"  up in {time.monotonic() - t:.1f} s; enrolling {args.participants} participants")
        pathways = bench.prepare(args.participants)

        say(f"(a) {args.submits} submits, Prefect up")
        up = bench.worklist_latency(
            pathways, args.submits, bench.runtime.orchestrator, prefect_up=True
        )
        say("    " + json.dumps(up))

        for pathway in pathways:  # start each case from a quiet instance
            bench.wait_suspended(pathway)

        say(f"(a) {args.submits} submits, Prefect up, the run woken from a background thread")
        up_background = bench.worklist_latency(
            pathways,
            args.submits,
            BACKGROUND,
            prefect_up=True,
        )
        say("    " + json.dumps(up_background))

        for pathway in pathways:
            bench.wait_suspended(pathway)
        say(f"(b) {args.mail_samples} samples: submit -> suspended + mail, bare flow beside it")
        suspend = bench.suspend_latency(pathways, args.mail_samples)
        say("    " + json.dumps(suspend))

        from crealux_core.orchestration import PrefectOrchestrator

        down_orchestrator = PrefectOrchestrator(f"http://127.0.0.1:{closed_port()}/api")
        say(f"(a) {args.submits} submits, Prefect down (orchestrator at a closed port)")
        down = bench.worklist_latency(pathways, args.submits, down_orchestrator, prefect_up=False)
        say("    " + json.dumps(down))
        result.update(
            worklist_prefect_up=up,
            worklist_prefect_up_background_wake=up_background,
            worklist_prefect_down=down,
            suspend_and_mail=suspend,
            target_p95_s=0.3,
            meets_target={
                "prefect_up": up["visible_s"]["p95"] < 0.3,
                "prefect_up_background_wake": up_background["visible_s"]["p95"] < 0.3,
                "prefect_down": down["visible_s"]["p95"] < 0.3,
            },
        )
    except KeyboardInterrupt:
        say("interrupted: stopping what was started")
        return 130
    except Exception:
        args.keep = True  # the logs say what happened
        say(f"failed: the data directory and the logs are kept in {home}")
        raise
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("step_latency", result)
    say(
        f"worklist p95: Prefect up {up['visible_s']['p95'] * 1000:.0f} ms (woken in the background"
        f" as the dashboard does: {up_background['visible_s']['p95'] * 1000:.0f} ms), down"
        f" {down['visible_s']['p95'] * 1000:.0f} ms (target 300 ms); submit -> suspended + mail:"
        f" median {suspend['pathway_suspended_and_mail_s']['p50']:.2f} s, bare flow"
        f" {suspend['bare_resume_to_suspend_s']['p50']:.2f} s; load {result['machine']['loadavg']}"
        f" -> {result['machine']['loadavg_end']} ({path})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
