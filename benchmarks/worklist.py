"""An advisor's day at scale: the worklist and the participants list over 10,000 participants and
50,000 steps.

Builds a fresh database migrated with crealux_core.db.migrate (SQLite in a temporary directory;
PostgreSQL too with --database-url, a server URL where a new database is created and dropped
afterwards) with bulk inserts: N participants spread over 20 advisors (the demo's `conseillere`
among them), each with one pathway of 5 steps: 4 closed and one open (one pathway in 10 ended,
every step closed; one in 20 has its open step scheduled instead; one in 10 has an optional step
open beside it), and 2 events. Then times, for an advisor and for the coordinator, the services
`worklist` and `participants_page` (first page, a filtered page, the last page; median of 5), and
the first paint of both pages with Streamlit's AppTest (a new session each time, signed in:
target under 1 s).

    .venv/bin/python benchmarks/worklist.py [--participants 10000] [--database-url URL]

A minute or two. Prints the numbers and appends a JSON line to benchmarks/results/worklist.json.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchkit import REPO, machine, summary, write_result

CHUNK = 10_000
ADVISORS = 20
STEPS_PER_PATHWAY = 5
KEYS = ["first_reception", "socio_professional_assessment", "orientation", "training", "job_search"]
REPEAT = 5


def say(line: str) -> None:
    print(line, flush=True)


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on that server; dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    name = f"crealux_bench_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _insert(connection: Any, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in chunks with ids of our own, after the table's; return the ids."""
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


def build(runtime: Any, *, participants: int, now: datetime) -> dict[str, int]:
    """Fill the database; return what it holds."""
    from sqlmodel import select

    from crealux.demo import ensure_reference_data
    from crealux_core.models import (
        EventKind,
        Gender,
        Organisation,
        Participant,
        PathwayEvent,
        PathwayRun,
        PathwayStatus,
        Role,
        StepRun,
        StepStatus,
        User,
    )
    from crealux_core.services.definitions import register_definitions

    ensure_reference_data(runtime)
    rules = runtime.rules
    pathway = rules.pathway()
    optional_key = next(iter(pathway.optional), KEYS[0])
    with runtime.session() as session:
        register_definitions(session=session, rules=rules, now=now)
        advisor = session.exec(select(User).where(User.username == "conseillere")).one()
        organisations = {o.key: o.id for o in session.exec(select(Organisation)).all()}
    concerns = {key: organisations[pathway.step(key).concerns] for key in KEYS}
    concerns[optional_key] = organisations[pathway.step(optional_key).concerns]
    digest = pathway.digest()
    counts = {"participants": participants, "steps": 0, "open_steps": 0, "events": 0}
    with runtime.engine.begin() as connection:
        extra = _insert(
            connection,
            User.__table__,  # type: ignore[attr-defined]
            [
                {
                    "username": f"bench-advisor-{n}",
                    "display_name": f"Conseiller·ère {n}",
                    "role": Role.ADVISOR,
                    "organisation_id": advisor.organisation_id,
                    "password_hash": "-",
                    "active": True,
                }
                for n in range(ADVISORS - 1)
            ],
        )
        advisors = [advisor.id, *extra]
        people = _insert(
            connection,
            Participant.__table__,  # type: ignore[attr-defined]
            [
                {
                    "first_name": ("Anne", "Marc", "Sophie", "Karim", "Lea")[n % 5],
                    "last_name": f"Essai {n}",
                    "gender": Gender.FEMALE if n % 2 else Gender.MALE,
                    "advisor_id": advisors[n % ADVISORS],
                    "enrolled_at": now - timedelta(days=60 + n % 300),
                    "municipality": "Durbuy",
                }
                for n in range(participants)
            ],
        )
        runs = _insert(
            connection,
            PathwayRun.__table__,  # type: ignore[attr-defined]
            [
                {
                    "participant_id": person,
                    "pathway_key": pathway.key,
                    "pathway_version": pathway.version,
                    "definition_digest": digest,
                    "status": PathwayStatus.COMPLETED if n % 10 == 9 else PathwayStatus.ACTIVE,
                    "started_at": now - timedelta(days=60),
                    "generation": 0,
                    "heal_attempts": 0,
                }
                for n, person in enumerate(people)
            ],
        )
        steps, events = [], []
        for n, run in enumerate(runs):
            owner = advisors[n % ADVISORS]
            ended = n % 10 == 9
            for seq, key in enumerate(KEYS, start=1):
                last = seq == STEPS_PER_PATHWAY
                status = StepStatus.COMPLETED
                if last and not ended:
                    status = StepStatus.SCHEDULED if n % 20 == 3 else StepStatus.OPEN
                reached = now - timedelta(days=50 - seq * 8)
                due = now + timedelta(days=(n % 40) - 10) if status is StepStatus.OPEN else None
                steps.append(
                    {
                        "pathway_run_id": run,
                        "seq": seq,
                        "step_key": key,
                        "status": status,
                        "reached_at": reached,
                        "opened_at": reached,
                        "due_at": due,
                        "closed_at": None if status is not StepStatus.COMPLETED else reached,
                        "assignee_id": owner if pathway.step(key).role == Role.ADVISOR else None,
                        "organisation_id": concerns[key],
                        "optional": False,
                    }
                )
            if n % 10 == 4:
                steps.append(
                    {
                        "pathway_run_id": run,
                        "seq": STEPS_PER_PATHWAY + 1,
                        "step_key": optional_key,
                        "status": StepStatus.OPEN,
                        "reached_at": now - timedelta(days=2),
                        "opened_at": now - timedelta(days=2),
                        "due_at": now + timedelta(days=1),
                        "closed_at": None,
                        "assignee_id": owner,
                        "organisation_id": concerns[optional_key],
                        "optional": True,
                    }
                )
            for days in (20, n % 15):
                events.append(
                    {
                        "pathway_run_id": run,
                        "kind": EventKind.COMMENT,
                        "payload": {},
                        "occurred_at": now - timedelta(days=days),
                        "recorded_at": now - timedelta(days=days),
                    }
                )
        _insert(connection, StepRun.__table__, steps)  # type: ignore[attr-defined]
        _insert(connection, PathwayEvent.__table__, events)  # type: ignore[attr-defined]
    counts["steps"] = len(steps)
    counts["open_steps"] = sum(1 for step in steps if step["status"] is StepStatus.OPEN)
    counts["events"] = len(events)
    return counts


def timed(call: Callable[[], Any], repeat: int = REPEAT) -> tuple[dict[str, Any], Any]:
    samples, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = call()
        samples.append(time.perf_counter() - started)
    return summary(samples, digits=4), value


def measure_queries(runtime: Any, now: datetime) -> dict[str, Any]:
    from crealux_core.services.users import get_user
    from crealux_core.services.worklist import WorklistFilters, participants_page, worklist

    rules, results = runtime.rules, {}
    for username in ("conseillere", "coordination"):
        with runtime.session() as session:
            user = get_user(session=session, username=username)

            def steps(page: int = 1, filters: Any = WorklistFilters(), user: Any = user) -> Any:
                with runtime.session() as session:
                    return worklist(
                        session=session, rules=rules, user=user, now=now, filters=filters, page=page
                    )

            def people(page: int = 1, search: str = "", user: Any = user) -> Any:
                with runtime.session() as session:
                    return participants_page(
                        session=session, rules=rules, user=user, search=search, page=page
                    )

            first, page = timed(steps)
            filtered, filtered_page = timed(
                lambda: steps(filters=WorklistFilters(step_key="job_search", participant="sophie"))
            )
            last, last_page = timed(lambda p=page.pages: steps(page=p))
            p_first, p_page = timed(people)
            p_search, p_found = timed(lambda: people(search="essai 12"))
            p_last, _ = timed(lambda p=p_page.pages: people(page=p))
        results[username] = {
            "worklist": {
                "total": page.total,
                "pages": page.pages,
                "first_page_s": first,
                "filtered_s": {**filtered, "total": filtered_page.total},
                "last_page_s": {**last, "rows": len(last_page.rows)},
            },
            "participants": {
                "total": p_page.total,
                "pages": p_page.pages,
                "first_page_s": p_first,
                "search_s": {**p_search, "total": p_found.total},
                "last_page_s": p_last,
            },
        }
        say(
            f"    {username}: worklist {page.total} steps, first {first['p50'] * 1000:.1f} ms,"
            f" filtered {filtered['p50'] * 1000:.1f} ms, last page"
            f" {last['p50'] * 1000:.1f} ms; participants {p_page.total}, first"
            f" {p_first['p50'] * 1000:.1f} ms, search {p_search['p50'] * 1000:.1f} ms, last"
            f" {p_last['p50'] * 1000:.1f} ms"
        )
    return results


def measure_paint(runtime: Any, url: str, home: Path) -> dict[str, Any]:
    """Time a new signed-in session's first run of each page, as AppTest runs it."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from crealux_core.services.users import get_user

    app_file = REPO / "dashboards" / "app.py"
    os.environ.update({"CREALUX_HOME": str(home), "CREALUX_DATABASE_URL": url})
    st.cache_resource.clear()
    results: dict[str, Any] = {}
    for username in ("conseillere", "coordination"):
        with runtime.session() as session:
            user_id = get_user(session=session, username=username).id
        for page in ("views/worklist.py", "views/participants.py"):
            samples = []
            for _ in range(REPEAT + 1):  # the first one loads the rules and warms the caches
                at = AppTest.from_file(str(app_file), default_timeout=60)
                at.session_state["user_id"] = user_id
                if page != "views/worklist.py":
                    # AppTest ignores a switch before its first run: run the default page
                    # first (untimed), then time the switched page's run.
                    at.run()
                    at.switch_page(page)
                started = time.perf_counter()
                at.run()
                samples.append(time.perf_counter() - started)
                if at.exception:
                    raise RuntimeError(f"{page} as {username}: {at.exception[0].message}")
                shown = [title.value for title in at.title]
                if page == "views/participants.py" and shown != ["Participants"]:
                    raise RuntimeError(f"{page} as {username} shows {shown}")
            results[f"{username} {page}"] = {
                "cold_s": round(samples[0], 3),
                **summary(samples[1:], digits=3),
            }
            say(
                f"    first paint {username} {page}: {statistics.median(samples[1:]):.3f} s"
                f" (cold {samples[0]:.2f} s)"
            )
    st.cache_resource.clear()
    return results


def measure(url: str, *, backend: str, participants: int, paint: bool) -> dict[str, Any]:
    from sqlalchemy import text

    from crealux_core.clock import utcnow
    from crealux_core.db import migrate
    from crealux_core.runtime import Runtime
    from crealux_core.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="crealux-bench-worklist-"))
    runtime = Runtime(Settings(home=home, database_url=url))
    try:
        migrate(url)
        now = utcnow()
        started = time.monotonic()
        counts = build(runtime, participants=participants, now=now)
        built = time.monotonic() - started
        with runtime.engine.begin() as connection:  # what autovacuum / a first ANALYZE does
            connection.execute(text("ANALYZE"))
        say(f"  {backend}: {counts} inserted in {built:.1f} s")
        result: dict[str, Any] = {
            "backend": backend,
            **counts,
            "insert_s": round(built, 2),
            "queries": measure_queries(runtime, now),
        }
        if paint:
            result["first_paint"] = measure_paint(runtime, url, home)
            worst = max(value["p50"] for value in result["first_paint"].values())
            result["meets_target"] = worst < 1.0
        return result
    finally:
        if "engine" in runtime.__dict__:
            runtime.engine.dispose()
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server (postgresql://user@host/postgres) to use too"
    )
    parser.add_argument("--no-paint", action="store_true", help="skip the AppTest first paints")
    args = parser.parse_args()

    result: dict[str, Any] = {"machine": machine(), "args": vars(args), "runs": []}
    directory = Path(tempfile.mkdtemp(prefix="crealux-bench-sqlite-"))
    try:
        url = f"sqlite:///{directory / 'crealux.db'}"
        result["runs"].append(
            measure(url, backend="sqlite", participants=args.participants, paint=not args.no_paint)
        )
        if args.database_url:
            with postgres_database(args.database_url) as pg_url:
                result["runs"].append(
                    measure(
                        pg_url,
                        backend="postgresql",
                        participants=args.participants,
                        paint=not args.no_paint,
                    )
                )
    except KeyboardInterrupt:
        say("interrupted: the temporary databases were removed")
        return 130
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("worklist", result)
    say(f"appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
