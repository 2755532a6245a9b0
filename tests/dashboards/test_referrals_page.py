"""« Orientations » driven through Streamlit's AppTest against a real, migrated database: the
advisor sends, the partner it was sent to accepts, another partner sees nothing."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from crealux_core.models import Referral, ReferralStatus, StepRun
from crealux_core.rules import Rules
from crealux_core.services import referrals
from crealux_core.services.plans import add_optional_step
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.dashboards.conftest import APP_FILE
from tests.dashboards.test_app import (  # noqa: F401  (fixtures)
    TIMEOUT,
    button,
    fixed_clock,
    messages,
    shown,
    sign_in,
    visit,
)

PAGE = "views/referrals.py"


def referral_step(session: Session, rules: Rules, pathway_run_id: int) -> int:
    add_optional_step(
        session=session,
        rules=rules,
        user=get_user(session=session, username="conseillere"),
        pathway_run_id=pathway_run_id,
        step_key="partner_referral",
        note=None,
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    step = session.exec(select(StepRun).where(StepRun.step_key == "partner_referral")).one()
    return step.id or 0


def another_tab() -> AppTest:
    return AppTest.from_file(APP_FILE, default_timeout=TIMEOUT).run()


def page(at: AppTest, username: str) -> AppTest:
    visit(sign_in(at, username), PAGE)
    assert not at.exception, at.exception
    return at


def test_an_advisor_refers_and_the_partner_accepts_while_others_see_nothing(
    app_settings, session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll("Nadia")
    step_id = referral_step(session, rules, enrolled.pathway_run_id)

    advisor = page(another_tab(), "conseillere")
    assert "Nadia" in shown(advisor) and "Orientation vers un partenaire" in shown(advisor)
    # nothing chosen: refused in French, nothing written
    button(advisor, "Envoyer l'orientation").click().run()
    assert any("Rien n'a été envoyé" in text for text in messages(advisor, "error"))
    assert session.exec(select(Referral)).all() == []
    advisor.selectbox[0].select("forem-marche/job-club")
    advisor.text_area[0].input("Recherche un emploi de magasinier.")
    button(advisor, "Envoyer l'orientation").click().run()
    assert not advisor.exception, advisor.exception
    assert messages(advisor, "success") == ["Orientation envoyée : le partenaire est prévenu."]
    session.expire_all()
    referral = session.exec(select(Referral)).one()
    assert referral.status is ReferralStatus.SENT

    other = page(another_tab(), "cpas")
    assert "Nadia" not in shown(other) and "Aucune orientation" in shown(other)

    partner = page(another_tab(), "forem")
    text = shown(partner)
    assert "Nadia" in text and "Recherche un emploi de magasinier." in text
    assert "Test" not in text  # the last name is not shared
    partner.date_input[0].set_value(date(2026, 11, 16))
    button(partner, "Accepter").click().run()
    assert not partner.exception, partner.exception
    assert any("Orientation acceptée" in text for text in messages(partner, "success"))
    session.expire_all()
    referral = session.exec(select(Referral)).one()
    assert referral.status is ReferralStatus.ACCEPTED
    assert referral.starts_on == date(2026, 11, 16)
    step = session.get(StepRun, step_id)
    assert step is not None and step.organisation_id == referral.organisation_id


def test_a_partner_opens_a_participant_only_while_referred(
    app_settings, session: Session, rules: Rules, enroll
) -> None:
    """By the page's address, as a forwarded link would: the service refuses, not the menu."""
    enrolled = enroll("Nadia")
    referral_step(session, rules, enrolled.pathway_run_id)
    step_id = session.exec(select(StepRun.id).where(StepRun.step_key == "partner_referral")).one()
    referrals.refer(
        session=session,
        rules=rules,
        step_run_id=step_id or 0,
        actor=get_user(session=session, username="conseillere"),
        offer="forem-marche/job-club",
        reason="Recherche d'emploi.",
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )

    def timeline_as(username: str) -> AppTest:
        at = sign_in(another_tab(), username)
        at.query_params["participant"] = str(enrolled.participant_id)
        visit(at, "views/timeline.py")
        assert not at.exception, at.exception
        return at

    refused = "Ce participant n'est pas suivi par vous ou votre organisation."
    assert messages(timeline_as("cpas"), "error") == [refused]
    assert messages(timeline_as("conseiller"), "error") == [refused]
    partner = timeline_as("forem")
    assert messages(partner, "error") == []
    assert "Nadia" in shown(partner) and "Nadia Test" not in shown(partner)
    advisor = timeline_as("conseillere")
    assert "Nadia Test" in shown(advisor)
