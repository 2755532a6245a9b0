"""One real instance for the end-to-end tests: a Prefect server, a runner serving the deployments
and a maintainer (started by the same code as `crealux up`), a migrated database (SQLite, or
PostgreSQL: see tests/database.py) and a real SMTP server.

The maintainer runs with small settings (tick 0.5 s, grace 2 s, stall 40 s, full pass every 10 s,
sweep every 2 s), so that healing happens in seconds. Tests stop and restart the runner or the
maintainer through `Instance.stopped()`; nothing else restarts them (the supervisor is ticked
only there).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prefect.client.orchestration import SyncPrefectClient
from sqlmodel import Session, col, select

from crealux.demo import demo_answers, ensure_reference_data
from crealux.launcher import (
    Supervisor,
    instance_env,
    start_maintainer,
    start_prefect_server,
    start_runner,
)
from crealux_core.clock import utcnow
from crealux_core.db import migrate
from crealux_core.models import (
    Gender,
    Notification,
    NotificationStatus,
    Organisation,
    ParticipantCreate,
    PathwayRun,
    PathwayStatus,
    Wait,
)
from crealux_core.runtime import Runtime
from crealux_core.services.definitions import register_definitions
from crealux_core.services.events import current_step
from crealux_core.services.participants import enroll_participant
from crealux_core.services.processes import ProcessState
from crealux_core.services.progress import current_wait
from crealux_core.services.steps import Submitted, submit_decision
from crealux_core.services.users import get_user
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.conftest import clean_environ, free_port
from tests.database import BACKEND, empty_database
from tests.smtp import SmtpSink, start_smtp

T = TypeVar("T")

# The maintainer of the e2e instance: healing in seconds rather than minutes. The stall limit
# stays above what starting a flow run takes on a busy 2-core machine (Pending "Submitting" to
# Running took up to 20 s here under load): at 8 s the maintainer replaced runs that were only
# slow to start, again and again, each replacement one more process to start.
MAINTAINER_SETTINGS = {
    "CREALUX_MAINTAIN_TICK_SECONDS": "0.5",
    "CREALUX_GRACE_SECONDS": "2",
    "CREALUX_STALL_SECONDS": "40",
    "CREALUX_FULL_RECONCILE_SECONDS": "10",
    "CREALUX_SWEEP_SECONDS": "2",
}


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 60, what: str, interval: float = 0.2
) -> T:
    """Poll a real system until `probe` returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass(frozen=True)
class Waiting:
    """A pathway whose flow run has caught up: suspended on the wait of its current step."""

    pathway_run_id: int
    step_id: int
    step_key: str
    wait_id: int
    key: str
    flow_run_id: str
    generation: int


def pathway_waiting(runtime: Runtime, pathway_run_id: int) -> Waiting | None:
    """The pathway, once its flow run has acknowledged every event and is suspended on the wait
    of its current step (read from the database, then from Prefect); None until then."""
    with runtime.session() as session:
        run = session.get(PathwayRun, pathway_run_id)
        step = current_step(session, pathway_run_id)
        wait = current_wait(session=session, pathway_run_id=pathway_run_id)
    if run is None or step is None or wait is None or run.flow_run_id is None:
        return None
    if run.needs_flow_at is not None or run.acked_event_id != run.last_event_id:
        return None
    state, pause_key = runtime.orchestrator.run_state(run.flow_run_id)
    if state != "Suspended" or pause_key != wait.key:
        return None
    return Waiting(
        pathway_run_id,
        step.id or 0,
        step.step_key,
        wait.id or 0,
        wait.key,
        run.flow_run_id,
        run.generation,
    )


@dataclass
class Instance:
    runtime: Runtime
    smtp: SmtpSink
    home: Path
    env: dict[str, str]  # for subprocesses that belong to this instance (the CLI)
    supervisor: Supervisor | None = None

    def session(self) -> Session:
        return self.runtime.session()

    def prefect(self) -> SyncPrefectClient:
        return SyncPrefectClient(self.runtime.settings.prefect_url)

    def suspended_on(self, flow_run_id: str, key: str) -> bool:
        state, pause_key = self.runtime.orchestrator.run_state(flow_run_id)
        return state == "Suspended" and pause_key == key

    def waiting(self, pathway_run_id: int) -> Waiting | None:
        return pathway_waiting(self.runtime, pathway_run_id)

    def wait_until_waiting(
        self,
        pathway_run_id: int,
        step_key: str,
        *,
        after: Waiting | None = None,
        timeout: float = 90,
    ) -> Waiting:
        """Wait until the pathway's flow run is suspended on step `step_key`, on a newer wait
        than `after`'s."""

        def probe() -> Waiting | None:
            now = self.waiting(pathway_run_id)
            if now is None or now.step_key != step_key:
                return None
            if after is not None and now.wait_id <= after.wait_id:
                return None
            return now

        return wait_for(
            probe, timeout=timeout, what=f"pathway run {pathway_run_id} to wait on {step_key}"
        )

    def waits(self, pathway_run_id: int) -> list[Wait]:
        with self.session() as session:
            return list(
                session.exec(
                    select(Wait).where(Wait.pathway_run_id == pathway_run_id).order_by(col(Wait.id))
                ).all()
            )

    def notifications(self, pathway_run_id: int) -> list[Notification]:
        with self.session() as session:
            return list(
                session.exec(
                    select(Notification)
                    .where(Notification.pathway_run_id == pathway_run_id)
                    .order_by(col(Notification.id))
                ).all()
            )

    def flow_run_state(self, flow_run_id: str) -> str:
        return self.runtime.orchestrator.run_state(flow_run_id)[0]

    @contextlib.contextmanager
    def stopped(
        self, name: str, how: signal.Signals = signal.SIGKILL
    ) -> Iterator[Callable[[], None]]:
        """Stop one of the instance's processes (`runner`, `maintainer`): SIGKILL to its process
        group, as a crash would, or SIGTERM, as a clean stop. It is started again on leaving,
        or earlier by calling the function yielded."""
        assert self.supervisor is not None
        supervisor = self.supervisor
        child = supervisor.child(name)
        assert child.process is not None, f"{name} is not running"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, how)
        child.process.wait(timeout=60)
        supervisor.tick()  # notices the exit; restarts only when ticked again
        started = False

        def restart() -> None:
            nonlocal started
            if started:
                return
            started = True
            supervisor.wait_for(
                lambda: child.state == ProcessState.RUNNING and child.process is not None,
                timeout=60,
                what=f"{name}, restarted",
            )

        try:
            yield restart
        finally:
            restart()


ADVISOR = "conseillere"
INTAKE_MAILBOX = "accueil@integraplus.example"  # integra-plus: the steps' and the coordination's
ADVISOR_MAILBOX = "claire.lambert@integraplus.example"  # ADVISOR's own: reminders, overdue steps


def answers(step_key: str, today: date | None = None) -> dict[str, Any]:
    """Plausible answers to a step's form, dated today (the forms refuse implausible dates)."""
    return demo_answers(step_key, today or utcnow().date(), "creation")


def enroll(
    instance: Instance, first_name: str, last_name: str = "E2E", municipality: str | None = None
) -> tuple[int, int]:
    """Enroll a participant with the advisor `conseillere`; return their and their run's ids."""
    runtime = instance.runtime
    with instance.session() as session:
        participant, run = enroll_participant(
            session=session,
            rules=runtime.rules,
            data=ParticipantCreate(
                first_name=first_name,
                last_name=last_name,
                gender=Gender.FEMALE,
                municipality=municipality,
            ),
            advisor=get_user(session=session, username=ADVISOR),
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    assert run.flow_run_id is not None  # Prefect is up: the flow run was created at once
    return participant.id or 0, run.id or 0


def decide(
    instance: Instance, step_id: int, data: dict[str, Any], *, actor: str = ADVISOR
) -> Submitted:
    """Decide a step as its advisor (or `actor`: a partner's staff for a partner's step),
    through the service the dashboard and the CLI use."""
    runtime = instance.runtime
    with instance.session() as session:
        return submit_decision(
            session=session,
            rules=runtime.rules,
            step_run_id=step_id,
            actor=get_user(session=session, username=actor),
            data=data,
            note="Entretien positif.",
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )


def held_for_digest(runtime: Runtime) -> Callable[[Notification], bool]:
    """Whether a message waits for the day's digest: one to an organisation that asked for a
    digest (rules/organisations.yaml), not to a person, and not the digest itself."""
    digest_keys = [key for key, org in runtime.rules.organisations.items() if org.digest]
    with runtime.session() as session:
        digest_ids = set(
            session.exec(
                select(Organisation.id).where(col(Organisation.key).in_(digest_keys))
            ).all()
        )

    def held(notification: Notification) -> bool:
        return (
            notification.organisation_id in digest_ids
            and notification.recipient_user_id is None
            and not notification.is_digest
        )

    return held


def mails_about(
    instance: Instance, reference: str, word: str = "", mailbox: str = INTAKE_MAILBOX
) -> list[str]:
    """The subjects of the emails `mailbox` received about a participant (containing `word`)."""
    return [s for s in instance.smtp.subjects(mailbox) if reference in s and word in s]


def all_sent(instance: Instance, pathway_run_id: int, count: int) -> bool:
    """True once the pathway has exactly `count` notifications, all sent."""
    notifications = instance.notifications(pathway_run_id)
    return len(notifications) == count and all(
        n.status is NotificationStatus.SENT for n in notifications
    )


@dataclass
class Up:
    """`crealux up` as a newcomer runs it, on a home and ports of its own."""

    home: Path
    ports: dict[str, int]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @classmethod
    def fresh(cls, directory: Path) -> Up:
        ports = {name: free_port() for name in ("prefect", "dashboard", "smtp")}
        home = directory / "home"
        env = {
            **clean_environ(),
            "CREALUX_HOME": str(home),
            "CREALUX_PREFECT_PORT": str(ports["prefect"]),
            "CREALUX_DASHBOARD_PORT": str(ports["dashboard"]),
            "CREALUX_SMTP_PORT": str(ports["smtp"]),
        }
        return cls(home=home, ports=ports, env=env)

    @property
    def dashboard_health(self) -> str:
        return f"http://127.0.0.1:{self.ports['dashboard']}/_stcore/health"

    def start(self, log: Path, *args: str) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crealux.cli", "up", *args],
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        assert self.log is not None
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_line(self, needle: str, timeout: float) -> str:
        """Wait until `crealux up` prints `needle`; fail at once if it exits."""
        assert self.process is not None
        process = self.process

        def printed() -> str | None:
            text = self.output()
            if needle in text:
                return text
            if process.poll() is not None:
                raise AssertionError(f"crealux up exited {process.returncode}:\n{text}")
            return None

        return wait_for(printed, timeout=timeout, what=f"{needle!r} from crealux up")

    def stop(self) -> int:
        """Ctrl-C; return its exit code."""
        assert self.process is not None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise

    def runtime(self) -> Runtime:
        """This instance, seen from the test: its database and its Prefect server."""
        return Runtime(
            Settings(
                home=self.home,
                rules_dir=REPO_RULES_DIR,
                prefect_port=self.ports["prefect"],
                dashboard_port=self.ports["dashboard"],
                smtp_port=self.ports["smtp"],
            )
        )

    def mail_subjects(self) -> list[str]:
        """The subject of each email the demo mail sink kept (<home>/mail/*.eml)."""
        return [
            str(email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"])
            for path in sorted((self.home / "mail").glob("*.eml"))
        ]


def active_pathways(runtime: Runtime) -> list[int]:
    with runtime.session() as session:
        ids = session.exec(
            select(PathwayRun.id).where(PathwayRun.status == PathwayStatus.ACTIVE)
        ).all()
    return sorted(i for i in ids if i is not None)


def all_waiting(runtime: Runtime, pathway_run_ids: list[int]) -> dict[int, Waiting] | None:
    """Every pathway suspended on the wait of its current step, or None."""
    found = {}
    for pathway_run_id in pathway_run_ids:
        waiting = pathway_waiting(runtime, pathway_run_id)
        if waiting is None:
            return None
        found[pathway_run_id] = waiting
    return found


def not_waiting(runtime: Runtime, pathway_run_ids: list[int]) -> str:
    """Say, for each pathway not yet waiting on its step, where it is (for a failure message)."""
    lines = []
    for pathway_run_id in pathway_run_ids:
        if pathway_waiting(runtime, pathway_run_id) is not None:
            continue
        with runtime.session() as session:
            run = session.get(PathwayRun, pathway_run_id)
            step = current_step(session, pathway_run_id)
            wait = current_wait(session=session, pathway_run_id=pathway_run_id)
        if run is None:
            lines.append(f"pathway {pathway_run_id}: not found")
            continue
        state = runtime.orchestrator.run_state(run.flow_run_id) if run.flow_run_id else None
        lines.append(
            f"pathway {pathway_run_id}: step {step.step_key if step else None}"
            f" ({step.status if step else '-'}), wait {wait.key if wait else None},"
            f" events {run.acked_event_id}/{run.last_event_id}, needs flow {run.needs_flow_at},"
            f" stuck {run.stuck_reason!r}, Prefect {state}"
        )
    return "\n".join(lines)


DEMO_PARTICIPANTS = 12


@dataclass
class DemoUp:
    """A `crealux up` started on a fresh home with the demo, and how long it took until the
    dashboard answered and until every demo pathway waited on its step."""

    up: Up
    runtime: Runtime
    first_output: str
    dashboard_after: float
    waiting_after: float
    pathways: list[int]

    def ensure_running(self, log: Path) -> None:
        """Start it again if a test stopped it (its data stays)."""
        if self.up.process is None or self.up.process.poll() is not None:
            self.up.process = None
            self.up.start(log)
            self.up.wait_line("Ctrl-C", timeout=120)


@pytest.fixture(scope="session")
def demo_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoUp]:
    """`crealux up` on a fresh home, as a newcomer runs it, once per session (it is the slowest
    thing here): test_up.py checks it as it is, test_healing.py deletes Prefect's database under
    it and starts it again. Stopped with Ctrl-C at the end of the session."""
    directory = tmp_path_factory.mktemp("demo-up")
    up = Up.fresh(directory)
    runtime = up.runtime()
    started = time.monotonic()
    try:
        up.start(directory / "up.log")
        output = up.wait_line("Ctrl-C", timeout=120)
        dashboard_after = time.monotonic() - started
        pathways = active_pathways(runtime)
        assert len(pathways) == DEMO_PARTICIPANTS, output
        try:
            wait_for(
                lambda: all_waiting(runtime, pathways),
                timeout=240,  # 40-110 s here; CI's two cores may be busier
                what="every demo pathway to wait on its step",
                interval=0.5,
            )
        except AssertionError as error:
            raise AssertionError(f"{error}:\n{not_waiting(runtime, pathways)}") from None
        yield DemoUp(
            up=up,
            runtime=runtime,
            first_output=output,
            dashboard_after=dashboard_after,
            waiting_after=time.monotonic() - started,
            pathways=pathways,
        )
    finally:
        if up.process is not None:
            up.stop()
        runtime.engine.dispose()


@pytest.fixture(scope="session")
def instance_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """None on SQLite (the file under the instance's home, as `crealux up` does); on PostgreSQL
    (see tests/database.py) an empty database, dropped after the session."""
    if not BACKEND.is_postgresql:
        yield None
        return
    with empty_database(BACKEND, tmp_path_factory.mktemp("e2e-db")) as url:
        yield url


@pytest.fixture(scope="session")
def instance(
    tmp_path_factory: pytest.TempPathFactory, instance_database_url: str | None
) -> Iterator[Instance]:
    home = tmp_path_factory.mktemp("e2e-home")
    settings = Settings(
        home=home,
        database_url=instance_database_url,
        rules_dir=REPO_RULES_DIR,
        prefect_port=free_port(),
        dashboard_port=free_port(),
        smtp_port=free_port(),
        # Slower than the product's 15 s: a resumed or new run must start through the kick
        # (flows/serve.py), or these tests would wait a minute per step and time out.
        runner_poll_seconds=60,
        maintain_tick_seconds=float(MAINTAINER_SETTINGS["CREALUX_MAINTAIN_TICK_SECONDS"]),
        grace_seconds=float(MAINTAINER_SETTINGS["CREALUX_GRACE_SECONDS"]),
        stall_seconds=float(MAINTAINER_SETTINGS["CREALUX_STALL_SECONDS"]),
        full_reconcile_seconds=float(MAINTAINER_SETTINGS["CREALUX_FULL_RECONCILE_SECONDS"]),
        sweep_seconds=float(MAINTAINER_SETTINGS["CREALUX_SWEEP_SECONDS"]),
    )
    env = {**instance_env(settings), **MAINTAINER_SETTINGS}
    migrate(settings.app_database_url)
    runtime = Runtime(settings)
    ensure_reference_data(runtime)
    with runtime.session() as session:
        register_definitions(session=session, rules=runtime.rules, now=utcnow())
    smtp, controller = start_smtp(settings.smtp_port)
    # Restarts are driven by the tests (`Instance.stopped`): quick, and never given up on.
    supervisor = Supervisor(
        log_dir=home / "logs", env=env, backoff_base=0.2, backoff_cap=1, max_failures=1000
    )
    try:
        start_prefect_server(supervisor, settings)
        start_runner(supervisor, settings)
        start_maintainer(supervisor, settings)
        yield Instance(runtime=runtime, smtp=smtp, home=home, env=env, supervisor=supervisor)
    finally:
        supervisor.stop_all()
        controller.stop()
        runtime.engine.dispose()
