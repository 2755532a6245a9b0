"""The funder report at scale: `indicator_report` over 100,000 participants and 1,000,000 events.

Builds a fresh database migrated with crealux_core.db.migrate (SQLite in a temporary directory;
PostgreSQL too with --database-url, a server URL where a new database is created and dropped
afterwards) with bulk inserts (benchmarks/coordinator_data.py): N participants who entered over
the programme's two years (and a few weeks before it), each with a pathway of version 4 walked to
`now` (the end of the programme: the final report), its steps, decision events and comments up
to E events in all, one participant in ten who left coming back for a second stay, and the facts
the decisions record (stays, entry situations, exit situations on leaving and six months later,
businesses, trainings, placements) with outreach actions and structures sensitised.

Then times `crealux_core.services.reports.indicator_report`, as the coordinator, for
- the programme's whole period with the gender breakdown (the target: under 2 s),
- the same with `by=("age_band", "organisation", "municipality", "sector")`,
- one calendar year (2026) with the gender breakdown,
each in a new process: cold (the first call after opening the engine, connecting included; the
rules are loaded first) and warm (median of 5). The same process counts the queries of one call
with the slowest ones, the peak RSS before and after the calls (resource.getrusage) and the peak
of Python allocations during one call (tracemalloc): a report that loaded the rows into Python
would show them. With --explain, or when a report misses its target, the slowest query's plan
is printed (EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL).

The totals are checked against plain SQL counts (participants with a stay in the period, entries
in it) and every gender breakdown against its total.

    .venv/bin/python benchmarks/indicators.py [--participants 100000] [--events 1000000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--explain]

About 5 minutes for both backends on two cores, most of it the insert. Prints the numbers and
appends a JSON line to benchmarks/results/indicators.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchkit import REPO, loadavg, machine, summary, write_result
from worklist import postgres_database

TARGET_S = 2.0
REPEAT = 5
NOW = datetime(2027, 12, 20, 9, 0, tzinfo=UTC)  # the programme's last days: the final report
SINCE = date(2025, 11, 1)  # some stays began before the programme
VARIANTS: dict[str, dict[str, Any]] = {
    "programme, by gender": {"start": None, "end": None, "by": ("gender",)},
    "programme, by age band, organisation, municipality, sector": {
        "start": None,
        "end": None,
        "by": ("age_band", "organisation", "municipality", "sector"),
    },
    "year 2026, by gender": {
        "start": date(2026, 1, 1),
        "end": date(2026, 12, 31),
        "by": ("gender",),
    },
}


def say(line: str) -> None:
    print(line, flush=True)


# -- in a process of its own: one variant, cold then warm ---------------------------------------


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _explain(engine: Any, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            sql = f"EXPLAIN (ANALYZE, BUFFERS) {statement}"
        else:
            sql = f"EXPLAIN QUERY PLAN {statement}"
        return [
            " | ".join(str(v) for v in row) for row in connection.exec_driver_sql(sql, parameters)
        ]


def probe(url: str, variant: str, explain: bool) -> dict[str, Any]:
    """Time one variant of the report in this fresh process; return the numbers."""
    from sqlalchemy import event

    from crealux_core.runtime import Runtime
    from crealux_core.services.reports import indicator_report
    from crealux_core.services.users import get_user
    from crealux_core.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="crealux-bench-indicators-probe-"))
    runtime = Runtime(Settings(home=home, database_url=url))
    rules = runtime.rules
    asked = VARIANTS[variant]
    engine = runtime.engine  # no connection yet

    def report(user: Any = None) -> Any:
        with runtime.session() as session:
            who = user or get_user(session=session, username="coordination")
            return who, indicator_report(
                session=session,
                rules=rules,
                user=who,
                start=asked["start"],
                end=asked["end"],
                by=asked["by"],
                now=NOW,
            )

    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    user, result = report()
    cold = time.perf_counter() - started
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        report(user)
        samples.append(time.perf_counter() - started)
    rss_after = _peak_rss_mb()

    statements: list[tuple[float, str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        conn.info["started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((time.perf_counter() - conn.info["started"], statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    report(user)
    event.remove(engine, "before_cursor_execute", before)
    event.remove(engine, "after_cursor_execute", after)
    slowest = sorted(statements, key=lambda item: item[0], reverse=True)

    tracemalloc.start()
    report(user)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    lines = {line.key: line for line in (*result.lines, *result.esf)}
    participant_lines = [line for line in lines.values() if "gender" in line.breakdowns]
    gender_ok = all(
        sum(line.breakdowns["gender"].values()) == line.achieved
        for line in lines.values()
        if "gender" in line.breakdowns
    )
    out: dict[str, Any] = {
        "variant": variant,
        "period": [result.period_start.isoformat(), result.period_end.isoformat()],
        "cold_s": round(cold, 3),
        "warm_s": summary(samples, digits=3),
        "queries": len(statements),
        "slowest_queries_s": [round(seconds, 3) for seconds, _, _ in slowest[:5]],
        "slowest_query": " ".join(slowest[0][1].split())[:300] if slowest else "",
        "peak_rss_mb_before": rss_before,
        "peak_rss_mb_after": rss_after,
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 2),
        "achieved": {key: line.achieved for key, line in lines.items()},
        "breakdown_values": sum(
            len(values) for line in lines.values() for values in line.breakdowns.values()
        ),
        "gender_breakdowns": len(participant_lines),
        "gender_sums_to_total": gender_ok,
    }
    if explain or statistics.median(samples) >= TARGET_S:
        out["explain_slowest"] = _explain(engine, slowest[0][1], slowest[0][2])
    engine.dispose()
    shutil.rmtree(home, ignore_errors=True)
    return out


def run_probe(url: str, variant: str, explain: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--probe", url, "--variant", variant]
    if explain:
        command.append("--explain")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"probe {variant!r} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the benchmark --------------------------------------------------------------------------------


def plain_counts(runtime: Any, start: date, end: date) -> dict[str, int]:
    """What two indicators must say, counted with plain SQL."""
    from sqlalchemy import text

    with runtime.engine.connect() as connection:
        accompanied = connection.execute(
            text(
                "SELECT count(DISTINCT participant_id) FROM fact_stay WHERE started_on <= :end"
                " AND (ended_on IS NULL OR ended_on >= :start)"
            ),
            {"start": start, "end": end},
        ).scalar()
        entries = connection.execute(
            text("SELECT count(*) FROM fact_entry WHERE entered_on BETWEEN :start AND :end"),
            {"start": start, "end": end},
        ).scalar()
    return {"candidates_accompanied": int(accompanied or 0), "total": int(entries or 0)}


def measure(
    url: str, *, backend: str, participants: int, events: int, explain: bool
) -> dict[str, Any]:
    from coordinator_data import build

    from crealux_core.db import migrate
    from crealux_core.runtime import Runtime
    from crealux_core.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="crealux-bench-indicators-"))
    runtime = Runtime(Settings(home=home, database_url=url))
    try:
        migrate(url)
        started = time.monotonic()
        counts = build(
            runtime, participants=participants, events=events, now=NOW, since=SINCE, say=say
        )
        built = time.monotonic() - started
        say(f"  {backend}: {counts} inserted in {built:.0f} s")
        indicators = runtime.rules.indicators
        assert indicators is not None, "no rules/indicators.yaml: nothing to count"
        programme = indicators.programme
        runtime.engine.dispose()
        result: dict[str, Any] = {
            "backend": backend,
            **counts,
            "insert_s": round(built, 1),
            "reports": [],
        }
        for variant, asked in VARIANTS.items():
            load = loadavg()
            numbers = run_probe(url, variant, explain)
            start = asked["start"] or programme.starts_on
            end = asked["end"] or programme.ends_on
            expected = plain_counts(runtime, start, end)
            achieved = numbers["achieved"]
            numbers["plain_sql_agrees"] = all(
                achieved[key] == value for key, value in expected.items()
            )
            numbers["loadavg"] = load
            result["reports"].append(numbers)
            say(
                f"    {variant}: cold {numbers['cold_s']:.3f} s, warm p50"
                f" {numbers['warm_s']['p50']:.3f} s (max {numbers['warm_s']['max']:.3f}),"
                f" {numbers['queries']} queries (slowest {numbers['slowest_queries_s'][:3]} s);"
                f" peak RSS {numbers['peak_rss_mb_before']} -> {numbers['peak_rss_mb_after']} MB,"
                f" tracemalloc peak {numbers['tracemalloc_peak_mb']} MB;"
                f" accompanied {achieved['candidates_accompanied']}, EECO01 {achieved['total']}"
                f" (plain SQL {'agrees' if numbers['plain_sql_agrees'] else 'DISAGREES'}:"
                f" {expected}),"
                f" gender sums {'ok' if numbers['gender_sums_to_total'] else 'WRONG'}"
            )
            for line in numbers.get("explain_slowest", []):
                say(f"      {line}")
        result["meets_target"] = all(
            r["warm_s"]["p50"] < TARGET_S and r["cold_s"] < TARGET_S
            for r in result["reports"]
            if r["variant"] == "programme, by gender"
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
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server (postgresql://user@host/postgres) to use too"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--explain", action="store_true", help="print the slowest query's plan")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.variant, args.explain), default=str))
        return 0

    result: dict[str, Any] = {"machine": machine(), "args": vars(args), "runs": []}
    directory = Path(tempfile.mkdtemp(prefix="crealux-bench-sqlite-"))
    options = {"participants": args.participants, "events": args.events, "explain": args.explain}
    try:
        if not args.no_sqlite:
            url = f"sqlite:///{directory / 'crealux.db'}"
            result["runs"].append(measure(url, backend="sqlite", **options))
        if args.database_url:
            with postgres_database(args.database_url) as pg_url:
                result["runs"].append(measure(pg_url, backend="postgresql", **options))
    except KeyboardInterrupt:
        say("interrupted: the temporary databases were removed")
        return 130
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    result["machine"]["loadavg_end"] = loadavg()
    path = write_result("indicators", result)
    say(f"appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
