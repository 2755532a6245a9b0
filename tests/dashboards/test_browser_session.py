"""A reload (F5) keeps the user signed in, in a real browser: the dashboard served by a real
`streamlit run`, driven in headless Chromium. Signing out, an expired cookie and a deactivated
account each sign out, whatever the browser keeps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlmodel import Session

from crealux.launcher import Supervisor, start_dashboard
from crealux_core.clock import utcnow
from crealux_core.runtime import Runtime
from crealux_core.services.users import get_user
from dashboards.context import SESSION_COOKIE, SessionCookies
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, sign_in
from tests.conftest import clean_environ
from tests.dashboards.conftest import app_environ

pytestmark = pytest.mark.browser

HAS_COOKIE = f"document.cookie.includes('{SESSION_COOKIE}=')"
NO_COOKIE = f"!document.cookie.includes('{SESSION_COOKIE}=')"


@pytest.fixture
def dashboard(runtime: Runtime, tmp_path: Path) -> Iterator[str]:
    """The dashboard on the seeded test database, started as `crealux up` starts it."""
    require_chromium()
    supervisor = Supervisor(
        log_dir=tmp_path, env={**clean_environ(), **app_environ(runtime.settings)}
    )
    try:
        start_dashboard(supervisor, runtime.settings)
        yield runtime.settings.dashboard_url
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


def new_context(browser: Browser, dashboard: str) -> BrowserContext:
    """A new browser profile, after a first visit to the dashboard's home.

    (Streamlit learns the app's pages on its first run: a first visit to any other address
    after the dashboard started says « Page not found » and shows the home page.)
    """
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-BE")
    context.set_default_timeout(30_000)
    page = open_page(context, dashboard)
    expect_sign_in_form(page)
    page.close()
    return context


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    return page


def expect_sign_in_form(page: Page) -> None:
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()


def cookies_of(runtime: Runtime) -> SessionCookies:
    """The instance's cookie signer: the dashboard reads the same generated key file."""
    return SessionCookies.from_settings(runtime.settings)


def test_a_reload_keeps_the_user_signed_in_on_the_same_page_until_they_sign_out(
    dashboard: str, browser: Browser, enroll, tmp_path: Path
) -> None:
    enrolled = enroll()
    step_url = f"{dashboard}/etape?step={enrolled.first_step.id}"
    context = new_context(browser, dashboard)

    # A link from an e-mail asks to sign in, then opens the step.
    page = open_page(context, step_url)
    sign_in(page, "conseillere")
    expect(page.get_by_role("heading", name="Premier accueil")).to_be_visible()
    page.wait_for_function(HAS_COOKIE)

    page.reload()
    expect(page.get_by_role("heading", name="Premier accueil")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/etape\?step={enrolled.first_step.id}$"))
    expect(page.get_by_role("button", name="Se connecter")).to_have_count(0)

    page.get_by_role("link", name="Participants").click()
    expect(page.get_by_role("heading", name="Participants")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Participants")).to_be_visible()
    expect(page.get_by_text("Sophie Test")).to_be_visible()
    page.screenshot(path=str(tmp_path / "reloaded.png"), full_page=True)

    # With a valid cookie, the link from the e-mail opens the step at once, in another tab.
    tab = open_page(context, step_url)
    expect(tab.get_by_role("heading", name="Premier accueil")).to_be_visible()
    tab.close()

    page.get_by_role("link", name="Déconnexion").click()
    expect(page.get_by_text("Vous êtes déconnecté·e.")).to_be_visible()
    page.wait_for_function(NO_COOKIE)
    page.reload()
    expect_sign_in_form(page)
    expect(page.get_by_role("heading", name="Mes étapes")).to_have_count(0)
    context.close()


def test_an_expired_cookie_signs_out(
    dashboard: str, browser: Browser, runtime: Runtime, session: Session
) -> None:
    advisor = get_user(session=session, username="conseillere")
    cookies = cookies_of(runtime)
    context = new_context(browser, dashboard)
    expired = cookies.issue(advisor, utcnow() - cookies.lifetime - timedelta(minutes=1))
    context.add_cookies([{"name": SESSION_COOKIE, "value": expired, "url": dashboard}])

    page = open_page(context, f"{dashboard}/etapes")
    expect_sign_in_form(page)
    page.wait_for_function(NO_COOKIE)  # and the browser forgets it

    # The same cookie, not expired, signs in: the refusal was the expiry's.
    valid = cookies.issue(advisor, utcnow())
    context.add_cookies([{"name": SESSION_COOKIE, "value": valid, "url": dashboard}])
    page.reload()
    expect(page.get_by_role("heading", name="Mes étapes")).to_be_visible()
    context.close()


def test_a_deactivated_user_is_refused_even_with_a_valid_cookie(
    dashboard: str, browser: Browser, runtime: Runtime, session: Session
) -> None:
    advisor = get_user(session=session, username="conseillere")
    valid = cookies_of(runtime).issue(advisor, utcnow())
    advisor.active = False
    session.add(advisor)
    session.commit()
    context = new_context(browser, dashboard)
    context.add_cookies([{"name": SESSION_COOKIE, "value": valid, "url": dashboard}])

    page = open_page(context, f"{dashboard}/etapes")
    expect_sign_in_form(page)
    expect(page.get_by_role("heading", name="Mes étapes")).to_have_count(0)
    context.close()
