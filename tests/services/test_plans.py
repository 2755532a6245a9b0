"""Individual plans, corrections, caseloads and orientation advice, through the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from crealux_core.models import (
    EventKind,
    GoalStatus,
    OrientationAdvice,
    Participant,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
)
from crealux_core.rules import Rules
from crealux_core.services import events
from crealux_core.services.advice import advice_stats
from crealux_core.services.caseloads import (
    caseloads,
    set_profile,
    suggest_advisor,
    transfer_participants,
)
from crealux_core.services.errors import Forbidden, InvalidInput
from crealux_core.services.plans import (
    PlanState,
    add_goal,
    add_optional_step,
    correct_decision,
    plan_of,
    update_goal,
)
from crealux_core.services.steps import list_steps, skip_step, step_form, submit_decision
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0

LATER = T0 + timedelta(minutes=10)
ANSWERS: dict[str, dict[str, Any]] = {
    "first_reception": {
        "meeting_on": "2026-11-02",
        "consent_given": True,
        "referred_by": "cpas",
        "expectation": "creation",
    },
    "self_evaluation_entry": {
        "confidence": 2,
        "motivation": 5,
        "project_clarity": 3,
        "main_need": "skills",
    },
    "socio_professional_assessment": {
        "assessed_on": "2026-11-02",
        "labour_status": "long_term_unemployed",
        "education_level": "isced_3_4",
        "has_qualification": True,
        "barrier_housing": False,
        "barrier_health": False,
        "barrier_mobility": False,
        "barrier_childcare": False,
        "barrier_debt": False,
        "project_maturity": "ready",
    },
    "orientation": {"decided_on": "2026-11-02", "route": "creation"},
    "business_creation": {
        "joined_village": True,
        "business_plan_ready": True,
        "status": "principal",
        "started_on": "2026-11-02",
        "sector": "crafts",
        "company_number": "0403.170.701",
    },
}


def decide(
    session: Session, rules: Rules, step_run_id: int, data: dict[str, Any], actor: str
) -> int | None:
    submitted = submit_decision(
        session=session,
        rules=rules,
        step_run_id=step_run_id,
        actor=get_user(session=session, username=actor),
        data=data,
        now=LATER,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    return submitted.current_step_id


def walk(session: Session, rules: Rules, run_id: int, until: str, **changes: Any) -> StepRun:
    """Decide the pathway's steps with ANSWERS until it waits on `until`."""
    while True:
        current = events.current_step(session, run_id)
        assert current is not None, f"the pathway ended before {until}"
        if current.step_key == until:
            return current
        data = {**ANSWERS[current.step_key], **changes.get(current.step_key, {})}
        actor = "challenge" if current.step_key == "business_creation" else "conseillere"
        decide(session, rules, current.id or 0, data, actor)


def test_a_correction_keeps_the_original_decision_and_changes_the_answers(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    walk(session, rules, enrolled.pathway_run_id, "socio_professional_assessment")
    advisor = get_user(session=session, username="conseillere")
    correct_decision(
        session=session,
        rules=rules,
        user=advisor,
        step_run_id=enrolled.first_step.id or 0,
        data={**ANSWERS["first_reception"], "referred_by": "forem"},
        note="Le prescripteur était le Forem, pas le CPAS.",
        now=LATER,
    )
    kinds = session.exec(
        select(PathwayEvent.kind, PathwayEvent.payload).where(
            PathwayEvent.step_run_id == enrolled.first_step.id
        )
    ).all()
    assert [kind for kind, _ in kinds] == [EventKind.DECISION, EventKind.CORRECTION]
    assert kinds[0][1]["referred_by"] == "cpas"  # the original, untouched
    assert kinds[1][1]["outcome"]["referred_by"] == "forem"
    answers = events.answers_of(session, enrolled.pathway_run_id)
    assert answers["first_reception"]["referred_by"] == "forem"
    form = step_form(
        session=session, rules=rules, user=advisor, step_run_id=enrolled.first_step.id or 0
    )
    assert form.may_correct and form.answers == answers["first_reception"]


def test_a_correction_that_would_change_the_route_is_refused_and_writes_nothing(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    walk(session, rules, enrolled.pathway_run_id, "self_evaluation_entry")
    with pytest.raises(InvalidInput) as refused:
        correct_decision(
            session=session,
            rules=rules,
            user=get_user(session=session, username="conseillere"),
            step_run_id=enrolled.first_step.id or 0,
            data={**ANSWERS["first_reception"], "consent_given": False},
            note="Pas de consentement en fait.",
            now=LATER,
        )
    assert "changes the route" in refused.value.field_errors["form"]
    assert events.answers_of(session, enrolled.pathway_run_id)["first_reception"]["consent_given"]


def test_a_correction_needs_a_reason_and_the_right_person(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    walk(session, rules, enrolled.pathway_run_id, "self_evaluation_entry")
    step_id = enrolled.first_step.id or 0
    with pytest.raises(InvalidInput):
        correct_decision(
            session=session,
            rules=rules,
            user=get_user(session=session, username="conseillere"),
            step_run_id=step_id,
            data=ANSWERS["first_reception"],
            note="  ",
            now=LATER,
        )
    with pytest.raises(Forbidden):
        correct_decision(
            session=session,
            rules=rules,
            user=get_user(session=session, username="conseiller"),
            step_run_id=step_id,
            data=ANSWERS["first_reception"],
            note="Pas mon participant.",
            now=LATER,
        )


def test_correcting_the_start_date_redates_the_scheduled_checkpoint(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    checkpoint = walk(session, rules, enrolled.pathway_run_id, "post_creation_3m")
    assert checkpoint.status is StepStatus.SCHEDULED
    assert checkpoint.opens_at is not None and checkpoint.opens_at.date().isoformat() == (
        "2027-02-02"
    )
    creation = session.exec(
        select(StepRun).where(
            StepRun.pathway_run_id == enrolled.pathway_run_id,
            StepRun.step_key == "business_creation",
        )
    ).one()
    correct_decision(
        session=session,
        rules=rules,
        user=get_user(session=session, username="challenge"),
        step_run_id=creation.id or 0,
        data={**ANSWERS["business_creation"], "started_on": "2026-11-20"},
        note="L'activité a démarré le 20.",
        now=LATER,
    )
    session.expire_all()
    moved = session.get(StepRun, checkpoint.id)
    assert moved is not None and moved.opens_at is not None
    assert moved.opens_at.date().isoformat() == "2027-02-20"


def test_an_optional_step_runs_alongside_and_never_moves_the_pathway(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    current = walk(session, rules, enrolled.pathway_run_id, "socio_professional_assessment")
    advisor = get_user(session=session, username="conseillere")
    added = add_optional_step(
        session=session,
        rules=rules,
        user=advisor,
        pathway_run_id=enrolled.pathway_run_id,
        step_key="coaching_session",
        note=None,
        now=LATER,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    optional = session.get(StepRun, added.current_step_id)
    assert optional is not None and optional.optional and optional.status is StepStatus.OPEN
    assert events.current_step(session, enrolled.pathway_run_id).id == current.id  # type: ignore[union-attr]
    after = decide(
        session, rules, optional.id or 0, {"held_on": "2026-11-02", "attended": True}, "conseillere"
    )
    assert after == current.id  # deciding it leaves the pathway where it was
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert run is not None and run.status is PathwayStatus.ACTIVE
    open_keys = [
        view.step_key
        for view in list_steps(session=session, rules=rules, user=advisor, status=StepStatus.OPEN)
    ]
    assert open_keys == ["socio_professional_assessment"]


def test_an_optional_step_still_open_ends_with_the_pathway(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    added = add_optional_step(
        session=session,
        rules=rules,
        user=advisor,
        pathway_run_id=enrolled.pathway_run_id,
        step_key="company_immersion",
        note=None,
        now=LATER,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    decide(
        session,
        rules,
        enrolled.first_step.id or 0,
        {**ANSWERS["first_reception"], "consent_given": False},
        "conseillere",
    )
    session.expire_all()
    optional = session.get(StepRun, added.current_step_id)
    assert optional is not None and optional.status is StepStatus.CANCELLED


def test_an_unknown_optional_step_is_refused(session: Session, rules: Rules, enroll) -> None:
    enrolled = enroll()
    with pytest.raises(InvalidInput):
        add_optional_step(
            session=session,
            rules=rules,
            user=get_user(session=session, username="conseillere"),
            pathway_run_id=enrolled.pathway_run_id,
            step_key="first_reception",
            note=None,
            now=LATER,
            orchestrator=None,
            dashboard_url=DASHBOARD_URL,
        )


def test_the_plan_shows_done_open_coming_and_skipped_steps_with_who_and_why(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    entry = walk(session, rules, enrolled.pathway_run_id, "self_evaluation_entry")
    advisor = get_user(session=session, username="conseillere")
    skip_step(
        session=session,
        rules=rules,
        step_run_id=entry.id or 0,
        actor=advisor,
        reason="Le participant préfère la faire plus tard.",
        now=LATER,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    walk(session, rules, enrolled.pathway_run_id, "post_creation_3m")
    plan = plan_of(session=session, rules=rules, pathway_run_id=enrolled.pathway_run_id)
    states = [(item.step_key, item.state) for item in plan]
    assert states == [
        ("first_reception", PlanState.DONE),
        ("self_evaluation_entry", PlanState.SKIPPED),
        ("socio_professional_assessment", PlanState.DONE),
        ("orientation", PlanState.DONE),
        ("business_creation", PlanState.DONE),
        ("post_creation_3m", PlanState.COMING),
    ]
    skipped = plan[1]
    assert skipped.who == "Claire Lambert" and skipped.why == (
        "Le participant préfère la faire plus tard."
    )
    assert plan[4].who is not None  # the partner who decided


def test_goals_are_added_and_updated_as_events_of_the_pathway(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    before = session.get(PathwayRun, enrolled.pathway_run_id)
    assert before is not None
    last_event_before = before.last_event_id
    goal = add_goal(
        session=session,
        user=advisor,
        pathway_run_id=enrolled.pathway_run_id,
        data={"label": "Passer le permis B", "target_on": "2027-06-30"},
        now=LATER,
    )
    update_goal(
        session=session,
        user=advisor,
        goal_id=goal.id or 0,
        status=GoalStatus.ACHIEVED,
        note=None,
        now=LATER,
    )
    assert goal.status is GoalStatus.ACHIEVED
    kinds = session.exec(
        select(PathwayEvent.kind).where(PathwayEvent.pathway_run_id == enrolled.pathway_run_id)
    ).all()
    assert kinds.count(EventKind.GOAL) == 2
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert run is not None and run.last_event_id == last_event_before  # no wake for a goal
    with pytest.raises(InvalidInput):
        add_goal(
            session=session,
            user=advisor,
            pathway_run_id=enrolled.pathway_run_id,
            data={"label": ""},
            now=LATER,
        )
    with pytest.raises(Forbidden):
        add_goal(
            session=session,
            user=get_user(session=session, username="challenge"),
            pathway_run_id=enrolled.pathway_run_id,
            data={"label": "Un objectif"},
            now=LATER,
        )


def test_a_reassigned_caseload_moves_its_steps_to_the_colleagues_worklist(
    session: Session, rules: Rules, enroll
) -> None:
    first = enroll("Sophie", advisor="conseillere")
    second = enroll("Nadia", advisor="conseillere")
    walk(session, rules, second.pathway_run_id, "socio_professional_assessment")
    colleague = get_user(session=session, username="conseiller")
    before = list_steps(session=session, rules=rules, user=colleague, status=StepStatus.OPEN)
    moved = transfer_participants(
        session=session,
        actor=get_user(session=session, username="coordination"),
        from_advisor_id=get_user(session=session, username="conseillere").id or 0,
        to_advisor_id=colleague.id or 0,
        note="Congé de maternité",
        now=LATER,
        dashboard_url=DASHBOARD_URL,
    )
    assert moved == 2 and before == []
    after = list_steps(session=session, rules=rules, user=colleague, status=StepStatus.OPEN)
    assert sorted(view.participant_id for view in after) == sorted(
        [first.participant_id, second.participant_id]
    )
    former = get_user(session=session, username="conseillere")
    assert list_steps(session=session, rules=rules, user=former, status=StepStatus.OPEN) == []
    participant = session.get(Participant, first.participant_id)
    assert participant is not None and participant.advisor_id == colleague.id
    transfers = session.exec(
        select(PathwayEvent).where(PathwayEvent.kind == EventKind.TRANSFER)
    ).all()
    assert len(transfers) == 2 and transfers[0].note == "Congé de maternité"


def test_an_advisor_may_not_move_a_colleagues_caseload(
    session: Session, rules: Rules, enroll
) -> None:
    enroll("Sophie", advisor="conseillere")
    with pytest.raises(Forbidden):
        transfer_participants(
            session=session,
            actor=get_user(session=session, username="conseiller"),
            from_advisor_id=get_user(session=session, username="conseillere").id or 0,
            to_advisor_id=get_user(session=session, username="conseiller").id or 0,
            note=None,
            now=LATER,
            dashboard_url=DASHBOARD_URL,
        )


def test_enrolment_suggests_an_advisor_with_room_and_the_right_speciality(
    session: Session, rules: Rules, enroll
) -> None:
    coordinator = get_user(session=session, username="coordination")
    claire = get_user(session=session, username="conseillere")
    other = get_user(session=session, username="conseiller")
    enroll("Sophie", advisor="conseillere")
    set_profile(
        session=session, actor=coordinator, advisor_id=claire.id or 0, quota=5, speciality=None
    )
    set_profile(
        session=session,
        actor=coordinator,
        advisor_id=other.id or 0,
        quota=5,
        speciality="creation",
    )
    assert suggest_advisor(session=session).caseload.username == "conseiller"  # type: ignore[union-attr]
    enroll("Karim", advisor="conseiller")
    enroll("Luc", advisor="conseiller")
    # Equal room: the speciality decides; without one wanted, the least loaded.
    creation = suggest_advisor(session=session, expectation="creation")
    assert creation is not None and creation.caseload.username == "conseiller"
    assert "spécialité" in creation.reason
    assert suggest_advisor(session=session).caseload.username == "conseillere"  # type: ignore[union-attr]
    set_profile(
        session=session, actor=coordinator, advisor_id=other.id or 0, quota=2, speciality="creation"
    )
    full = suggest_advisor(session=session, expectation="creation")
    assert full is not None and full.caseload.username == "conseillere"  # the specialist is full
    loads = {load.username: load for load in caseloads(session=session)}
    assert loads["conseiller"].full and loads["conseiller"].open_pathways == 2
    with pytest.raises(Forbidden):
        set_profile(
            session=session, actor=claire, advisor_id=claire.id or 0, quota=1, speciality=None
        )


def test_the_orientation_decision_records_the_advice_beside_it(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    orientation = walk(
        session,
        rules,
        enrolled.pathway_run_id,
        "orientation",
        socio_professional_assessment={"barrier_debt": True},
    )
    form = step_form(session=session, rules=rules, user=advisor, step_run_id=orientation.id or 0)
    assert form.advice is not None and form.advice.route == "social"
    decide(session, rules, orientation.id or 0, ANSWERS["orientation"], "conseillere")
    row = session.exec(select(OrientationAdvice)).one()
    assert (row.advised_route, row.decided_route) == ("social", "creation")
    stats = advice_stats(session=session)
    assert (stats.decisions, stats.advised, stats.followed, stats.differed) == (1, 1, 0, 1)
    assert stats.pairs == [("social", "creation", 1)]


def test_the_advisor_is_told_when_the_coordinator_gives_them_participants(
    session: Session, rules: Rules, enroll
) -> None:
    from crealux_core.models import Gender, Notification, ParticipantCreate
    from crealux_core.services.participants import enroll_participant

    coordinator = get_user(session=session, username="coordination")
    claire = get_user(session=session, username="conseillere")
    participant, _ = enroll_participant(
        session=session,
        rules=rules,
        data=ParticipantCreate(first_name="Aïcha", last_name="Diallo", gender=Gender.FEMALE),
        advisor=claire,
        now=LATER,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
        actor=coordinator,
    )
    enroll("Sophie", advisor="conseillere")  # her own enrolment tells her nothing
    told = session.exec(
        select(Notification).where(Notification.recipient_user_id == claire.id)
    ).all()
    assert [n.title for n in told] == [
        f"CREALux - nouveau participant suivi - {participant.reference}"
    ]
    assert told[0].link == f"{DASHBOARD_URL}/parcours?participant={participant.id}"
    marc = get_user(session=session, username="conseiller")
    transfer_participants(
        session=session,
        actor=coordinator,
        from_advisor_id=claire.id or 0,
        to_advisor_id=marc.id or 0,
        note=None,
        now=LATER,
        dashboard_url=DASHBOARD_URL,
    )
    [moved] = session.exec(
        select(Notification).where(Notification.recipient_user_id == marc.id)
    ).all()
    assert moved.title == "CREALux - 2 participants vous sont confiés"


def test_a_correction_that_changes_nothing_is_refused(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    walk(session, rules, enrolled.pathway_run_id, "self_evaluation_entry")
    with pytest.raises(InvalidInput) as refused:
        correct_decision(
            session=session,
            rules=rules,
            user=get_user(session=session, username="conseillere"),
            step_run_id=enrolled.first_step.id or 0,
            data=ANSWERS["first_reception"],
            note="Relu, rien à changer.",
            now=LATER,
        )
    assert "nothing to correct" in refused.value.field_errors["form"]
    kinds = session.exec(
        select(PathwayEvent.kind).where(PathwayEvent.step_run_id == enrolled.first_step.id)
    ).all()
    assert kinds == [EventKind.DECISION]
