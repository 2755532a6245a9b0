"""An advisor's sitting in a real browser: reception, entry self-evaluation and assessment one
after the other from the « Étape suivante » link, then the orientation with its advice.

Prefect is not running here: each submit commits the decision with its transition, so the next
step opens at once all the same. Screenshots land in the test's tmp_path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from crealux_core.models import EventKind, PathwayEvent, StepRun
from tests.browser import choose, fill_first_reception, sign_in
from tests.dashboards.test_browser import Dashboard, browser, dashboard, new_page  # noqa: F401

pytestmark = pytest.mark.browser


def yes_no(page: Page, label: str, answer: str) -> None:
    page.get_by_role("radiogroup", name=label).get_by_text(answer, exact=True).click()


def rate(page: Page, label: str, points: int) -> None:
    """Pick a point of a scale (a segmented control under its label)."""
    field = page.get_by_test_id("stElementContainer").filter(has_text=label)
    field.get_by_test_id("stButtonGroup").get_by_text(str(points), exact=True).click()


def type_date(page: Page, label: str, ddmmyyyy: str) -> None:
    page.get_by_role("spinbutton", name=f"day, {label}").click()
    page.keyboard.type(ddmmyyyy)
    page.keyboard.press("Escape")


def open_next_step(page: Page, title: str) -> None:
    expect(page.get_by_text("Décision enregistrée.")).to_be_visible()
    expect(page.get_by_text("Étape suivante :")).to_be_visible()
    page.get_by_role("button", name="Ouvrir").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()


def steps_of(session: Session, pathway_run_id: int) -> list[str]:
    session.expire_all()
    return list(
        session.exec(
            select(StepRun.step_key)
            .where(StepRun.pathway_run_id == pathway_run_id)
            .order_by(col(StepRun.seq))
        ).all()
    )


def test_an_advisor_completes_reception_then_assessment_in_one_sitting(
    dashboard: Dashboard,  # noqa: F811
    browser,  # noqa: F811
    enroll,
    session: Session,
    tmp_path: Path,
) -> None:
    enrolled = enroll()
    page = new_page(browser, f"{dashboard.url}/etape?step={enrolled.first_step.id}")
    sign_in(page, "conseillere")  # the link from the e-mail opens the step once signed in
    expect(page.get_by_role("heading", name="Premier accueil")).to_be_visible()

    fill_first_reception(page, note="Vient du CPAS.")
    open_next_step(page, "Auto-évaluation d'entrée")
    rate(page, "Confiance en moi", 2)
    rate(page, "Motivation pour mon projet", 5)
    rate(page, "Mon projet est clair pour moi", 3)
    choose(page, "Ce dont j'ai le plus besoin", "Des compétences")
    page.get_by_role("button", name="Enregistrer la décision").click()

    open_next_step(page, "Bilan socioprofessionnel")
    type_date(page, "Date du bilan", "03112026")
    choose(page, "Situation à l'entrée", "Demandeur d'emploi de longue durée")
    choose(page, "Niveau d'études", "Secondaire supérieur ou post-secondaire (CITE 3-4)")
    yes_no(page, "Possède une qualification professionnelle", "Oui")
    yes_no(page, "Difficulté de logement", "Non")
    yes_no(page, "Difficulté de santé", "Non")
    yes_no(page, "Difficulté de mobilité", "Oui")
    yes_no(page, "Difficulté de garde d'enfants", "Non")
    yes_no(page, "Endettement", "Oui")
    choose(page, "Maturité du projet", "Projet esquissé")
    page.screenshot(path=str(tmp_path / "assessment-filled.png"), full_page=True)
    page.get_by_role("button", name="Enregistrer la décision").click()

    open_next_step(page, "Orientation")
    expect(
        page.get_by_text("Conseil d'orientation : Accompagnement social d'abord")
    ).to_be_visible()
    page.screenshot(path=str(tmp_path / "orientation-advice.png"), full_page=True)
    assert re.search(r"/etape\?step=\d+$", page.url)

    assert steps_of(session, enrolled.pathway_run_id) == [
        "first_reception",
        "self_evaluation_entry",
        "socio_professional_assessment",
        "orientation",
    ]
    decisions = session.exec(
        select(PathwayEvent.payload)
        .where(PathwayEvent.kind == EventKind.DECISION)
        .order_by(col(PathwayEvent.id))
    ).all()
    assert decisions[1] == {
        "confidence": 2,
        "motivation": 5,
        "project_clarity": 3,
        "main_need": "skills",
    }
    assert decisions[2]["barrier_debt"] is True and decisions[2]["assessed_on"] == "2026-11-03"
