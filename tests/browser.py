"""Driving the dashboard in Debian's Chromium with Playwright (its own browser download cannot
work here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")


def choose(page: Page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox by the labels people see."""
    page.get_by_label(label).click()
    page.get_by_role("option", name=option).click()


def sign_in(page: Page, username: str, password: str = "demo") -> None:
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def fill_first_reception(page: Page, note: str) -> None:
    """Fill the first-reception form: 02/11/2026, consent, sent by the CPAS, to create."""
    page.get_by_role("spinbutton", name="day, Date de l'entretien").click()
    page.keyboard.type("02112026")  # day, month, year: the field moves on by itself
    page.keyboard.press("Escape")  # close the calendar that opened with the field
    page.get_by_role("radiogroup", name="Consentement").get_by_text("Oui").click()
    choose(page, "Envoyé par (prescripteur)", "CPAS")
    choose(page, "Attente principale", "Créer son activité")
    page.get_by_role("textbox", name="Note (confidentielle").fill(note)
    page.get_by_role("button", name="Enregistrer la décision").click()
