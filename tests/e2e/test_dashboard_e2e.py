"""The issue's user story in a real browser on the real components: an advisor decides a step in
the dashboard, the next step is there at once, the flow run catches up behind (it acknowledges
the decision and waits on the next step) and the partner is emailed."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlmodel import select

from crealux.launcher import Supervisor, start_dashboard
from crealux_core.clock import utcnow
from crealux_core.models import Gender, ParticipantCreate, PathwayEvent, PathwayRun, StepRun
from crealux_core.services.events import current_step
from crealux_core.services.participants import enroll_participant
from crealux_core.services.progress import current_wait
from crealux_core.services.users import get_user
from tests.browser import CHROMIUM, CHROMIUM_ARGS, fill_first_reception, require_chromium, sign_in
from tests.e2e.conftest import Instance, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

INTAKE_MAILBOX = "accueil@integraplus.example"


def enroll(instance: Instance, first_name: str) -> tuple[int, int]:
    """Enroll a participant with the advisor `conseillere`; return their and their run's ids."""
    runtime = instance.runtime
    with instance.session() as session:
        participant, run = enroll_participant(
            session=session,
            rules=runtime.rules,
            data=ParticipantCreate(first_name=first_name, last_name="E2E", gender=Gender.FEMALE),
            advisor=get_user(session=session, username="conseillere"),
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    return participant.id or 0, run.id or 0


def waiting_on(instance: Instance, pathway_run_id: int, step_key: str) -> StepRun | None:
    """The open step `step_key`, once the run's flow run is suspended on its wait."""
    with instance.session() as session:
        step = current_step(session, pathway_run_id)
        run = session.get(PathwayRun, pathway_run_id)
        wait = current_wait(session=session, pathway_run_id=pathway_run_id)
        if step is None or step.step_key != step_key or run is None or wait is None:
            return None
        if run.needs_flow_at is not None or not run.flow_run_id:
            return None
        return step if instance.suspended_on(run.flow_run_id, wait.key) else None


def mails_about(instance: Instance, reference: str) -> list[str]:
    return [s for s in instance.smtp.subjects(INTAKE_MAILBOX) if reference in s]


def test_a_step_decided_in_the_dashboard_moves_the_pathway_on(
    instance: Instance, tmp_path: Path
) -> None:
    require_chromium()
    participant_id, pathway_run_id = enroll(instance, "Gaëlle")
    reference = f"P-{participant_id:05d}"
    first = wait_for(
        lambda: waiting_on(instance, pathway_run_id, "first_reception"),
        timeout=90,
        what="the run to wait on the first reception",
    )
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
                expect(page.get_by_text("Étape suivante :")).to_be_visible()
                page.screenshot(path=str(tmp_path / "decided.png"), full_page=True)

                # The next step is open as the submit returns, before the run has caught up.
                with instance.session() as session:
                    second = current_step(session, pathway_run_id)
                assert second is not None
                assert second.step_key == "self_evaluation_entry"
                # a full page load starts a new Streamlit session: navigate in the app instead
                page.get_by_role("link", name="Mes étapes").click()
                expect(page.get_by_role("heading", name="Mes étapes")).to_be_visible()
                expect(page.locator(f".st-key-open-step-{second.id}")).to_be_visible()
                expect(page.locator(f".st-key-open-step-{first.id}")).to_have_count(0)
                page.locator(f".st-key-open-step-{second.id} button").click()
                expect(page.get_by_role("heading", name="Auto-évaluation d'entrée")).to_be_visible()
                expect(page.get_by_text("Gaëlle E2E").first).to_be_visible()

                # The run catches up: it acknowledges the decision and waits on the next step.
                wait_for(
                    lambda: waiting_on(instance, pathway_run_id, "self_evaluation_entry"),
                    timeout=90,
                    what="the run to wait on the entry self-evaluation",
                )
                with instance.session() as session:
                    decision = session.exec(
                        select(PathwayEvent).where(PathwayEvent.step_run_id == first.id)
                    ).one()
                    run = session.get(PathwayRun, pathway_run_id)
                    assert run is not None and (run.acked_event_id or 0) >= (decision.id or 0)
                page.get_by_role("button", name="Voir le parcours").click()
                page.get_by_role("tab", name="Historique").click()  # the steps and their events
                expect(page.get_by_text("Saisi dans le navigateur.")).to_be_visible()
                expect(page.get_by_text("en cours de prise en compte")).to_have_count(0)
                page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
            finally:
                browser.close()
    finally:
        supervisor.stop_all()
    wait_for(
        lambda: [s for s in mails_about(instance, reference) if "Auto-évaluation d'entrée" in s],
        what="the email about the entry self-evaluation",
    )
