"""Upgrading an instance of the walking skeleton: its decisions become events, nothing is lost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from crealux_core.db import alembic_config, migrate

ROWS = [
    "INSERT INTO organisation (key, name, kind) VALUES ('o', 'O', 'COORDINATOR')",
    "INSERT INTO app_user (username, display_name, role, organisation_id, password_hash, active)"
    " VALUES ('u', 'U', 'ADVISOR', 1, 'x', true)",
    "INSERT INTO participant (first_name, last_name, gender, advisor_id, enrolled_at)"
    " VALUES ('a', 'b', 'FEMALE', 1, '2026-11-01 10:00:00')",
    "INSERT INTO pathway_run (participant_id, pathway_key, pathway_version, status, started_at)"
    " VALUES (1, 'crealux', 1, 'ACTIVE', '2026-11-01 10:00:00')",
    "INSERT INTO step_run (pathway_run_id, seq, step_key, status, opened_at, due_at,"
    " completed_at, organisation_id) VALUES (1, 1, 'first_reception', 'COMPLETED',"
    " '2026-11-01 10:00:00', '2026-11-08 10:00:00', '2026-11-02 10:00:00', 1)",
    "INSERT INTO step_run (pathway_run_id, seq, step_key, status, opened_at, due_at,"
    " organisation_id) VALUES (1, 2, 'socio_professional_assessment', 'OPEN',"
    " '2026-11-02 10:00:00', '2026-11-23 10:00:00', 1)",
    "INSERT INTO decision (step_run_id, actor_id, outcome, note, decided_at, delivery_attempts)"
    " VALUES (1, 1, '{\"consent_given\": true}', 'vu', '2026-11-02 10:00:00', 0)",
]


def _postgres_reachable() -> bool:
    try:
        sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres").connect().close()
    except Exception:
        return False
    return True


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not _postgres_reachable():
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    name = f"crealux_upgrade_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def test_an_instance_of_the_skeleton_upgrades_with_its_decisions_as_events(
    empty_database: str,
) -> None:
    command.upgrade(alembic_config(empty_database), "0001")
    engine = sa.create_engine(empty_database)
    with engine.begin() as connection:
        for row in ROWS:
            connection.exec_driver_sql(row)
    migrate(empty_database)
    migrate(empty_database)  # a second run changes nothing
    with engine.connect() as connection:
        events = connection.exec_driver_sql(
            "SELECT kind, step_run_id, actor_id, note FROM pathway_event"
        ).all()
        steps = connection.exec_driver_sql(
            "SELECT seq, status, reached_at IS NOT NULL, closed_at IS NOT NULL FROM step_run"
            " ORDER BY seq"
        ).all()
        run = connection.exec_driver_sql("SELECT last_event_id, generation FROM pathway_run").one()
    engine.dispose()
    assert [tuple(event) for event in events] == [("DECISION", 1, 1, "vu")]
    assert [tuple(step) for step in steps] == [
        (1, "COMPLETED", True, True),
        (2, "OPEN", True, False),
    ]
    assert tuple(run) == (1, 0)
