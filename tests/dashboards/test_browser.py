"""The dashboard served by a real `streamlit run`, driven in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlmodel import Session, select

from crealux.launcher import Supervisor, start_dashboard
from crealux_core.models import Decision, StepStatus
from crealux_core.rules import Rules
from crealux_core.runtime import Runtime
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


def test_an_advisor_signs_in_and_completes_a_step_in_a_real_browser(
    dashboard: Dashboard, enroll, session: Session, rules: Rules, tmp_path: Path
) -> None:
    enrolled = enroll()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="fr-BE")
            page.set_default_timeout(30_000)
            page.goto(dashboard.url)

            sign_in(page, "conseillere")
            expect(page.get_by_role("heading", name="Mes étapes")).to_be_visible()
            expect(page.get_by_text("Sophie Test")).to_be_visible()
            expect(page.get_by_text("Premier accueil")).to_be_visible()

            page.get_by_role("button", name="Ouvrir").click()
            expect(page.get_by_role("heading", name="Premier accueil")).to_be_visible()
            expect(page).to_have_url(re.compile(rf"/etape\?step={enrolled.first_step.id}$"))

            fill_first_reception(page, note="Vient du CPAS de Durbuy.")

            expect(page.get_by_text("Décision enregistrée.")).to_be_visible()
            expect(page.get_by_text("transmise automatiquement au parcours")).to_be_visible()
            expect(page.get_by_text("Envoyé par (prescripteur) :")).to_be_visible()
            page.screenshot(path=str(tmp_path / "step-completed.png"), full_page=True)

            advisor = get_user(session=session, username="conseillere")
            completed = list_steps(
                session=session, rules=rules, user=advisor, status=StepStatus.COMPLETED
            )
            assert [view.id for view in completed] == [enrolled.first_step.id]
            decision = session.exec(select(Decision)).one()
            assert decision.outcome == {
                "meeting_on": "2026-11-02",
                "consent_given": True,
                "referred_by": "cpas",
                "expectation": "creation",
            }
            assert decision.note == "Vient du CPAS de Durbuy."

            # Signing out, then in again from where sign-out left the browser, lands on the list.
            page.get_by_role("link", name="Déconnexion").click()
            expect(page.get_by_text("Vous êtes déconnecté·e.")).to_be_visible()
            sign_in(page, "conseillere")
            expect(page.get_by_role("heading", name="Mes étapes")).to_be_visible()
            expect(page.get_by_text("Aucune étape ouverte")).to_be_visible()
        finally:
            browser.close()
