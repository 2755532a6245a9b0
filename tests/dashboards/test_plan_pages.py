"""The plan, the team and the orientation advice, driven through Streamlit's AppTest against a
real, migrated database (Prefect unreachable: every input is committed with its transition)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from crealux_core.models import (
    EventKind,
    GoalStatus,
    Participant,
    PathwayEvent,
    PlanGoal,
    StepRun,
    StepStatus,
)
from crealux_core.rules import Rules
from crealux_core.services import events
from crealux_core.services.plans import add_goal
from crealux_core.services.users import get_user
from tests.conftest import T0
from tests.dashboards.test_app import (  # noqa: F401  (fixtures)
    app,
    button,
    fixed_clock,
    go_to_step,
    messages,
    shown,
    sign_in,
    visit,
)
from tests.services.test_plans import ANSWERS, walk

LATER = T0 + timedelta(minutes=10)


def participant_page(at: AppTest, participant_id: int) -> AppTest:
    at.query_params["participant"] = str(participant_id)
    return visit(at, "views/timeline.py")


def test_the_coordinator_enrols_a_participant_with_the_suggested_advisor(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    coordinator_view = visit(sign_in(app, "coordination"), "views/enroll.py")
    assert not coordinator_view.exception
    app.selectbox(key="enroll-expectation").set_value("creation").run()
    suggestion = " ".join(messages(app, "caption"))
    assert "Suggestion" in suggestion
    advisor_box = app.selectbox(key="enroll-advisor-creation")
    chosen = advisor_box.value
    app.text_input[0].input("Aïcha")
    app.text_input[1].input("Diallo")
    [gender] = [box for box in app.selectbox if box.label == "Genre"]
    gender.set_value("female")
    button(app, "Inscrire").click().run()
    assert not app.exception, app.exception
    participant = session.exec(select(Participant).where(Participant.first_name == "Aïcha")).one()
    assert participant.advisor_id == chosen
    assert messages(app, "title") == ["Aïcha Diallo"]


def test_the_participant_page_shows_the_plan_and_takes_a_goal_and_an_optional_step(
    app: AppTest,  # noqa: F811
    enroll,
    session: Session,
    rules: Rules,
) -> None:
    enrolled = enroll()
    walk(session, rules, enrolled.pathway_run_id, "orientation")
    add_goal(
        session=session,
        user=get_user(session=session, username="conseillere"),
        pathway_run_id=enrolled.pathway_run_id,
        data={"label": "Finaliser mon plan d'affaires"},
        now=LATER,
    )
    participant_page(sign_in(app, "conseillere"), enrolled.participant_id)
    assert not app.exception, app.exception
    page = shown(app)
    assert "Plan individuel" in page
    assert "Finaliser mon plan d'affaires" in page
    assert "Premier accueil · fait" in page and "Orientation · en cours" in page

    [label] = [box for box in app.text_input if box.label.startswith("Objectif")]
    label.input("Passer le permis B")
    button(app, "Ajouter l'objectif").click().run()
    assert not app.exception, app.exception
    labels = session.exec(select(PlanGoal.label).order_by(col(PlanGoal.id))).all()
    assert labels == ["Finaliser mon plan d'affaires", "Passer le permis B"]

    [step_box] = [box for box in app.selectbox if box.label == "Étape"]
    step_box.set_value("coaching_session")
    button(app, "Ajouter l'étape").click().run()
    assert not app.exception, app.exception
    session.expire_all()
    optional = session.exec(select(StepRun).where(col(StepRun.optional).is_(True))).one()
    assert optional.step_key == "coaching_session" and optional.status is StepStatus.OPEN
    assert "Séance de coaching (facultative)" in shown(app).replace("*", "")

    goal_id = session.exec(select(PlanGoal.id).order_by(col(PlanGoal.id))).first()
    app.selectbox(key=f"goal-{goal_id}-status").set_value(GoalStatus.ACHIEVED).run()
    session.expire_all()
    goal = session.get(PlanGoal, goal_id)
    assert goal is not None and goal.status is GoalStatus.ACHIEVED


def test_a_partner_sees_no_plan_controls(
    app: AppTest,  # noqa: F811
    enroll,
    session: Session,
    rules: Rules,
) -> None:
    enrolled = enroll()
    walk(session, rules, enrolled.pathway_run_id, "business_creation")
    participant_page(sign_in(app, "challenge"), enrolled.participant_id)
    assert not app.exception, app.exception
    assert [b.label for b in app.button if b.label in ("Ajouter l'objectif", "Confier")] == []


def test_a_correction_starts_from_the_answers_and_keeps_the_original(
    app: AppTest,  # noqa: F811
    enroll,
    session: Session,
    rules: Rules,
) -> None:
    enrolled = enroll()
    walk(session, rules, enrolled.pathway_run_id, "self_evaluation_entry")
    step_id = enrolled.first_step.id or 0
    go_to_step(sign_in(app, "conseillere"), step_id)
    assert not app.exception, app.exception
    prefix = f"step-{step_id}-correct"
    assert app.selectbox(key=f"{prefix}-referred_by").value == "cpas"  # started from the answers
    app.selectbox(key=f"{prefix}-referred_by").set_value("forem")
    button(app, "Enregistrer la correction").click().run()
    assert "Indiquez pourquoi la décision est corrigée." in messages(app, "error")
    app.text_area(key=f"{prefix}-reason").input("C'était le Forem.")
    button(app, "Enregistrer la correction").click().run()
    assert not app.exception, app.exception
    assert "Correction enregistrée ; la décision d'origine reste visible." in messages(
        app, "success"
    )
    session.expire_all()
    kinds = session.exec(select(PathwayEvent.kind).where(PathwayEvent.step_run_id == step_id)).all()
    assert kinds == [EventKind.DECISION, EventKind.CORRECTION]
    assert (
        events.answers_of(session, enrolled.pathway_run_id)["first_reception"]["referred_by"]
        == "forem"
    )
    assert "Correction de la décision" in shown(app)


def test_the_orientation_step_shows_the_advice_and_the_coordinator_counts_it(
    app: AppTest,  # noqa: F811
    enroll,
    session: Session,
    rules: Rules,
) -> None:
    enrolled = enroll()
    orientation = walk(
        session,
        rules,
        enrolled.pathway_run_id,
        "orientation",
        socio_professional_assessment={"barrier_housing": True},
    )
    go_to_step(sign_in(app, "conseillere"), orientation.id or 0)
    assert not app.exception, app.exception
    advice = " ".join(messages(app, "info"))
    assert "Conseil d'orientation : Accompagnement social d'abord" in advice

    from tests.services.test_plans import decide

    decide(session, rules, orientation.id or 0, ANSWERS["orientation"], "conseillere")
    coordinator = AppTest.from_file(app._script_path, default_timeout=30).run()
    visit(sign_in(coordinator, "coordination"), "views/orientation.py")
    assert not coordinator.exception, coordinator.exception
    metrics = {m.label: m.value for m in coordinator.metric}
    assert metrics["Décisions d'orientation"] == "1"
    assert metrics["Décision différente du conseil"].startswith("1 sur 1")


def test_the_coordinator_sets_a_quota_and_moves_a_caseload(
    app: AppTest,  # noqa: F811
    enroll,
    session: Session,
) -> None:
    enrolled = enroll("Sophie", advisor="conseillere")
    visit(sign_in(app, "coordination"), "views/team.py")
    assert not app.exception, app.exception
    claire = get_user(session=session, username="conseillere")
    marc = get_user(session=session, username="conseiller")
    app.number_input(key=f"quota-{claire.id}").set_value(12)
    app.button(key=f"save-{claire.id}").click().run()
    session.expire_all()
    assert get_user(session=session, username="conseillere").caseload_quota == 12

    [origin, target] = [box for box in app.selectbox if box.label in ("De", "À")]
    origin.set_value(claire.id)
    target.set_value(marc.id)
    button(app, "Transférer le portefeuille").click().run()
    assert not app.exception, app.exception
    session.expire_all()
    participant = session.get(Participant, enrolled.participant_id)
    assert participant is not None and participant.advisor_id == marc.id
    step = session.get(StepRun, enrolled.first_step.id)
    assert step is not None and step.assignee_id == marc.id


def test_a_participant_who_left_comes_back_on_a_new_pathway_from_their_page(
    app: AppTest,  # noqa: F811
    enroll,
    session: Session,
    rules: Rules,
) -> None:
    from crealux_core.models import PathwayRun
    from tests.services.helpers import walk_to

    enrolled = enroll()
    staying = participant_page(sign_in(app, "conseillere"), enrolled.participant_id)
    assert not [b for b in staying.button if b.label == "Commencer un nouveau parcours"]
    walk_to(session, rules, enrolled.pathway_run_id, "leaving_result", route="exit")
    left = participant_page(app, enrolled.participant_id)
    button(left, "Commencer un nouveau parcours").click().run()
    assert not left.exception, left.exception
    runs = session.exec(
        select(PathwayRun).where(PathwayRun.participant_id == enrolled.participant_id)
    ).all()
    assert len(runs) == 2  # the old one keeps its follow-ups; the new one starts
    again = participant_page(left, enrolled.participant_id)
    assert not [b for b in again.button if b.label == "Commencer un nouveau parcours"]
