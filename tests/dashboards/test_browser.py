"""The dashboard served by a real `streamlit run`, driven in headless Chromium.

Prefect is not running here: a submit commits the decision with its transition, so the next step
opens at once all the same. Screenshots land in the test's tmp_path (run with
`--basetemp=DIR` to keep them somewhere known).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session, col, select

from crealux.launcher import Supervisor, start_dashboard
from crealux_core.clock import utcnow
from crealux_core.models import EventKind, PathwayEvent, PathwayRun, StepStatus
from crealux_core.rules import Rules
from crealux_core.runtime import Runtime
from crealux_core.services.processes import ProcessState, ProcessStatus, write_process_status
from crealux_core.services.steps import list_steps
from crealux_core.services.users import get_user
from tests.browser import CHROMIUM, CHROMIUM_ARGS, fill_first_reception, require_chromium, sign_in
from tests.conftest import clean_environ
from tests.dashboards.conftest import app_environ

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Dashboard:
    url: str


@pytest.fixture
def dashboard(runtime: Runtime, tmp_path: Path) -> Iterator[Dashboard]:
    """The dashboard on the seeded test database, started as `crealux up` starts it."""
    require_chromium()
    supervisor = Supervisor(
        log_dir=tmp_path, env={**clean_environ(), **app_environ(runtime.settings)}
    )
    try:
        start_dashboard(supervisor, runtime.settings)
        yield Dashboard(url=runtime.settings.dashboard_url)
    finally:
        supervisor.stop_all()


@pytest.fixture
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="fr-BE")
    page.set_default_timeout(30_000)
    page.goto(url)
    return page


def test_an_advisor_decides_a_step_and_opens_the_next_one_in_a_real_browser(
    dashboard: Dashboard,
    browser: Browser,
    enroll,
    session: Session,
    rules: Rules,
    tmp_path: Path,
) -> None:
    enrolled = enroll()
    page = new_page(browser, dashboard.url)

    sign_in(page, "conseillere")
    expect(page.get_by_role("heading", name="Mes étapes")).to_be_visible()
    expect(page.get_by_text("Sophie Test")).to_be_visible()
    expect(page.get_by_text("Premier accueil")).to_be_visible()

    page.get_by_role("button", name="Ouvrir").click()
    expect(page.get_by_role("heading", name="Premier accueil")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/etape\?step={enrolled.first_step.id}$"))

    fill_first_reception(page, note="Vient du CPAS de Durbuy.")

    expect(page.get_by_text("Décision enregistrée.")).to_be_visible()
    expect(page.get_by_text("Étape suivante :")).to_be_visible()
    expect(page.get_by_text("Auto-évaluation d'entrée")).to_be_visible()
    expect(page.get_by_text("Envoyé par (prescripteur) :")).to_be_visible()
    expect(page.get_by_text("Vient du CPAS de Durbuy.")).to_be_visible()
    expect(page.get_by_text("transmise automatiquement")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "step-decided.png"), full_page=True)

    [decision] = session.exec(select(PathwayEvent)).all()
    assert decision.kind is EventKind.DECISION
    assert decision.payload == {
        "meeting_on": "2026-11-02",
        "consent_given": True,
        "referred_by": "cpas",
        "expectation": "creation",
    }
    assert decision.note == "Vient du CPAS de Durbuy."
    advisor = get_user(session=session, username="conseillere")
    [following] = list_steps(session=session, rules=rules, user=advisor, status=StepStatus.OPEN)
    assert following.step_key == "self_evaluation_entry"

    # The next step opens from the message, in the same session.
    page.get_by_role("button", name="Ouvrir").click()
    expect(page.get_by_role("heading", name="Auto-évaluation d'entrée")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/etape\?step={following.id}$"))
    expect(page.get_by_text("Décision enregistrée.")).to_have_count(0)

    # Signing out, then in again from where sign-out left the browser, lands on the list.
    page.get_by_role("link", name="Déconnexion").click()
    expect(page.get_by_text("Vous êtes déconnecté·e.")).to_be_visible()
    sign_in(page, "conseillere")
    expect(page.get_by_role("heading", name="Mes étapes")).to_be_visible()
    expect(page.get_by_text("Auto-évaluation d'entrée")).to_be_visible()


def test_the_coordinator_sees_stuck_pathways_and_services_and_an_advisor_cannot(
    dashboard: Dashboard,
    browser: Browser,
    enroll,
    session: Session,
    runtime: Runtime,
    tmp_path: Path,
) -> None:
    enrolled, _ = enroll("Sophie"), enroll("Karim")
    now = utcnow()
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert run is not None
    run.heal_attempts, run.needs_flow_at = 8, now - timedelta(hours=2)
    run.stuck_reason = "8 tentatives de relance sans succès : flow run missing from Prefect"
    session.add(run)
    session.commit()
    write_process_status(
        home=runtime.settings.resolved_home,
        processes=[
            ProcessStatus("prefect-server", 4242, ProcessState.RUNNING, 0, None, None, now),
            ProcessStatus("runner", None, ProcessState.RESTARTING, 3, -9, now, now),
            ProcessStatus("maintainer", 4250, ProcessState.RUNNING, 0, None, None, now),
            ProcessStatus("dashboard", 4251, ProcessState.RUNNING, 0, None, None, now),
        ],
        now=now,
        supervisor_pid=4241,
    )

    page = new_page(browser, dashboard.url)
    sign_in(page, "coordination")
    page.get_by_role("link", name="Parcours bloqués").click()
    expect(page.get_by_role("heading", name="Parcours bloqués")).to_be_visible()
    expect(page.get_by_text("son exécution a disparu de Prefect")).to_be_visible()
    expect(page.get_by_text("8 tentative(s)")).to_be_visible()
    expect(page.get_by_role("heading", name="Services")).to_be_visible()
    expect(page.get_by_text("runner s'est arrêté et redémarre")).to_be_visible()
    expect(page.get_by_role("cell", name="maintainer")).to_be_visible()
    expect(page.get_by_text("Karim")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "stuck.png"), full_page=True)

    page.get_by_role("button", name="Relancer").click()  # Prefect is down: says so in French
    # Prefect being down is found out by a connection refused, a few seconds under load.
    expect(page.get_by_text("La relance du parcours de P-00001 n'a pas abouti")).to_be_visible(
        timeout=30_000
    )
    page.screenshot(path=str(tmp_path / "stuck-relaunched.png"), full_page=True)
    session.expire_all()
    assert (
        session.exec(
            select(PathwayRun.stuck_reason).where(col(PathwayRun.id) == enrolled.pathway_run_id)
        ).one()
        is None
    )

    # An advisor has no such page, and its address does not open it.
    advisor = new_page(browser, f"{dashboard.url}/bloques")
    sign_in(advisor, "conseillere")
    expect(advisor.get_by_role("heading", name="Mes étapes")).to_be_visible()
    expect(advisor.get_by_role("link", name="Parcours bloqués")).to_have_count(0)
    expect(advisor.get_by_role("heading", name="Parcours bloqués")).to_have_count(0)
    expect(advisor.get_by_text("son exécution a disparu")).to_have_count(0)
    advisor.screenshot(path=str(tmp_path / "stuck-as-advisor.png"), full_page=True)
