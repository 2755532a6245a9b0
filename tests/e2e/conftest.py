"""One real instance for the end-to-end tests: a Prefect server, a runner serving the deployments
(started by the same code as `crealux up`), a migrated database (SQLite, or PostgreSQL: see
tests/database.py) and a real SMTP server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from sqlmodel import Session

from crealux.demo import ensure_reference_data
from crealux.launcher import Supervisor, instance_env, start_prefect_server, start_runner
from crealux_core.db import migrate
from crealux_core.runtime import Runtime
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.conftest import free_port
from tests.database import BACKEND, empty_database
from tests.smtp import SmtpSink, start_smtp

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout: float = 60, what: str) -> T:
    """Poll a real system until `probe` returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Instance:
    runtime: Runtime
    smtp: SmtpSink
    home: Path
    env: dict[str, str]  # for subprocesses that belong to this instance (the CLI)

    def session(self) -> Session:
        return self.runtime.session()

    def suspended_on(self, flow_run_id: str, key: str) -> bool:
        state, pause_key = self.runtime.orchestrator.run_state(flow_run_id)
        return state == "Suspended" and pause_key == key


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
        runner_poll_seconds=1,
    )
    env = instance_env(settings)
    migrate(settings.app_database_url)
    runtime = Runtime(settings)
    ensure_reference_data(runtime)
    smtp, controller = start_smtp(settings.smtp_port)
    supervisor = Supervisor(log_dir=home / "logs", env=env)
    try:
        start_prefect_server(supervisor, settings)
        start_runner(supervisor, settings)
        yield Instance(runtime=runtime, smtp=smtp, home=home, env=env)
    finally:
        supervisor.stop_all()
        controller.stop()
        runtime.engine.dispose()
