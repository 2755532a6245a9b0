"""The coordinator's pages in a real browser: Pilotage, the list behind a count (kept across a
reload), a participant's pathway from it, then Indicateurs with its charts and a file.

The dashboard runs on the real clock (after 9 November 2026, Alice's reception, opened on the
2nd and due 7 days later, is late whatever the day). Screenshots land in the test's tmp_path
(run with `--basetemp=DIR` to keep them somewhere known).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from crealux_core.rules import Rules
from tests.browser import sign_in
from tests.dashboards.test_browser import Dashboard, browser, dashboard, new_page  # noqa: F401
from tests.services.helpers import walk_to

pytestmark = pytest.mark.browser


def settled(page: Page) -> None:
    """Wait until Streamlit has finished the run: no « Running », no element left from before."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    expect(page.locator("[data-stale='true']")).to_have_count(0)


def test_the_coordinator_follows_the_pipeline_and_reads_the_indicators(
    dashboard: Dashboard,  # noqa: F811
    browser: Browser,  # noqa: F811
    enroll,
    session: Session,
    rules: Rules,
    tmp_path: Path,
) -> None:
    alice, bruno, chloe = enroll("Alice"), enroll("Bruno"), enroll("Chloé")
    walk_to(session, rules, bruno.pathway_run_id, "orientation")
    walk_to(session, rules, chloe.pathway_run_id, "post_creation_3m", route="creation")

    page = new_page(browser, f"{dashboard.url}/pilotage")
    # Tall enough for the whole page in a screenshot (Streamlit scrolls inside its own frame).
    page.set_viewport_size({"width": 1280, "height": 2400})
    sign_in(page, "coordination")
    expect(page.get_by_role("heading", name="Pilotage", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Parcours en cours")).to_contain_text(
        "3"
    )
    expect(page.get_by_text("Pas encore orienté·e", exact=True)).to_be_visible()
    settled(page)
    page.screenshot(path=str(tmp_path / "pilotage.png"), full_page=True)

    # The late receptions: Alice's.
    # (Streamlit draws each button twice, one hidden: the role finds the visible one.)
    page.locator(".st-key-pipeline-step-first_reception-overdue").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/pilotage\?etape=first_reception&voir=overdue$"))
    reference = f"P-{alice.participant_id:05d}"
    expect(page.get_by_text(f"{reference} · Alice")).to_be_visible()
    expect(page.get_by_text("Bruno")).to_have_count(0)
    settled(page)
    page.mouse.move(0, 0)  # no tooltip over the board
    page.screenshot(path=str(tmp_path / "pilotage-overdue.png"), full_page=True)

    page.reload()  # F5: the same list, from the address
    expect(page.get_by_text(f"{reference} · Alice")).to_be_visible()
    expect(page.get_by_text("Bruno")).to_have_count(0)

    page.get_by_role("link", name="Voir le parcours").click()
    expect(page).to_have_url(re.compile(rf"/parcours\?participant={alice.participant_id}$"))
    expect(page.get_by_role("heading", name="Alice Test")).to_be_visible()

    page.get_by_role("link", name="Indicateurs", exact=True).click()
    expect(page.get_by_role("heading", name="Indicateurs", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Indicateurs communs FSE+")).to_be_visible()
    expect(page.locator(".vega-embed")).to_have_count(3)
    page.get_by_role("radio", name="Année 2026").check(force=True)
    expect(page).to_have_url(re.compile(r"/indicateurs\?periode=2026$"))
    expect(page.get_by_text("du 1er janvier 2026 au 31 décembre 2026")).to_be_visible()
    expect(page.locator(".vega-embed")).to_have_count(3)
    settled(page)
    page.screenshot(path=str(tmp_path / "indicateurs.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("button", name="CSV", exact=True).click()
    csv = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "Candidats accompagnés" in csv
