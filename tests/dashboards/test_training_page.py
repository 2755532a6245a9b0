"""« Formations » driven through Streamlit's AppTest against a real, migrated database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from crealux_core.models import PathwayEvent, Presence, TrainingAttendance, TrainingEnrolment
from crealux_core.rules import Rules
from crealux_core.services import training
from crealux_core.services.events import current_step
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.dashboards.test_app import (  # noqa: F401  (fixtures)
    app,
    button,
    fixed_clock,
    messages,
    shown,
    sign_in,
    visit,
)
from tests.services.helpers import walk_to

PAGE = "views/training.py"
START = date(2026, 11, 9)


def formations(at: AppTest, username: str) -> AppTest:
    visit(sign_in(at, username), PAGE)
    assert not at.exception, at.exception
    return at


@pytest.fixture
def cohort(session: Session, rules: Rules, enroll):
    """A session of Écoconstruction (Le Trusquin) with two places, and three participants of
    conseillere on their training step: two enrolled, none yet for the third."""
    participants = []
    for name in ("Amandine", "Bruno", "Chloé"):
        enrolled = enroll(name)
        walk_to(session, rules, enrolled.pathway_run_id, "training", route="training")
        participants.append(enrolled)
    view = training.create_session(
        session=session,
        rules=rules,
        user=get_user(session=session, username="trusquin"),
        organisation_key="le-trusquin",
        offer_key="eco-construction",
        starts_on=START,
        ends_on=START + timedelta(days=1),
        capacity=2,
        place="Barvaux",
        now=T0,
        hours_per_day=7,
    )
    for enrolled in participants[:2]:
        training.enrol(
            session=session,
            rules=rules,
            user=get_user(session=session, username="conseillere"),
            training_session_id=view.id,
            participant_id=enrolled.participant_id,
            now=T0,
            dashboard_url=DASHBOARD_URL,
        )
    return view, participants


def test_the_catalogue_lists_the_modules_by_organisation(app: AppTest) -> None:  # noqa: F811
    formations(app, "conseillere")
    text = shown(app)
    for title in ("Projet de vie et remotivation", "Écoconstruction", "Village des créateurs"):
        assert title in text
    assert "ASBL Le Trusquin EFT" in text


def test_an_advisor_enrols_a_participant_of_their_caseload_on_the_waiting_list(
    app: AppTest,  # noqa: F811
    cohort,
    session: Session,
) -> None:
    _, participants = cohort
    formations(app, "conseillere")
    third = participants[2].participant_id
    assert app.selectbox(key="training-enrol-participant").options == [
        f"P-{third:05d} - Chloé Test"
    ]
    button(app, "Inscrire").click().run()
    assert not app.exception, app.exception
    assert any("liste d'attente (n° 1)" in text for text in messages(app, "info"))
    session.expire_all()
    row = session.exec(
        select(TrainingEnrolment).where(TrainingEnrolment.participant_id == third)
    ).one()
    assert row.status.value == "waiting"


def test_the_partner_sees_first_names_records_attendance_and_closes_the_session(
    app: AppTest,  # noqa: F811
    cohort,
    session: Session,
) -> None:
    view, participants = cohort
    formations(app, "trusquin")
    frames = [frame.value for frame in app.dataframe]
    roster = frames[1]
    assert list(roster["Prénom"]) == ["Amandine", "Bruno"]
    assert "Test" not in " ".join(map(str, roster.to_numpy().ravel()))  # no last name
    assert "Nouvelle session" in [tab.label for tab in app.tabs]
    first, second = (
        session.exec(
            select(TrainingEnrolment.id).where(
                TrainingEnrolment.participant_id == enrolled.participant_id
            )
        ).one()
        for enrolled in participants[:2]
    )
    day_id = view.days[0][0]
    app.radio(key=f"training-presence-{second}-{day_id}").set_value(Presence.ABSENT)
    app.number_input(key=f"training-hours-{first}-{day_id}").set_value(5.5)
    button(app, "Enregistrer les présences").click().run()
    assert not app.exception, app.exception
    session.expire_all()
    marks = {
        a.enrolment_id: (a.presence, a.hours)
        for a in session.exec(select(TrainingAttendance)).all()
    }
    assert marks == {first: (Presence.PRESENT, 5.5), second: (Presence.ABSENT, 0.0)}

    app.checkbox(key=f"training-qualified-{first}").check()
    button(app, "Clôturer la session").click().run()
    assert not app.exception, app.exception
    assert any("2 parcours avancé(s)" in text for text in messages(app, "success"))
    session.expire_all()
    for enrolled in participants[:2]:
        step = current_step(session, enrolled.pathway_run_id)
        assert step is not None and step.step_key == "self_evaluation_mid"
    decision = session.exec(
        select(PathwayEvent).where(
            PathwayEvent.pathway_run_id == participants[0].pathway_run_id,
            PathwayEvent.kind == "decision",
        )
    ).all()[-1]
    assert decision.payload == {
        "training_kind": "qualifying",
        "completed": True,
        "hours": 6,  # 5.5 h, in whole hours
        "qualification_obtained": True,
    }


def test_a_partner_of_another_organisation_sees_no_session(
    app: AppTest,  # noqa: F811
    cohort,
) -> None:
    formations(app, "promsoc")
    assert "Aucune session de formation." in messages(app, "info")
    assert "Barvaux" not in shown(app)
