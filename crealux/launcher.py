"""`crealux up`: one instance on its embedded default, every process it starts stopped on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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


@dataclass
class Supervisor:
    """Start child processes in their own sessions and stop them in reverse order."""

    log_dir: Path
    env: Mapping[str, str]
    children: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv, env=dict(self.env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children.append((name, process, log))
        return process

    def check_alive(self) -> None:
        for name, process, _ in self.children:
            if process.poll() is not None:
                raise StartError(
                    f"{name} stopped (exit {process.returncode}); see {self.log_dir / name}.log"
                )

    def stop_all(self, timeout: float = 15) -> None:
        for _name, process, _log in reversed(self.children):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process, log in reversed(self.children):
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()
        self.children.clear()


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
    )
    wait_until(http_ok(f"{settings.prefect_url}/health"), timeout=120, what="the Prefect server")


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

    supervisor.start("runner", [sys.executable, "-m", "flows.serve"])
    orchestrator = PrefectOrchestrator(settings.prefect_url)
    wait_until(orchestrator.deployments_ready, timeout=120, what="the runner's deployments")


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
        ],
    )
    wait_until(
        http_ok(f"{settings.dashboard_url}/_stcore/health"), timeout=90, what="the dashboard"
    )
