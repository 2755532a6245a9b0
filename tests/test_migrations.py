"""The migrations build the schema the models describe, on the backend the tests run on
(SQLite, or PostgreSQL: see tests/database.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import SQLModel

import crealux_core.models  # noqa: F401
from crealux_core.db import alembic_config, make_engine, migrate
from crealux_core.settings import Settings
from tests.database import BACKEND, empty_database


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    with empty_database(BACKEND, tmp_path / "empty") as url:
        yield url


def test_migrations_build_the_schema_the_models_describe(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_migrating_again_changes_nothing(settings: Settings, engine: Engine) -> None:
    migrate(settings.app_database_url)
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    assert current == head_revision(settings.app_database_url)


def test_an_empty_database_is_migrated_to_the_head_one_revision_at_a_time(
    empty_database_url: str,
) -> None:
    """Upgrades only, from nothing, each revision on the schema the one before left (as a
    deployment that moves one release at a time sees them), on this run's backend."""
    config = alembic_config(empty_database_url)
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1, "the migrations have more than one head"
    for revision in reversed(list(script.walk_revisions("base", "heads"))):
        command.upgrade(config, revision.revision)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == script.get_current_head()
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()
