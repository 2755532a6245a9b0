"""« Sensibilisation » served by a real `streamlit run`, driven in headless Chromium.

Screenshots land in the test's tmp_path (run with `--basetemp=DIR` to keep them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select

from crealux_core.models import OutreachAction, StructureSensitisation
from tests.browser import sign_in
from tests.dashboards.test_browser import (  # noqa: F401  (fixtures)
    Dashboard,
    browser,
    dashboard,
    new_page,
)

pytestmark = pytest.mark.browser


def type_date(page, label: str, ddmmyyyy: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("spinbutton", name=f"day, {label}").first.click()
    page.keyboard.type(ddmmyyyy)
    page.keyboard.press("Escape")


def test_an_advisor_records_outreach_and_a_double_click_saves_once(
    dashboard: Dashboard,  # noqa: F811
    browser: Browser,  # noqa: F811
    session: Session,
    tmp_path: Path,
) -> None:
    page = new_page(browser, dashboard.url)
    sign_in(page, "conseillere")
    page.get_by_role("link", name="Sensibilisation").click()
    expect(page.get_by_role("heading", name="Sensibilisation")).to_be_visible()

    # Nothing filled in: each field says what is missing, nothing is saved.
    page.get_by_role("button", name="Enregistrer l'action").click()
    expect(
        page.get_by_text("Rien n'a été enregistré : corrigez les champs signalés.")
    ).to_be_visible()
    expect(page.get_by_text("Ce champ est obligatoire.")).to_have_count(3)
    page.screenshot(path=str(tmp_path / "outreach-errors.png"), full_page=True)
    assert session.exec(select(OutreachAction)).all() == []

    type_date(page, "Date", "15102026")
    page.get_by_role("textbox", name="Intitulé").fill("Salon du parcours du créateur")
    page.get_by_role("combobox", name="Format", exact=True).click()
    page.get_by_role("option", name="Salon du parcours du créateur").click()
    page.get_by_role("spinbutton", name="Personnes touchées").fill("40")
    page.get_by_role("spinbutton", name="Devenues candidates").fill("6")
    page.get_by_role("button", name="Enregistrer l'action").dblclick()
    expect(page.get_by_text("Action enregistrée : Salon du parcours du créateur")).to_be_visible()
    page.wait_for_timeout(1500)  # let a second run, if any, finish before counting rows
    session.expire_all()
    [row] = session.exec(select(OutreachAction)).all()
    assert (row.title, row.people_reached, row.became_candidates) == (
        "Salon du parcours du créateur",
        40,
        6,
    )
    page.screenshot(path=str(tmp_path / "outreach-saved.png"), full_page=True)

    page.get_by_role("tab", name="Enregistrer une structure").click()
    page.get_by_role("textbox", name="Nom de la structure").fill("CPAS de Durbuy")
    page.get_by_text("Structure de 1ère ligne").click()
    type_date(page, "Date", "20102026")
    page.get_by_role("button", name="Enregistrer la structure").click()
    expect(page.get_by_text("Structure enregistrée : CPAS de Durbuy")).to_be_visible()
    session.expire_all()
    assert len(session.exec(select(StructureSensitisation)).all()) == 1

    page.get_by_role("tab", name="Ce qui est enregistré").click()
    expect(page.get_by_text("Candidats potentiels sensibilisés", exact=True)).to_be_visible()
    page.screenshot(path=str(tmp_path / "outreach-recorded.png"), full_page=True)
