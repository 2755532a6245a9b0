"""The issue's user story in a real browser on the real components: an advisor completes a step in
the dashboard, the run resumes, the next step appears in the worklist and the partner is emailed."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from crealux.launcher import Supervisor, start_dashboard
from tests.browser import CHROMIUM, CHROMIUM_ARGS, fill_first_reception, require_chromium, sign_in
from tests.e2e.conftest import Instance, wait_for
from tests.e2e.test_pathway_e2e import INTAKE_MAILBOX, enroll, mails_about, waiting_step

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_step_completed_in_the_dashboard_moves_the_pathway_on(
    instance: Instance, tmp_path: Path
) -> None:
    require_chromium()
    participant_id, flow_run_id = enroll(instance, "Gaëlle")
    reference = f"P-{participant_id:05d}"
    first = waiting_step(instance, participant_id, "first_reception", flow_run_id)
    supervisor = Supervisor(log_dir=tmp_path, env=instance.env)
    url = instance.runtime.settings.dashboard_url
    try:
        start_dashboard(supervisor, instance.runtime.settings)  # as `crealux up` starts it
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="fr-BE")
                page.set_default_timeout(30_000)
                page.goto(url)
                sign_in(page, "conseillere")
                expect(page.get_by_role("heading", name="Mes étapes")).to_be_visible()
                page.locator(f".st-key-open-step-{first.id} button").click()
                expect(page.get_by_role("heading", name="Premier accueil")).to_be_visible()
                fill_first_reception(page, note="Saisi dans le navigateur.")
                expect(page.get_by_text("Décision enregistrée.")).to_be_visible()

                second = waiting_step(
                    instance, participant_id, "socio_professional_assessment", flow_run_id
                )
                # a full page load starts a new Streamlit session: navigate in the app instead
                page.get_by_role("link", name="Mes étapes").click()
                expect(page.get_by_role("heading", name="Mes étapes")).to_be_visible()
                expect(page.locator(f".st-key-open-step-{second.id}")).to_be_visible()
                expect(page.locator(f".st-key-open-step-{first.id}")).to_have_count(0)
                page.locator(f".st-key-open-step-{second.id} button").click()
                expect(page.get_by_role("heading", name="Bilan socioprofessionnel")).to_be_visible()
                expect(page.get_by_text("Gaëlle E2E").first).to_be_visible()
                page.screenshot(path=str(tmp_path / "next-step.png"), full_page=True)
            finally:
                browser.close()
    finally:
        supervisor.stop_all()
    wait_for(
        lambda: [s for s in mails_about(instance, INTAKE_MAILBOX, reference) if "Bilan" in s],
        what="the email about the assessment",
    )
