"""Shared fixtures: a migrated database per test, the repo's rules, seeded participants.

Each test gets its own copy of a database migrated once per session (SQLite by default;
PostgreSQL with CREALUX_TEST_DATABASE=postgresql or CREALUX_TEST_DATABASE_URL: see
tests/database.py). The Prefect, SMTP and runner fixtures of the end-to-end tests live in
tests/e2e/conftest.py.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from crealux.demo import ensure_reference_data
from crealux_core.db import migrate, new_session
from crealux_core.models import Gender, ParticipantCreate, StepRun
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules, load_rules
from crealux_core.runtime import Runtime
from crealux_core.services.events import current_step
from crealux_core.services.participants import enroll_participant
from crealux_core.services.users import get_user
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.database import BACKEND, Template, template_database
from tests.smtp import SmtpSink, start_smtp

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DASHBOARD_URL = "http://dashboard.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ() -> dict[str, str]:
    """Return this process's environment without any CREALux or Prefect setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CREALUX_", "PREFECT_"))}


@pytest.fixture(autouse=True, scope="session")
def hermetic_environment() -> Iterator[None]:
    """Keep a developer's own CREALUX_* / PREFECT_* settings out of the tests."""
    with pytest.MonkeyPatch.context() as patch:
        for name in set(os.environ) - set(clean_environ()):
            patch.delenv(name)
        yield


@pytest.fixture
def unreachable_orchestrator() -> PrefectOrchestrator:
    """A real Prefect client aimed at a port where nothing listens (the server is down)."""
    return PrefectOrchestrator(f"http://127.0.0.1:{free_port()}/api", timeout=2)


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules(REPO_RULES_DIR, env={"CREALUX_SMTP_PORT": "8025"})


def pytest_report_header() -> str:
    return f"test database: {BACKEND.describe()}"


def instance_settings(home: Path, database_url: str) -> Settings:
    return Settings(
        home=home,
        database_url=database_url,
        rules_dir=REPO_RULES_DIR,
        prefect_port=free_port(),
        smtp_port=free_port(),
        dashboard_port=free_port(),
    )


@pytest.fixture(scope="session")
def database_template(
    hermetic_environment: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Template]:
    """The schema migrated once per session, with the reference data (organisations, and the
    demo users while `ensure_reference_data` creates them), that each test gets a copy of."""

    def prepare(url: str) -> None:
        migrate(url)
        instance = Runtime(instance_settings(tmp_path_factory.mktemp("template-home"), url))
        try:
            ensure_reference_data(instance)
        finally:
            instance.engine.dispose()  # PostgreSQL copies a template only when nobody uses it

    with template_database(BACKEND, tmp_path_factory.mktemp("template"), prepare) as template:
        yield template


@pytest.fixture
def database_url(database_template: Template, tmp_path: Path) -> Iterator[str]:
    """This test's own copy of the template (a PostgreSQL copy is dropped after the test)."""
    with database_template.copy(tmp_path / "home") as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # on every backend, as after `crealux init`
    return instance_settings(home, database_url)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A migrated instance with the organisations and demo users, and no participant yet
    (`ensure_reference_data` ran once, on the session's template)."""
    instance = Runtime(settings)
    yield instance
    instance.engine.dispose()


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    return runtime.engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with new_session(engine) as session:
        yield session


@dataclass(frozen=True)
class Enrolled:
    participant_id: int
    pathway_run_id: int
    first_step: StepRun


@pytest.fixture
def enroll(session: Session, rules: Rules, unreachable_orchestrator: PrefectOrchestrator):
    """Enroll a participant: their first step is open when enrolment returns (no Prefect)."""

    def _enroll(first_name: str = "Sophie", advisor: str = "conseillere") -> Enrolled:
        participant, run = enroll_participant(
            session=session,
            rules=rules,
            data=ParticipantCreate(first_name=first_name, last_name="Test", gender=Gender.FEMALE),
            advisor=get_user(session=session, username=advisor),
            now=T0,
            orchestrator=unreachable_orchestrator,
            dashboard_url=DASHBOARD_URL,
        )
        step = current_step(session, run.id or 0)
        assert step is not None
        return Enrolled(participant.id or 0, run.id or 0, step)

    return _enroll


@pytest.fixture
def smtp(settings: Settings) -> Iterator[SmtpSink]:
    """A real SMTP server on the port the rules' mailto:// addresses point at."""
    sink, controller = start_smtp(settings.smtp_port)
    yield sink
    controller.stop()
