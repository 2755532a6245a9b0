"""The import of past records at scale: 10,000 rows from an XLSX through
`crealux_core.services.imports.import_records`, on SQLite and PostgreSQL.

The file is the import's own template (`import_layout.template_workbook()`: its sheets, its
headers, its drop-down lists and « lisez-moi » sheet) filled with rows in the layout
docs/import.md documents: 4,000 participants (enrolled over the last three years, with their
situation on entry, exit and six-month situation; some mid-way, waiting on a step), 3,000
trainings, 1,000 creations (principal, complementary, not started; BCE numbers with their
check digits), 1,000 jobs, 500 outreach actions and 500 structures sensitised (some twice).

Two files, each imported into a fresh migrated database (the reference data of `crealux up`:
organisations, the demo accounts), as the coordinator, with no Prefect (flow runs are started
by the reconciler later):
- every participant finished (no pathway to start), and
- 1,000 of them mid-way (each gets a pathway waiting on their step, started by the engine).
For each: the same file with one wrong cell on its last participant row (every row checked,
nothing written: the check alone), then the import (the check and the write timed apart from
the progress callback: the service ticks once a row when it checks, once a row when it
writes), then the same file again (nothing changes: every row already present; the row counts
of the tables are compared). Reading the workbook alone (`read_file`) is timed too.

    .venv/bin/python benchmarks/import_rows.py [--rows 10000] [--mid-way 1000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

A minute or two. Prints the numbers and appends a JSON line to benchmarks/results/import_rows.json.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchkit import loadavg, machine, write_result
from worklist import postgres_database

SHARES = {  # of the rows: participants, trainings, creations, jobs, outreach, structures
    "participants": 0.40,
    "formations": 0.30,
    "creations": 0.10,
    "emplois": 0.10,
    "sensibilisation": 0.05,
    "structures": 0.05,
}
MUNICIPALITIES = ("Durbuy", "Marche-en-Famenne", "Hotton", "Érezée", "Rendeux", "Manhay")
SECTORS = ("Artisanat", "Commerce", "Horeca, tourisme", "Construction, rénovation", "Autre")
# Steps an imported participant may wait on (docs/import.md), with the route that leads there.
MID_WAY_STEPS = (
    ("socio_professional_assessment", None),
    ("orientation", None),
    ("training", "formation"),
    ("job_search", "emploi"),
    ("business_creation", "création"),
    ("social_accompaniment", "social"),
)
TABLES = (
    "participant",
    "pathway_run",
    "step_run",
    "pathway_event",
    "fact_stay",
    "fact_entry",
    "fact_exit",
    "fact_training",
    "fact_business",
    "fact_placement",
    "fact_support",
    "outreach_action",
    "structure_sensitisation",
    "notification",
)


def say(line: str) -> None:
    print(line, flush=True)


def company_number(rng: random.Random) -> str:
    """A BCE number with its check digits (97 - the first eight digits modulo 97)."""
    base = rng.randrange(2_000_000, 9_999_999)  # the eight first digits: 0 then seven
    digits = f"0{base:07d}{97 - base % 97:02d}"
    return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"


def _day(start: date, end: date, rng: random.Random) -> date:
    return start + timedelta(days=rng.randrange(max(1, (end - start).days)))


def participant_rows(
    count: int, mid_way: int, today: date, rng: random.Random
) -> list[dict[str, Any]]:
    rows = []
    for n in range(count):
        enrolled = _day(today - timedelta(days=3 * 365), today - timedelta(days=60), rng)
        row: dict[str, Any] = {
            "reference": f"HIST-{n:05d}",
            "first_name": ("Anne", "Marc", "Sophie", "Karim", "Léa")[n % 5],
            "last_name": f"Historique {n}",
            "gender": ("F", "H", "F", "H", "X", "?")[n % 6] if n % 50 else "?",
            "birth_year": rng.randrange(1960, 2006),
            "municipality": rng.choice(MUNICIPALITIES),
            "email": f"p{n}@exemple.be" if n % 3 else None,
            "advisor": ("conseillere", "conseiller", "Claire Lambert")[n % 3],
            "enrolled_on": enrolled.strftime("%d/%m/%Y") if n % 2 else enrolled,
            "labour_status": rng.choice(("DELD", "DE", "inactif", "en emploi")),
            "education_level": rng.choice(("CITE 0-2", "CITE 3-4", "CITE 5-8")),
            "disability": rng.choice(("oui", "non", "non", "ne souhaite pas répondre")),
            "foreign_background": rng.choice(("oui", "non", "non")),
            "rural_area": rng.choice(("oui", "oui", "non")),
            "interview_hours": rng.choice((None, 4, "6,5", 10)),
            "information_hours": rng.choice((None, 2, 3)),
        }
        if n < mid_way:
            step, route = MID_WAY_STEPS[n % len(MID_WAY_STEPS)]
            row |= {"current_step": step, "route": route}
        else:
            left = _day(enrolled + timedelta(days=30), today - timedelta(days=1), rng)
            row |= {
                "route": rng.choice(("création", "formation", "emploi", "social")),
                "left_on": left,
                "exit_reason": rng.choice(("Emploi trouvé", "Activité lancée", "Abandon")),
                "leaving_situation": rng.choice(("en emploi", "indépendant", "demandeur d'emploi")),
                "qualification_gained": rng.choice(("oui", "non")),
            }
            if (today - left).days > 190:
                row |= {"six_months_situation": "en emploi", "improved": "oui"}
        rows.append(row)
    return rows


def history_rows(
    kind: str, count: int, people: list[dict[str, Any]], today: date, rng: random.Random
) -> list[dict[str, Any]]:
    """Trainings, creations or jobs of the participants (each dated after their enrolment)."""
    rows = []
    for n in range(count):
        person = people[(n * 7) % len(people)]
        enrolled = person["enrolled_on"]
        if isinstance(enrolled, str):
            day, month, year = (int(part) for part in enrolled.split("/"))
            enrolled = date(year, month, day)
        on = _day(enrolled, today - timedelta(days=1), rng)
        ref = person["reference"]
        if kind == "formations":
            rows.append(
                {
                    "participant": ref,
                    "kind": rng.choice(("sociale", "pré-qualifiante", "qualifiante")),
                    "organisation": "promotion-sociale-marche",
                    "ended_on": on,
                    "completed": rng.choice(("oui", "oui", "non")),
                    "qualification": rng.choice(("oui", "non")),
                    "hours": rng.randrange(20, 400),
                }
            )
        elif kind == "creations":
            status = rng.choice(("principal", "complémentaire", "pas encore lancée"))
            launched = status != "pas encore lancée"
            rows.append(
                {
                    "participant": ref,
                    "status": status,
                    "started_on": on if launched else None,
                    "sector": rng.choice(SECTORS),
                    "company_number": company_number(rng) if launched else None,
                    "organisation": "Challenge SCRL (Village des créateurs)",
                }
            )
        else:
            rows.append(
                {
                    "participant": ref,
                    "started_on": on,
                    "contract": rng.choice(("CDI", "CDD", "intérim", "article 60")),
                    "sector": rng.choice(SECTORS),
                    "organisation": "le-trusquin",
                }
            )
    return rows


def outreach_rows(count: int, today: date, rng: random.Random) -> list[dict[str, Any]]:
    start = today - timedelta(days=3 * 365)
    return [
        {
            "held_on": _day(start, today, rng),
            "category": rng.choice(("candidats", "formation", "prospective")),
            "kind": rng.choice(("séance d'information", "salon", "visite d'école", "atelier")),
            "title": f"Séance {n}",
            "organiser": rng.choice(("integra-plus", "challenge", "cpas-durbuy")),
            "municipality": rng.choice(MUNICIPALITIES),
            "people_reached": (reached := rng.randrange(5, 80)),
            "became_candidates": rng.randrange(0, reached // 4 + 1),
            "hours": rng.choice((1, "1,5", 2)),
        }
        for n in range(count)
    ]


def structure_rows(count: int, today: date, rng: random.Random) -> list[dict[str, Any]]:
    start = today - timedelta(days=3 * 365)
    return [
        {
            "name": f"CPAS de {rng.choice(MUNICIPALITIES)} {n % (count // 2 or 1)}",
            "kind": rng.choice(("première ligne", "professionnelle")),
            "municipality": rng.choice(MUNICIPALITIES),
            "sensitised_on": _day(start, today, rng),
            "by_organisation": rng.choice(("integra-plus", "challenge")),
        }
        for n in range(count)
    ]


def workbook(
    rows: int, mid_way: int, today: date, *, broken: bool = False
) -> tuple[bytes, dict[str, int]]:
    """Return the template filled with `rows` rows (the same ones for the same arguments), and
    how many of each sheet; `broken`: the last participant's gender is « Z »."""
    from crealux_core.services.import_layout import (
        LAYOUT,
        template_header,
        template_workbook,
        workbook_bytes,
    )

    rng = random.Random(11)
    counts = {name: int(rows * share) for name, share in SHARES.items()}
    counts["participants"] += rows - sum(counts.values())
    people = participant_rows(counts["participants"], mid_way, today, rng)
    if broken:
        people[-1] = people[-1] | {"gender": "Z"}
    sheets = {
        "participants": people,
        **{
            kind: history_rows(kind, counts[kind], people, today, rng)
            for kind in ("formations", "creations", "emplois")
        },
        "sensibilisation": outreach_rows(counts["sensibilisation"], today, rng),
        "structures": structure_rows(counts["structures"], today, rng),
    }
    book = template_workbook()
    for layout in LAYOUT:
        sheet = book[layout.name]
        headers = [cell.value for cell in sheet[1]]
        keys = [
            next(c.key for c in layout.columns if template_header(c) == header)
            for header in headers
        ]
        for row in sheets[layout.name]:
            sheet.append([row.get(key) for key in keys])
    return workbook_bytes(book), counts


def table_counts(runtime: Any) -> dict[str, int]:
    from sqlalchemy import text

    with runtime.engine.connect() as connection:
        return {
            name: int(connection.execute(text(f"SELECT count(*) FROM {name}")).scalar() or 0)
            for name in TABLES
        }


def timed_import(runtime: Any, data: bytes, filename: str, rows: int, now: Any) -> dict[str, Any]:
    """Import as the coordinator; return the times (check, write, total) and the counts."""
    from crealux_core.services.imports import import_records
    from crealux_core.services.users import get_user

    checked_at: list[float] = []

    def progress(done: int, total: int) -> None:
        if done >= total // 2 and not checked_at:
            checked_at.append(time.perf_counter())

    with runtime.session() as session:
        user = get_user(session=session, username="coordination")
        started = time.perf_counter()
        result = import_records(
            session=session,
            rules=runtime.rules,
            user=user,
            data=data,
            filename=filename,
            now=now,
            dashboard_url="http://127.0.0.1:8501",
            progress=progress,
        )
        ended = time.perf_counter()
    check = (checked_at[0] if checked_at else ended) - started
    return {
        "total_s": round(ended - started, 3),
        "check_s": round(check, 3),
        "write_s": round(ended - started - check, 3) if result.written else 0.0,
        "written": result.written,
        "problems": len(result.problems),
        "first_problems": [str(problem) for problem in result.problems[:3]],
        "created": result.total("created"),
        "present": result.total("present"),
        "rejected": result.total("rejected"),
        "pathways_started": len(result.pathway_run_ids),
    }


def measure(url: str, *, backend: str, rows: int, mid_way: int, label: str) -> dict[str, Any]:
    from crealux.demo import ensure_reference_data
    from crealux_core.clock import utcnow
    from crealux_core.db import migrate
    from crealux_core.runtime import Runtime
    from crealux_core.services.definitions import register_definitions
    from crealux_core.services.import_layout import read_file
    from crealux_core.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="crealux-bench-import-"))
    runtime = Runtime(Settings(home=home, database_url=url))
    try:
        migrate(url)
        now = utcnow()
        ensure_reference_data(runtime)
        with runtime.session() as session:
            register_definitions(session=session, rules=runtime.rules, now=now)
        today = now.date()
        data, counts = workbook(rows, mid_way, today)
        broken, _ = workbook(rows, mid_way, today, broken=True)
        started = time.perf_counter()
        raw = read_file(data, "historique.xlsx")
        read_s = time.perf_counter() - started
        assert raw.row_count == rows, (raw.row_count, rows)
        empty = table_counts(runtime)
        refused = timed_import(runtime, broken, "historique.xlsx", rows, now)
        assert not refused["written"] and refused["problems"], refused
        assert table_counts(runtime) == empty, "a refused file wrote something"
        first = timed_import(runtime, data, "historique.xlsx", rows, now)
        assert first["written"] and not first["problems"], first
        after_first = table_counts(runtime)
        again = timed_import(runtime, data, "historique.xlsx", rows, now)
        after_again = table_counts(runtime)
        unchanged = after_again == after_first and again["created"] == 0
        result = {
            "backend": backend,
            "file": label,
            "rows": rows,
            "sheets": counts,
            "mid_way": mid_way,
            "file_kb": round(len(data) / 1024),
            "read_s": round(read_s, 3),
            "refused": refused,
            "import": first,
            "reimport": again,
            "reimport_changes_nothing": unchanged,
            "tables_after": after_first,
        }
        say(
            f"  {backend}, {label}: read {read_s:.2f} s; refused file (1 error)"
            f" {refused['total_s']:.2f} s;"
            f" import {first['total_s']:.2f} s (check {first['check_s']:.2f}, write"
            f" {first['write_s']:.2f}), {first['created']} created,"
            f" {first['pathways_started']} pathways; again {again['total_s']:.2f} s"
            f" (check {again['check_s']:.2f}), {again['created']} created, {again['present']}"
            f" present, {'nothing changed' if unchanged else 'TABLES CHANGED'}"
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
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--mid-way", type=int, default=1_000)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server (postgresql://user@host/postgres) to use too"
    )
    args = parser.parse_args()

    result: dict[str, Any] = {"machine": machine(), "args": vars(args), "runs": []}
    files = (("all finished", 0), (f"{args.mid_way} mid-way", args.mid_way))
    directory = Path(tempfile.mkdtemp(prefix="crealux-bench-sqlite-"))
    try:
        for label, mid_way in files:
            url = f"sqlite:///{directory / f'import-{mid_way}.db'}"
            result["runs"].append(
                measure(url, backend="sqlite", rows=args.rows, mid_way=mid_way, label=label)
            )
        if args.database_url:
            for label, mid_way in files:
                with postgres_database(args.database_url) as pg_url:
                    result["runs"].append(
                        measure(
                            pg_url,
                            backend="postgresql",
                            rows=args.rows,
                            mid_way=mid_way,
                            label=label,
                        )
                    )
    except KeyboardInterrupt:
        say("interrupted: the temporary databases were removed")
        return 130
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    result["machine"]["loadavg_end"] = loadavg()
    path = write_result("import_rows", result)
    say(f"appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
