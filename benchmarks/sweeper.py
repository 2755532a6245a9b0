"""The deadline sweeper over 100,000 open steps, 5 % of them due.

Builds a fresh database migrated with crealux_core.db.migrate (SQLite in a temporary directory,
then PostgreSQL at 127.0.0.1:5432 if a server answers: a new database, dropped afterwards) with
bulk inserts: N participants, each with one pathway run and one open step (the sweep's cost is
per step). One step in 20 is due: half of those have their reminder due, half (reminded long ago)
their escalation. Then times `crealux_core.services.deadlines.sweep(...)` (target: under 5 s),
checks that each due step queued exactly one notification (event keys `reminder:<id>` and
`escalation:<id>`, nothing else) and that a second sweep queues nothing, and times that second,
idle sweep (what the maintainer pays every 15 s).

    .venv/bin/python benchmarks/sweeper.py [--steps 100000] [--due-share 0.05] [--no-postgres]

About a minute. Prints the numbers and appends a JSON line to benchmarks/results/sweeper.json.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchkit import machine, port_open, wait_until_load_below, write_result

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CHUNK = 10_000
# Where an open step can be, and whether an advisor (True) or the organisation completes it.
STEP_KEYS = [
    ("first_reception", True),
    ("socio_professional_assessment", True),
    ("orientation", True),
    ("social_accompaniment", False),
    ("business_creation", False),
    ("training", False),
    ("job_search", True),
]


def say(line: str) -> None:
    print(line, flush=True)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    name = f"crealux_bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _table(model: Any) -> Any:
    return model.__table__


def _insert(connection: Any, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in chunks with ids of our own (the table is empty); return the ids. On
    PostgreSQL the id sequence is moved past them, as if the database had numbered them."""
    from sqlalchemy import insert, text

    first = 1 + (
        connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table.name}")).scalar()
    )
    ids = list(range(first, first + len(rows)))
    for start in range(0, len(rows), CHUNK):
        chunk = [
            {"id": row_id, **row}
            for row_id, row in zip(
                ids[start : start + CHUNK], rows[start : start + CHUNK], strict=True
            )
        ]
        connection.execute(insert(table), chunk)
    if connection.dialect.name == "postgresql" and ids:
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {ids[-1]})")
        )
    return ids


def build(runtime: Any, *, steps: int, due_share: float, now: datetime) -> dict[str, set[str]]:
    """Fill the database; return the notification event keys the sweep must queue."""
    from sqlmodel import select

    from crealux.demo import ensure_reference_data
    from crealux_core.models import (
        Gender,
        Organisation,
        Participant,
        PathwayRun,
        PathwayStatus,
        StepRun,
        StepStatus,
        User,
    )
    from crealux_core.services.definitions import register_definitions

    ensure_reference_data(runtime)
    rules = runtime.rules
    pathway = rules.pathway()
    with runtime.session() as session:
        register_definitions(session=session, rules=rules, now=now)
        advisor_id = session.exec(select(User.id).where(User.username == "conseillere")).one()
        organisations = {o.key: o.id for o in session.exec(select(Organisation)).all()}
    digest = pathway.digest()  # a hash of the whole definition: once, not per row
    concerns = {key: organisations[pathway.step(key).concerns] for key, _ in STEP_KEYS}
    every = max(1, round(1 / due_share)) if due_share > 0 else 0
    enrolled = now - timedelta(days=30)
    participants = [
        {
            "first_name": "Banc",
            "last_name": f"Essai {number}",
            "gender": Gender.FEMALE,
            "advisor_id": advisor_id,
            "enrolled_at": enrolled,
        }
        for number in range(steps)
    ]
    expected: dict[str, set[str]] = {"reminder": set(), "escalation": set()}
    with runtime.engine.begin() as connection:
        participant_ids = _insert(connection, _table(Participant), participants)
        run_ids = _insert(
            connection,
            _table(PathwayRun),
            [
                {
                    "participant_id": participant_id,
                    "pathway_key": pathway.key,
                    "pathway_version": pathway.version,
                    "definition_digest": digest,
                    "status": PathwayStatus.ACTIVE,
                    "started_at": enrolled,
                    "generation": 0,
                    "heal_attempts": 0,
                }
                for participant_id in participant_ids
            ],
        )
        kinds: list[str | None] = []
        rows = []
        for number, run_id in enumerate(run_ids):
            step_key, by_advisor = STEP_KEYS[number % len(STEP_KEYS)]
            opened = now - timedelta(days=1 + number % 5)
            kind = None
            if every and number % every == 0:
                kind = "reminder" if (number // every) % 2 == 0 else "escalation"
            kinds.append(kind)
            if kind == "reminder":  # reminder due, not yet sent
                remind, due, escalate, reminded = (
                    now - timedelta(hours=1),
                    now + timedelta(days=2),
                    now + timedelta(days=9),
                    None,
                )
            elif kind == "escalation":  # reminded long ago, past due, escalation due
                remind, due, escalate, reminded = (
                    now - timedelta(days=10),
                    now - timedelta(days=3),
                    now - timedelta(hours=1),
                    now - timedelta(days=10),
                )
            else:  # nothing due yet
                remind = now + timedelta(days=1 + number % 10, hours=number % 24)
                due, escalate, reminded = (
                    remind + timedelta(days=3),
                    remind + timedelta(days=10),
                    None,
                )
            rows.append(
                {
                    "pathway_run_id": run_id,
                    "seq": 1,
                    "step_key": step_key,
                    "status": StepStatus.OPEN,
                    "reached_at": opened,
                    "opens_at": opened,
                    "opened_at": opened,
                    "due_at": due,
                    "remind_at": remind,
                    "escalate_at": escalate,
                    "overdue_at": None,
                    "reminded_at": reminded,
                    "escalated_at": None,
                    "closed_at": None,
                    "assignee_id": advisor_id if by_advisor else None,
                    "organisation_id": concerns[step_key],
                }
            )
        step_ids = _insert(connection, _table(StepRun), rows)
        for step_id, kind in zip(step_ids, kinds, strict=True):
            if kind is not None:
                expected[kind].add(f"{kind}:{step_id}")
    return expected


def measure(url: str, *, backend: str, steps: int, due_share: float) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlmodel import func, select

    from crealux_core.clock import utcnow
    from crealux_core.db import migrate
    from crealux_core.models import Notification
    from crealux_core.runtime import Runtime
    from crealux_core.services.deadlines import sweep
    from crealux_core.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="crealux-bench-sweep-"))
    runtime = Runtime(Settings(home=home, database_url=url))
    try:
        migrate(url)
        now = utcnow()
        t = time.monotonic()
        expected = build(runtime, steps=steps, due_share=due_share, now=now)
        built = time.monotonic() - t
        if backend == "postgresql":  # what autovacuum does soon after a bulk load
            with runtime.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        due = sum(len(keys) for keys in expected.values())
        say(f"  {backend}: {steps} open steps, {due} due, inserted in {built:.1f} s; sweeping")

        load_before = [round(x, 2) for x in os.getloadavg()]
        with runtime.session() as session:
            t = time.monotonic()
            first = sweep(
                session=session, rules=runtime.rules, now=now, dashboard_url="http://bench"
            )
            first_s = time.monotonic() - t
        with runtime.session() as session:
            keys = list(session.exec(select(Notification.event_key)).all())
        with runtime.session() as session:
            t = time.monotonic()
            second = sweep(
                session=session, rules=runtime.rules, now=now, dashboard_url="http://bench"
            )
            second_s = time.monotonic() - t
            after_second = session.exec(select(func.count()).select_from(Notification)).one()

        all_expected = expected["reminder"] | expected["escalation"]
        checks = {
            "notifications": len(keys),
            "due_steps": due,
            "each_due_step_once": len(keys) == len(set(keys)) == due and set(keys) == all_expected,
            "second_sweep_queued": after_second - len(keys),
            "second_sweep_counts": second.as_json(),
        }
        result = {
            "backend": backend,
            "open_steps": steps,
            "due_steps": due,
            "reminders_due": len(expected["reminder"]),
            "escalations_due": len(expected["escalation"]),
            "insert_s": round(built, 2),
            "sweep_s": round(first_s, 3),
            "sweep_counts": first.as_json(),
            "idle_sweep_s": round(second_s, 3),
            "checks": checks,
            "ok": bool(checks["each_due_step_once"])
            and checks["second_sweep_queued"] == 0
            and not any(second.as_json().values()),
            "meets_target": first_s < 5.0,
            "loadavg_before": load_before,
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        }
        say(
            f"  {backend}: sweep {first_s:.2f} s ({first.as_json()}), idle sweep"
            f" {second_s:.3f} s, each notification once: {result['ok']}"
        )
        return result
    finally:
        if "engine" in runtime.__dict__:
            runtime.engine.dispose()
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--due-share", type=float, default=0.05)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--quiet-load", type=float, default=2.0, help="wait for a load below")
    parser.add_argument("--patience", type=float, default=0, help="...at most this long (s)")
    args = parser.parse_args()

    wait_until_load_below(args.quiet_load, patience=args.patience, say=say)
    result: dict[str, Any] = {"machine": machine(), "args": vars(args), "runs": []}
    try:
        directory = Path(tempfile.mkdtemp(prefix="crealux-bench-sqlite-"))
        try:
            url = f"sqlite:///{directory / 'crealux.db'}"
            result["runs"].append(
                measure(url, backend="sqlite", steps=args.steps, due_share=args.due_share)
            )
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if args.no_postgres:
            result["postgresql"] = "not asked (--no-postgres)"
        elif not port_open(5432):
            result["postgresql"] = "skipped: nothing listens at 127.0.0.1:5432"
            say(f"  {result['postgresql']}")
        else:
            with postgres_database() as url:
                result["runs"].append(
                    measure(url, backend="postgresql", steps=args.steps, due_share=args.due_share)
                )
    except KeyboardInterrupt:
        say("interrupted: the temporary databases were removed")
        return 130
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("sweeper", result)
    for run in result["runs"]:
        say(
            f"{run['backend']}: sweep of {run['open_steps']} open steps with {run['due_steps']} due"
            f" {run['sweep_s']:.2f} s (target 5 s), idle sweep {run['idle_sweep_s']:.3f} s,"
            f" each notification once: {run['ok']}"
        )
    say(f"load {result['machine']['loadavg']} -> {result['machine']['loadavg_end']} ({path})")
    return 0 if all(run["ok"] for run in result["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
