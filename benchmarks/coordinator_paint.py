"""The coordinator's dashboard at 10,000 participants: first paint of « Pilotage » (/pilotage)
and « Indicateurs » (/indicateurs) in a real browser.

Builds a fresh database migrated with crealux_core.db.migrate (SQLite in a temporary directory;
PostgreSQL too with --database-url, a server URL where a new database is created and dropped
afterwards) with the dataset of benchmarks/coordinator_data.py at 10,000 participants and
100,000 events, walked to the real clock (the dashboard reads it): pathways at every step, late
and stalled ones, re-entries, the facts, outreach. Then starts the dashboard as `crealux up`
starts it (`streamlit run dashboards/app.py` under the launcher's supervisor; no Prefect: the
links to flow runs are addresses only), and drives Debian's Chromium headless with Playwright:
- the sign-in form on /pilotage, the first page of a fresh Streamlit process (cold);
- « Se connecter » as the coordinator until the board is there (its first run for Pilotage);
- then each page opened afresh N times (a new tab: a new Streamlit session, signed in by the
  cookie), the first Indicateurs load being that page's cold one.
Each load is timed from the navigation until the page's content is there (Pilotage: the
« Parcours en cours » metric with the number of active pathways and the list under the board;
Indicateurs: the ESF+ table and the three charts drawn) and until the run has settled (no
« Running » widget, nothing stale), and, for comparison, the worklist (« Toutes les étapes »,
whose script takes a few milliseconds): what a new Streamlit session costs in this browser on
this machine whatever the page. Then each page's script alone, under Streamlit's AppTest (the
server's part, without the browser). Target: under 1 s, as benchmarks/worklist.py counts it
(the script run under AppTest, warm); the browser's times are given beside it, with what each
page takes over the worklist's.

    .venv/bin/python benchmarks/coordinator_paint.py [--participants 10000] [--repeat 5]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--screenshots DIR]

A few minutes. Prints the numbers and appends a JSON line to
benchmarks/results/coordinator_paint.json.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from benchkit import (
    REPO,
    clean_environ,
    closed_port,
    free_port,
    loadavg,
    machine,
    summary,
    write_result,
)
from worklist import postgres_database

TARGET_S = 1.0
# Between two loads: the closed tab's renderer and its Streamlit session wind down (on two
# cores, back to back, the next load pays for them); a person does not open pages faster.
PAUSE_S = 2.0
TITLES = {
    "views/pipeline.py": "Pilotage",
    "views/indicators.py": "Indicateurs",
    "views/worklist.py": "Toutes les étapes",
}
SINCE = date(2025, 9, 1)  # some stays began before the programme (2026-2027)


def say(line: str) -> None:
    print(line, flush=True)


def pilotage_there(active: int) -> Callable[[Any], None]:
    def check(page: Any) -> None:
        from playwright.sync_api import expect

        metric = page.get_by_test_id("stMetric").filter(has_text="Parcours en cours")
        number = r"[\s\u202f,.]?".join(str(active))  # 6658, 6 658 or 6,658
        expect(metric).to_contain_text(re.compile(rf"(?<!\d){number}(?!\d)"), timeout=60_000)
        expect(page.get_by_text(re.compile(r"^\d+ parcours : "))).to_be_visible(timeout=60_000)

    return check


def indicators_there(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Indicateurs communs FSE+")).to_be_visible(
        timeout=60_000
    )
    expect(page.locator(".vega-embed canvas, .vega-embed svg")).to_have_count(3, timeout=60_000)


def worklist_there(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Toutes les étapes")).to_be_visible(timeout=60_000)


def settled(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)
    expect(page.locator("[data-stale='true']")).to_have_count(0, timeout=60_000)


def timed_load(
    context: Any, url: str, there: Callable[[Any], None]
) -> tuple[dict[str, float], Any]:
    """Open `url` in a new tab; return the seconds until Streamlit drew its navigation (the
    session is up and the script runs), until the content is there, until the run settled."""
    from playwright.sync_api import expect

    page = context.new_page()
    page.set_default_timeout(60_000)
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible(timeout=60_000)
    times = {"navigation": time.perf_counter() - started}
    there(page)
    times["content"] = time.perf_counter() - started
    settled(page)
    times["settled"] = time.perf_counter() - started
    return times, page


def drive(base: str, active: int, repeat: int, shots: Path | None) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, sign_in

    pilotage = pilotage_there(active)
    result: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-BE")
            page = context.new_page()
            page.set_default_timeout(60_000)
            started = time.perf_counter()
            page.goto(f"{base}/pilotage", wait_until="commit")
            expect(page.get_by_label("Identifiant")).to_be_visible()
            result["sign_in_form_cold_s"] = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            sign_in(page, "coordination")
            pilotage(page)
            result["pilotage_after_sign_in_s"] = round(time.perf_counter() - started, 3)
            settled(page)
            result["pilotage_after_sign_in_settled_s"] = round(time.perf_counter() - started, 3)
            if shots:
                page.screenshot(path=str(shots / "pilotage-after-sign-in.png"), full_page=True)
            page.close()
            time.sleep(PAUSE_S)
            for name, path, there in (
                ("pilotage", "/pilotage", pilotage),
                ("indicateurs", "/indicateurs", indicators_there),
                ("etapes (for comparison)", "/etapes", worklist_there),
            ):
                loads = []
                for n in range(repeat + 1):
                    times, page = timed_load(context, f"{base}{path}", there)
                    loads.append(times)
                    if shots and n == repeat:
                        page.set_viewport_size({"width": 1280, "height": 2400})
                        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                    page.close()
                    time.sleep(PAUSE_S)
                result[name] = {
                    "first_s": {key: round(value, 3) for key, value in loads[0].items()},
                    **{f"{key}_s": summary([t[key] for t in loads[1:]]) for key in loads[0]},
                }
                median = {key: statistics.median(t[key] for t in loads[1:]) for key in loads[0]}
                say(
                    f"    {name}: navigation p50 {median['navigation']:.3f} s, content"
                    f" {median['content']:.3f} s, settled {median['settled']:.3f} s (first load:"
                    f" content {loads[0]['content']:.2f} s, settled {loads[0]['settled']:.2f} s)"
                )
        finally:
            browser.close()
    return result


def script_runs(url: str, home: Path, repeat: int) -> dict[str, Any]:
    """Time the run of each page's script on the server alone, in a new signed-in session, as
    AppTest runs it (after the session's first run, on the default page): what the browser
    adds is the rest."""
    import logging
    import os

    import streamlit as st
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    from crealux_core.runtime import Runtime
    from crealux_core.services.users import get_user
    from crealux_core.settings import Settings

    # not a warning per run: deprecations, and « missing ScriptRunContext » (the session state
    # set before a run)
    config.set_option("logger.level", "error")
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: False
    )
    saved = dict(os.environ)
    os.environ.update({"CREALUX_HOME": str(home), "CREALUX_DATABASE_URL": url})
    runtime = Runtime(Settings(home=home, database_url=url))
    with runtime.session() as session:
        user_id = get_user(session=session, username="coordination").id
    runtime.engine.dispose()
    st.cache_resource.clear()
    results: dict[str, Any] = {}
    try:
        for page in ("views/pipeline.py", "views/indicators.py", "views/worklist.py"):
            samples = []
            for _ in range(repeat + 1):  # the first one loads the rules and warms the caches
                at = AppTest.from_file(str(REPO / "dashboards" / "app.py"), default_timeout=120)
                at.session_state["user_id"] = user_id
                at.run()  # the default page: AppTest ignores a switch before the first run
                at.switch_page(page)
                started = time.perf_counter()
                at.run()
                samples.append(time.perf_counter() - started)
                if at.exception:
                    raise RuntimeError(f"{page}: {at.exception[0].message}")
                if [title.value for title in at.title] != [TITLES[page]]:
                    raise RuntimeError(f"{page} shows {[t.value for t in at.title]}")
            results[page] = {"cold_s": round(samples[0], 3), **summary(samples[1:])}
            say(
                f"    script run {page}: {statistics.median(samples[1:]):.3f} s"
                f" (cold {samples[0]:.2f} s)"
            )
    finally:
        st.cache_resource.clear()
        os.environ.clear()
        os.environ.update(saved)
    return results


def measure(
    url: str, *, backend: str, participants: int, events: int, repeat: int, shots: Path | None
) -> dict[str, Any]:
    from coordinator_data import build

    from crealux.launcher import Supervisor, start_dashboard
    from crealux_core.clock import utcnow
    from crealux_core.db import migrate
    from crealux_core.runtime import Runtime
    from crealux_core.settings import Settings
    from tests.browser import CHROMIUM

    if not CHROMIUM.exists():
        raise SystemExit(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        )
    home = Path(tempfile.mkdtemp(prefix="crealux-bench-paint-"))
    settings = Settings(
        home=home,
        database_url=url,
        dashboard_port=free_port(),
        prefect_port=closed_port(),  # no Prefect: the board links to flow runs, never calls it
        smtp_port=free_port(),
    )
    runtime = Runtime(settings)
    supervisor = None
    try:
        migrate(url)
        started = time.monotonic()
        counts = build(
            runtime, participants=participants, events=events, now=utcnow(), since=SINCE, say=say
        )
        built = time.monotonic() - started
        runtime.engine.dispose()
        say(f"  {backend}: {counts} inserted in {built:.0f} s")
        environ = {
            "CREALUX_HOME": str(settings.resolved_home),
            "CREALUX_DATABASE_URL": settings.app_database_url,
            "CREALUX_RULES_DIR": str(settings.rules_dir),
            "CREALUX_PREFECT_PORT": str(settings.prefect_port),
            "CREALUX_SMTP_PORT": str(settings.smtp_port),
            "CREALUX_DASHBOARD_PORT": str(settings.dashboard_port),
        }
        supervisor = Supervisor(
            log_dir=home / "logs", env={**clean_environ(), **environ}, echo=lambda _: None
        )
        started = time.monotonic()
        start_dashboard(supervisor, settings)
        healthy = time.monotonic() - started
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
        where = shots / backend if shots else None
        if where:
            where.mkdir(parents=True, exist_ok=True)
        numbers = drive(settings.dashboard_url, counts["active_pathways"], repeat, where)
        supervisor.stop_all()
        supervisor = None
        numbers["script_run"] = script_runs(url, home, repeat)
        floor = numbers["etapes (for comparison)"]["settled_s"]["p50"]
        for page in ("pilotage", "indicateurs"):
            numbers[page]["over_worklist_s"] = round(numbers[page]["settled_s"]["p50"] - floor, 3)
        worst = max(
            numbers["script_run"][page]["p50"]
            for page in ("views/pipeline.py", "views/indicators.py")
        )
        return {
            "backend": backend,
            **counts,
            "insert_s": round(built, 1),
            "dashboard_healthy_s": round(healthy, 2),
            **numbers,
            "meets_target": worst < TARGET_S,
        }
    finally:
        if supervisor is not None:
            supervisor.stop_all()
        if "engine" in runtime.__dict__:
            runtime.engine.dispose()
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=None, help="default: 10 a participant")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server (postgresql://user@host/postgres) to use too"
    )
    parser.add_argument("--screenshots", type=Path, help="keep a screenshot of each page here")
    args = parser.parse_args()
    events = args.events if args.events is not None else 10 * args.participants

    result: dict[str, Any] = {
        "machine": machine(),
        "args": vars(args) | {"screenshots": str(args.screenshots)},
        "runs": [],
    }
    options = {
        "participants": args.participants,
        "events": events,
        "repeat": args.repeat,
        "shots": args.screenshots,
    }
    directory = Path(tempfile.mkdtemp(prefix="crealux-bench-sqlite-"))
    try:
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
    path = write_result("coordinator_paint", result)
    say(f"appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
