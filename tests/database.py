"""The test databases: migrated once per session into a template, then one copy per test.

Which backend the tests use is read once, when this module is imported (before the autouse
`hermetic_environment` fixture removes every CREALUX_* variable):

- `CREALUX_TEST_DATABASE=sqlite` (the default): a SQLite file per test, copied from a template
  file migrated once per session.
- `CREALUX_TEST_DATABASE=postgresql`, or `CREALUX_TEST_DATABASE_URL` set: PostgreSQL. The URL
  names a server and a database to connect to for administration (default
  `postgresql://postgres@127.0.0.1:5432/postgres`); each session creates
  `crealux_template_<random>` there and each test `CREATE DATABASE crealux_test_<random> TEMPLATE`
  it, dropped after the test.

`python -m tests.database probe` exits 0 when the PostgreSQL server can be used, 3 when nothing
listens at its address (`make test` then skips the PostgreSQL pass), 1 when it answers but the
URL does not work.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Backend:
    name: str  # "sqlite" or "postgresql"
    server_url: str | None  # PostgreSQL: the database to connect to for CREATE/DROP DATABASE

    @property
    def is_postgresql(self) -> bool:
        return self.name == "postgresql"

    def describe(self) -> str:
        if self.server_url is None:
            return "SQLite (a copy of a migrated template file per test)"
        where = make_url(self.server_url).render_as_string(hide_password=True)
        return f"PostgreSQL at {where} (CREATE DATABASE ... TEMPLATE per test)"


def backend_from(environ: Mapping[str, str]) -> Backend:
    url = environ.get("CREALUX_TEST_DATABASE_URL") or None
    name = (environ.get("CREALUX_TEST_DATABASE") or ("postgresql" if url else "sqlite")).lower()
    if name in ("postgres", "pg"):
        name = "postgresql"
    if name not in BACKENDS:
        raise ValueError(f"CREALUX_TEST_DATABASE={name!r}: expected one of {', '.join(BACKENDS)}")
    if name == "sqlite":
        return Backend("sqlite", None)
    url = url or DEFAULT_POSTGRES_URL
    if make_url(url).get_backend_name() != "postgresql":
        raise ValueError(f"CREALUX_TEST_DATABASE_URL={url!r} is not a postgresql:// URL")
    return Backend("postgresql", url)


BACKEND = backend_from(os.environ)


def _database_url(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _admin(server_url: str, statement: str) -> None:
    """Run one statement outside a transaction, as CREATE/DROP DATABASE must be."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _create_postgres_database(server_url: str, name: str, *, template: str | None = None) -> str:
    _admin(
        server_url, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    )
    return _database_url(server_url, name)


def _drop_postgres_database(server_url: str, name: str) -> None:
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # ends open connections


def _random_suffix() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True)
class Template:
    """A migrated database, with the reference data, that each test gets a copy of."""

    backend: Backend
    url: str
    sqlite_path: Path | None = None
    postgres_name: str | None = None

    @contextmanager
    def copy(self, directory: Path) -> Iterator[str]:
        """Yield the URL of a new copy of the template; a PostgreSQL copy is dropped after."""
        if self.sqlite_path is not None:
            path = directory / "crealux.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.sqlite_path, path)
            yield f"sqlite:///{path}"
            return
        assert self.backend.server_url is not None and self.postgres_name is not None
        name = f"crealux_test_{_random_suffix()}"
        url = _create_postgres_database(self.backend.server_url, name, template=self.postgres_name)
        try:
            yield url
        finally:
            _drop_postgres_database(self.backend.server_url, name)


@contextmanager
def empty_database(backend: Backend, directory: Path) -> Iterator[str]:
    """Yield the URL of a new database with nothing in it (dropped after, on PostgreSQL)."""
    if backend.server_url is None:
        directory.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{directory / 'crealux.db'}"
        return
    name = f"crealux_test_{_random_suffix()}"
    url = _create_postgres_database(backend.server_url, name)
    try:
        yield url
    finally:
        _drop_postgres_database(backend.server_url, name)


@contextmanager
def template_database(
    backend: Backend, directory: Path, prepare: Callable[[str], None]
) -> Iterator[Template]:
    """Create the session's template: `prepare(url)` migrates it and adds the reference data.
    Every connection to it must be closed when `prepare` returns (PostgreSQL copies only an
    unused template)."""
    if backend.server_url is None:
        with empty_database(backend, directory) as url:
            prepare(url)
            path = directory / "crealux.db"
            connection = sqlite3.connect(path)
            try:  # fold the WAL into the one file that is copied
                connection.execute("PRAGMA journal_mode=DELETE")
            finally:
                connection.close()
            yield Template(backend, url, sqlite_path=path)
        return
    name = f"crealux_template_{_random_suffix()}"
    url = _create_postgres_database(backend.server_url, name)
    try:
        prepare(url)
        yield Template(backend, url, postgres_name=name)
    finally:
        _drop_postgres_database(backend.server_url, name)


def probe(backend: Backend, timeout: float = 3) -> int:
    """Print whether the PostgreSQL pass can run; return 0 if so, 3 when nothing listens at the
    server's address, 1 when something listens but the tests could not use it (a wrong URL)."""
    assert backend.server_url is not None
    url = make_url(backend.server_url)
    address = f"{url.host or 'localhost'}:{url.port or 5432}"
    try:
        socket.create_connection((url.host or "localhost", url.port or 5432), timeout).close()
    except OSError as error:
        print(f"PostgreSQL not reachable at {address}: the PostgreSQL pass is skipped ({error})")
        return 3
    engine = create_engine(
        backend.server_url, poolclass=NullPool, connect_args={"connect_timeout": int(timeout)}
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        shown = url.render_as_string(hide_password=True)
        why = getattr(error, "orig", None) or error
        print(f"PostgreSQL answers at {address} but {shown} cannot be used: {why}")
        return 1
    finally:
        engine.dispose()
    print(f"PostgreSQL reachable at {address}: the PostgreSQL pass runs")
    return 0


def main(argv: list[str]) -> int:
    if argv != ["probe"]:
        print("usage: python -m tests.database probe", file=sys.stderr)
        return 2
    return probe(backend_from({**os.environ, "CREALUX_TEST_DATABASE": "postgresql"}))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
