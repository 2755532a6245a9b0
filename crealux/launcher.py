"""`crealux up`: one instance on its embedded default.

A supervisor starts each process in its own session, restarts one that dies (after 1 s, 2 s,
4 s...), gives up and stops everything when one keeps failing, keeps <home>/processes.json up to
date, and stops every process on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from crealux_core.services.processes import ProcessState, ProcessStatus, write_process_status
from crealux_core.settings import Settings

APP_FILE = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"


class StartError(RuntimeError):
    pass


def instance_env(settings: Settings) -> dict[str, str]:
    """Return the environment every process of this instance runs with."""
    home = settings.resolved_home
    env = {**os.environ, **settings.prefect_env()}
    env.update(
        CREALUX_HOME=str(home),
        CREALUX_DATABASE_URL=settings.app_database_url,
        CREALUX_RULES_DIR=str(settings.rules_dir),
        CREALUX_PREFECT_PORT=str(settings.prefect_port),
        CREALUX_DASHBOARD_PORT=str(settings.dashboard_port),
        CREALUX_SMTP_PORT=str(settings.smtp_port),
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.3
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise StartError(f"{what} did not come up within {timeout:.0f} s")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return check


RESTART_BACKOFF_BASE = 1.0  # seconds before the first restart; doubled after each failure
RESTART_BACKOFF_CAP = 60.0  # never wait longer than this between restarts
MAX_QUICK_FAILURES = 5  # give up on the next failure after this many quick ones in a row
FAILURE_WINDOW = 300.0  # a failure this long after the previous one starts a new count
STABLE_AFTER = 60.0  # a process up (and healthy) this long has its failure count reset


class GaveUp(StartError):
    """A process kept failing: the supervisor stopped restarting it."""


def backoff_delay(failures: int, *, base: float, cap: float) -> float:
    """Return how long to wait before restarting after the n-th failure in a row (1, 2, 4...)."""
    return float(min(base * 2 ** max(failures - 1, 0), cap))


def _print(line: str) -> None:
    print(line, flush=True)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Child:
    """One supervised process, across its restarts."""

    name: str
    argv: list[str]
    log_path: Path
    log: IO[bytes]
    health: Callable[[], bool] | None
    health_timeout: float
    requires: tuple[str, ...]
    process: subprocess.Popen[bytes] | None = None
    state: ProcessState = ProcessState.STARTING
    restarts: int = 0
    failures: int = 0  # quick failures in a row
    last_exit_code: int | None = None
    last_failure: float | None = None  # supervisor clock
    spawned: float = 0.0  # supervisor clock
    up_since: float | None = None  # supervisor clock; None until healthy
    restart_due: float | None = None  # supervisor clock
    started_at: datetime | None = None
    last_restart_at: datetime | None = None

    def status(self) -> ProcessStatus:
        return ProcessStatus(
            name=self.name,
            pid=self.process.pid if self.process is not None else None,
            state=self.state,
            restarts=self.restarts,
            last_exit_code=self.last_exit_code,
            last_restart_at=self.last_restart_at,
            started_at=self.started_at,
        )


@dataclass
class Supervisor:
    """Start child processes in their own sessions, restart one that dies, stop them in reverse
    order.

    Call `tick()` every second or so: it notices a process that died (and kills what is left of
    its process group), restarts it after a backoff (1 s, 2 s, 4 s... at most `backoff_cap`),
    polls the health check of a process that is (re)starting, and raises `GaveUp` once a process
    failed more than `max_failures` times in a row, each within `failure_window` of the previous
    failure, without staying up (and healthy) `stable_after` seconds. A process whose `requires`
    are not running waits for them before it is restarted. With `status_home`, each change is
    written to <status_home>/processes.json.
    """

    log_dir: Path
    env: Mapping[str, str]
    status_home: Path | None = None
    echo: Callable[[str], None] = _print
    backoff_base: float = RESTART_BACKOFF_BASE
    backoff_cap: float = RESTART_BACKOFF_CAP
    max_failures: int = MAX_QUICK_FAILURES
    failure_window: float = FAILURE_WINDOW
    stable_after: float = STABLE_AFTER
    clock: Callable[[], float] = time.monotonic
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        health: Callable[[], bool] | None = None,
        health_timeout: float = 120,
        requires: tuple[str, ...] = (),
    ) -> subprocess.Popen[bytes]:
        """Start a process; with `health`, it counts as running once `health()` is true."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        child = Child(
            name=name,
            argv=argv,
            log_path=log_path,
            log=log_path.open("ab"),
            health=health,
            health_timeout=health_timeout,
            requires=requires,
        )
        self.children.append(child)
        process = self._spawn(child)
        self._write_status()
        return process

    def child(self, name: str) -> Child:
        return next(child for child in self.children if child.name == name)

    def statuses(self) -> list[ProcessStatus]:
        return [child.status() for child in self.children]

    def tick(self) -> None:
        """Check every process once: notice deaths, restart what is due, poll health checks."""
        for child in self.children:
            self._check(child)

    def wait_healthy(self, name: str, *, timeout: float, what: str, interval: float = 0.3) -> None:
        """Supervise until the process `name` is running (its health check answers)."""
        child = self.child(name)
        self.wait_for(
            lambda: child.state == ProcessState.RUNNING,
            timeout=timeout,
            what=what,
            interval=interval,
        )

    def wait_for(
        self, check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.3
    ) -> None:
        """Supervise until `check()` is true; raise StartError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.tick()
            if check():
                return
            if time.monotonic() >= deadline:
                raise StartError(f"{what} did not come up within {timeout:.0f} s")
            time.sleep(interval)

    def stop_all(self, timeout: float = 15) -> None:
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:
                _signal_group(child.process.pid, signal.SIGTERM)
        for child in reversed(self.children):
            if child.process is not None:
                try:
                    child.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(child.process.pid, signal.SIGKILL)
                    child.process.wait()
                child.last_exit_code = child.process.returncode
                child.process = None
            if child.state != ProcessState.FAILED:
                child.state = ProcessState.STOPPED
            child.log.close()
        self._write_status()
        self.children.clear()

    def _spawn(self, child: Child) -> subprocess.Popen[bytes]:
        child.process = subprocess.Popen(
            child.argv,
            env=dict(self.env),
            stdout=child.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child.spawned = self.clock()
        child.started_at = _utcnow()
        child.restart_due = None
        if child.health is None:
            child.state = ProcessState.RUNNING
            child.up_since = child.spawned
        else:
            child.state = ProcessState.STARTING if child.restarts == 0 else ProcessState.RESTARTING
            child.up_since = None
        return child.process

    def _check(self, child: Child) -> None:
        now = self.clock()
        if child.state in (ProcessState.FAILED, ProcessState.STOPPED):
            return
        if child.process is None:
            if child.restart_due is not None and now >= child.restart_due and self._ready(child):
                self._restart(child)
            return
        code = _exit_code(child.process)
        if code is not None:
            self._failed(child, code, now, why=f"arrêté (code {code})")
            return
        if child.up_since is None and child.health is not None:
            if child.health():
                child.state = ProcessState.RUNNING
                child.up_since = self.clock()
                if child.restarts:
                    self._note(child, f"{child.name} de nouveau disponible")
                self._write_status()
            elif now - child.spawned > child.health_timeout:
                code = _kill(child.process)
                self._failed(child, code, now, why=f"sans réponse après {child.health_timeout:g} s")

    def _ready(self, child: Child) -> bool:
        return all(
            other.state == ProcessState.RUNNING
            for other in self.children
            if other.name in child.requires
        )

    def _failed(self, child: Child, code: int, now: float, *, why: str) -> None:
        child.process = None
        child.last_exit_code = code
        stayed_up = child.up_since is not None and now - child.up_since >= self.stable_after
        long_ago = child.last_failure is not None and now - child.last_failure > self.failure_window
        if stayed_up or long_ago:
            child.failures = 0
        child.failures += 1
        child.last_failure = now
        if child.failures > self.max_failures:
            child.state = ProcessState.FAILED
            message = (
                f"{child.name} {why} : {child.failures} échecs de suite sans tenir "
                f"{self.stable_after:g} s, abandon ; voir {child.log_path}"
            )
            self._note(child, message)
            self._write_status()
            raise GaveUp(message)
        delay = backoff_delay(child.failures, base=self.backoff_base, cap=self.backoff_cap)
        child.state = ProcessState.RESTARTING
        child.restart_due = now + delay
        self._note(child, f"{child.name} {why}, redémarrage dans {delay:g} s")
        self._write_status()

    def _restart(self, child: Child) -> None:
        child.restarts += 1
        child.last_restart_at = _utcnow()
        process = self._spawn(child)
        self._note(child, f"{child.name} redémarré (pid {process.pid})", echo=False)
        self._write_status()

    def _note(self, child: Child, message: str, *, echo: bool = True) -> None:
        """Say it on the supervisor's output and in the process's own log."""
        if echo:
            self.echo(f"  {message}")
        stamp = _utcnow().isoformat(timespec="seconds")
        child.log.write(f"[{stamp}] crealux up: {message}\n".encode())
        child.log.flush()

    def _write_status(self) -> None:
        if self.status_home is not None:
            write_process_status(
                home=self.status_home,
                processes=self.statuses(),
                now=_utcnow(),
                supervisor_pid=os.getpid(),
            )


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _exit_code(process: subprocess.Popen[bytes]) -> int | None:
    """Return the exit code of a process that ended, or None if it runs. Before reaping it, kill
    what is left of its process group (a server's workers would keep its port): until the leader
    is reaped, its pid, which is the group's id, cannot be reused."""
    try:
        ended = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped already
        return process.poll()
    if ended is None:
        return None
    _signal_group(process.pid, signal.SIGKILL)
    return process.wait()


def _kill(process: subprocess.Popen[bytes]) -> int:
    _signal_group(process.pid, signal.SIGKILL)
    return process.wait()


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def start_prefect_server(supervisor: Supervisor, settings: Settings) -> None:
    supervisor.start(
        "prefect-server",
        [
            _bin("prefect"),
            "server",
            "start",
            "--host",
            settings.host,
            "--port",
            str(settings.prefect_port),
        ],
        health=http_ok(f"{settings.prefect_url}/health"),
        health_timeout=120,
    )
    supervisor.wait_healthy("prefect-server", timeout=120, what="the Prefect server")


def start_mail_sink(supervisor: Supervisor, settings: Settings) -> None:
    mail_dir = settings.resolved_home / "mail"
    supervisor.start(
        "mail-sink",
        [
            sys.executable,
            "-m",
            "crealux.mailsink",
            "--host",
            settings.host,
            "--port",
            str(settings.smtp_port),
            "--dir",
            str(mail_dir),
        ],
    )


def start_runner(supervisor: Supervisor, settings: Settings) -> None:
    from crealux_core.orchestration import PrefectOrchestrator

    # A restart only needs the process: the deployments stay registered in Prefect.
    supervisor.start("runner", [sys.executable, "-m", "flows.serve"], requires=("prefect-server",))
    orchestrator = PrefectOrchestrator(settings.prefect_url)
    supervisor.wait_for(
        orchestrator.deployments_ready, timeout=120, what="the runner's deployments"
    )


def cli_has_command(name: str) -> bool:
    """Return True if `crealux <name>` exists."""
    import typer.main

    from crealux.cli import app

    return name in getattr(typer.main.get_command(app), "commands", {})


def start_maintainer(supervisor: Supervisor, settings: Settings) -> None:
    """Start `crealux maintain` (no health check), if this version of the CLI has it."""
    if not cli_has_command("maintain"):
        supervisor.echo("  (pas de commande `crealux maintain` : maintenance non démarrée)")
        return
    supervisor.start(
        "maintainer",
        [sys.executable, "-m", "crealux.cli", "maintain"],
        requires=("prefect-server",),
    )


def start_dashboard(supervisor: Supervisor, settings: Settings) -> None:
    supervisor.start(
        "dashboard",
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP_FILE),
            "--server.port",
            str(settings.dashboard_port),
            "--server.address",
            settings.host,
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            # as .streamlit/config.toml says, which Streamlit reads only from the directory
            # `crealux up` was started in: no developer menu ("Deploy") for advisors
            "--client.toolbarMode",
            "minimal",
        ],
        health=http_ok(f"{settings.dashboard_url}/_stcore/health"),
        health_timeout=90,
    )
    supervisor.wait_healthy("dashboard", timeout=90, what="the dashboard")
