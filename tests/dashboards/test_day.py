"""An advisor's day through Streamlit's AppTest: the worklist's filters and pages, the
participants list, contact details, and the signed cookie that outlives a reload.

(A real reload needs a real browser: tests/dashboards/test_browser_session.py.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from crealux_core import clock
from crealux_core.models import Organisation, Participant, StepRun, User
from crealux_core.runtime import Runtime
from crealux_core.services.users import get_user
from crealux_core.settings import Settings
from dashboards.context import SESSION_COOKIE, Context, SessionCookies
from tests.conftest import T0
from tests.dashboards.conftest import APP_FILE

TIMEOUT = 30
NOW = T0 + timedelta(minutes=15)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)


@pytest.fixture
def app(app_settings: Settings) -> AppTest:
    return AppTest.from_file(APP_FILE, default_timeout=TIMEOUT).run()


def sign_in(at: AppTest, username: str, password: str = "demo") -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    [button] = [b for b in at.button if b.label == "Se connecter"]
    return button.click().run()


def shown(at: AppTest) -> str:
    kinds = ("title", "subheader", "markdown", "caption", "text")
    parts = [element.value for kind in kinds for element in at.get(kind)]
    return "\n".join(str(part) for part in parts).replace("\\", "").replace("**", "")


def step_buttons(at: AppTest) -> list[str]:
    return [str(b.key) for b in at.button if str(b.key).startswith("open-step-")]


def visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    at._page_hash = ""  # AppTest would request this page again on every run
    return at


def change_step(session: Session, step_id: int, **values: Any) -> None:
    step = session.get(StepRun, step_id)
    assert step is not None
    for name, value in values.items():
        setattr(step, name, value)
    session.add(step)
    session.commit()


def organisation(session: Session, key: str) -> Organisation:
    return session.exec(select(Organisation).where(Organisation.key == key)).one()


# --- the worklist --------------------------------------------------------------------------------


def test_the_advisors_worklist_filters_by_step_and_by_participant(
    app: AppTest, enroll, session: Session
) -> None:
    sophie, karim = enroll("Sophie"), enroll("Karim")
    change_step(session, karim.first_step.id or 0, step_key="orientation")
    sign_in(app, "conseillere")
    assert app.title[0].value == "Mes étapes"
    assert step_buttons(app) == [
        f"open-step-{sophie.first_step.id}",
        f"open-step-{karim.first_step.id}",
    ]

    app.selectbox(key="worklist-step").set_value("orientation").run()
    assert step_buttons(app) == [f"open-step-{karim.first_step.id}"]
    assert "Orientation" in shown(app) and "Sophie" not in shown(app)

    app.selectbox(key="worklist-step").set_value("").run()
    app.text_input(key="worklist-participant").input("sophie").run()
    assert step_buttons(app) == [f"open-step-{sophie.first_step.id}"]

    app.text_input(key="worklist-participant").input(f"P-{karim.participant_id:05d}").run()
    assert step_buttons(app) == [f"open-step-{karim.first_step.id}"]

    app.text_input(key="worklist-participant").input("nobody").run()
    assert step_buttons(app) == []
    assert [m.value for m in app.info] == ["Aucune étape ouverte ne correspond à ces filtres."]


def test_steps_due_within_three_days_and_optional_ones_are_marked(
    app: AppTest, enroll, session: Session
) -> None:
    soon, optional = enroll("Sophie"), enroll("Karim")
    change_step(session, soon.first_step.id or 0, due_at=NOW + timedelta(days=2))
    change_step(session, optional.first_step.id or 0, optional=True)
    sign_in(app, "conseillere")
    badges = [str(m.value) for m in app.markdown if "badge[" in str(m.value)]
    assert badges == [
        ":orange-badge[:material/alarm: échéance dans les 3 jours]",
        ":gray-badge[:material/add_circle: facultative]",
    ]
    assert "dont 0 en retard et 1 à échéance dans les 3 jours" in shown(app)


def test_the_coordinator_sees_all_steps_and_filters_by_organisation(
    app: AppTest, enroll, session: Session
) -> None:
    enroll("Sophie")
    enroll("Karim", advisor="conseiller")
    partners = enroll("Ali")
    challenge = organisation(session, "challenge")
    change_step(session, partners.first_step.id or 0, organisation_id=challenge.id)
    sign_in(app, "coordination")
    assert app.title[0].value == "Toutes les étapes"
    assert len(step_buttons(app)) == 3
    assert "suivie par Marc Jacquemin" in shown(app)

    app.selectbox(key="worklist-organisation").set_value(challenge.id).run()
    assert step_buttons(app) == [f"open-step-{partners.first_step.id}"]


def test_only_the_coordinators_worklist_has_an_organisation_filter(app: AppTest, enroll) -> None:
    enroll()
    sign_in(app, "conseillere")
    assert [s.label for s in app.selectbox] == ["Étape"]


def test_a_long_worklist_comes_a_page_at_a_time(app: AppTest, enroll, session: Session) -> None:
    for number in range(27):
        enrolled = enroll(f"P{number:02d}")
        change_step(session, enrolled.first_step.id or 0, due_at=NOW + timedelta(days=5 + number))
    sign_in(app, "conseillere")
    assert len(step_buttons(app)) == 25
    assert "Page 1 sur 2" in shown(app)
    assert "27 étape(s) ouverte(s)" in shown(app)

    [following] = [b for b in app.button if b.label == "Page suivante"]
    following.click().run()
    assert len(step_buttons(app)) == 2
    assert "P25 Test" in shown(app) and "P00 Test" not in shown(app)

    app.text_input(key="worklist-participant").input("P0").run()  # back to the first page
    assert "Page 1 sur 1" not in shown(app)
    assert len(step_buttons(app)) == 10


# --- the participants list -----------------------------------------------------------------------


def test_the_participants_list_shows_the_current_step_the_advisor_and_searches(
    app: AppTest, enroll
) -> None:
    enroll("Sophie")
    enroll("Karim")
    visit(sign_in(app, "conseillere"), "views/participants.py")
    text = shown(app)
    assert "Étape en cours : Premier accueil" in text
    assert "Suivi·e par Claire Lambert" in text
    assert "2 participant(s)" in text

    app.text_input(key="participants-search").input("kar").run()
    assert "Karim Test" in shown(app) and "Sophie Test" not in shown(app)


# --- contact details -----------------------------------------------------------------------------


def contact_page() -> None:
    import streamlit as st

    from dashboards import contact_details, context

    contact_details.render(context.current(), int(st.session_state["participant"]))


def contact_app(runtime: Runtime, session: Session, username: str, participant_id: int) -> AppTest:
    at = AppTest.from_function(contact_page, default_timeout=TIMEOUT)
    at.session_state["_crealux_context"] = Context(
        runtime=runtime, user=get_user(session=session, username=username)
    )
    at.session_state["participant"] = participant_id
    return at.run()


def test_contact_details_are_corrected_with_french_messages(
    app_settings: Settings, runtime: Runtime, enroll, session: Session
) -> None:
    enrolled = enroll()
    at = contact_app(runtime, session, "conseillere", enrolled.participant_id)
    assert not at.exception
    assert "Coordonnées" in shown(at)

    at.text_input(key=f"contact-{enrolled.participant_id}-phone").input("04/70")
    at.text_input(key=f"contact-{enrolled.participant_id}-email").input("sophie@")
    at.button[0].click().run()
    errors = [str(e.value) for e in at.error]
    assert any("Un numéro de téléphone s'écrit avec des chiffres" in e for e in errors)
    assert any("Adresse e-mail invalide" in e for e in errors)

    at.text_input(key=f"contact-{enrolled.participant_id}-phone").input("+32 470 12 34 56")
    at.text_input(key=f"contact-{enrolled.participant_id}-email").input("sophie@exemple.be")
    at.text_area(key=f"contact-{enrolled.participant_id}-address").input("Rue Haute 1")
    at.button[0].click().run()
    assert not at.error
    session.expire_all()
    participant = session.get(Participant, enrolled.participant_id)
    assert participant is not None
    assert (participant.phone, participant.email, participant.address) == (
        "+32 470 12 34 56",
        "sophie@exemple.be",
        "Rue Haute 1",
    )
    assert "sophie@exemple.be" in shown(at).replace("\\", "")


def test_contact_details_are_not_shown_to_another_advisor(
    app_settings: Settings, runtime: Runtime, enroll, session: Session
) -> None:
    enrolled = enroll()
    at = contact_app(runtime, session, "conseiller", enrolled.participant_id)
    assert not at.exception
    assert "Coordonnées" not in shown(at)
    assert not at.text_input


# --- the session cookie --------------------------------------------------------------------------


def cookie_scripts(at: AppTest) -> list[str]:
    return [str(e.proto.body) for e in at.get("html") if SESSION_COOKIE in str(e.proto.body)]


def test_signing_in_writes_the_cookie_and_signing_out_clears_it(app: AppTest) -> None:
    assert cookie_scripts(app) == []
    sign_in(app, "conseillere")
    [written] = cookie_scripts(app)
    assert f"{SESSION_COOKIE}=" in written and "Max-Age=28800" in written

    app.switch_page("views/sign_out.py").run()
    [cleared] = cookie_scripts(app)
    assert f"{SESSION_COOKIE}=; Max-Age=0" in cleared


def test_a_sign_in_past_its_lifetime_signs_out(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(app, "conseillere")
    monkeypatch.setattr(clock, "utcnow", lambda: NOW + timedelta(hours=8))
    app.run()
    assert "user_id" not in app.session_state
    assert any("Votre session a expiré" in str(m.value) for m in app.info)


def user_named(session: Session, username: str) -> User:
    return get_user(session=session, username=username)


def test_a_cookie_is_valid_for_its_user_until_it_expires(session: Session) -> None:
    cookies = SessionCookies(secret=b"k" * 32, lifetime=timedelta(hours=8))
    advisor, other = user_named(session, "conseillere"), user_named(session, "conseiller")
    value = cookies.issue(advisor, NOW)

    assert cookies.check(value, advisor, NOW + timedelta(hours=7, minutes=59))
    assert not cookies.check(value, advisor, NOW + timedelta(hours=8))
    assert not cookies.check(value, other, NOW)
    assert not SessionCookies(b"x" * 32, cookies.lifetime).check(value, advisor, NOW)
    user_id, expires, mac = value.split(".")
    assert not cookies.check(f"{user_id}.{int(expires) + 3600}.{mac}", advisor, NOW)
    assert not cookies.check("garbage", advisor, NOW)


def test_a_new_password_ends_the_cookies_issued_before(session: Session) -> None:
    cookies = SessionCookies(secret=b"k" * 32, lifetime=timedelta(hours=8))
    advisor = user_named(session, "conseillere")
    value = cookies.issue(advisor, NOW)
    changed = advisor.model_copy(update={"password_hash": "scrypt$other"})
    assert not cookies.check(value, changed, NOW)


def test_the_secret_is_generated_once_in_the_data_directory(tmp_path: Any) -> None:
    settings = Settings(home=tmp_path / "home")
    first = settings.session_secret()
    assert len(first) == 64 and Settings(home=tmp_path / "home").session_secret() == first
    assert (tmp_path / "home" / "secret_key").stat().st_mode & 0o077 == 0
    assert Settings(home=tmp_path / "home", secret_key="from-env").session_secret() == b"from-env"
