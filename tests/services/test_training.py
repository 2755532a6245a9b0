"""Training sessions: capacity and the waiting list, attendance and the hours of support it
gives, closing that moves each pathway on once, and the refusals of each role."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from crealux_core.models import (
    EnrolmentStatus,
    EventKind,
    Notification,
    Organisation,
    Participant,
    PathwayEvent,
    Presence,
    SessionStatus,
    StepStatus,
    TrainingEnrolment,
    TrainingRecord,
    User,
)
from crealux_core.rules import Rules
from crealux_core.services import training
from crealux_core.services.errors import Forbidden, InvalidInput, NotFound
from crealux_core.services.events import current_step, transfer
from crealux_core.services.support import support_hours
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.services.helpers import decide, walk_to

NOW = T0 + timedelta(hours=1)
START = date(2026, 11, 9)  # a Monday


def user(session: Session, username: str) -> User:
    return get_user(session=session, username=username)


@pytest.fixture
def at_training(session: Session, rules: Rules, enroll):
    """Enroll participants (their advisor: conseillere unless said) and walk each to the
    training step; return their participant ids."""

    def _at_training(count: int, advisor: str = "conseillere") -> list[int]:
        ids = []
        for index in range(count):
            enrolled = enroll(f"Stagiaire{index}")
            walk_to(session, rules, enrolled.pathway_run_id, "training", route="training")
            if advisor != "conseillere":  # walked by conseillere, then given to `advisor`
                transfer(
                    session,
                    participant=session.get(Participant, enrolled.participant_id),
                    to_advisor_id=user(session, advisor).id,
                    actor_id=user(session, "coordination").id,
                    note=None,
                    now=NOW,
                )
                session.commit()
            ids.append(enrolled.participant_id)
        return ids

    return _at_training


def plan(
    session: Session,
    rules: Rules,
    *,
    capacity: int = 2,
    organisation: str = "le-trusquin",
    offer: str = "eco-construction",
    by: str = "coordination",
) -> training.SessionView:
    return training.create_session(
        session=session,
        rules=rules,
        user=user(session, by),
        organisation_key=organisation,
        offer_key=offer,
        starts_on=START,
        ends_on=START + timedelta(days=4),
        capacity=capacity,
        place="Barvaux, atelier du Trusquin",
        now=NOW,
        hours_per_day=7,
    )


def enrol(
    session: Session, rules: Rules, session_id: int, participant_id: int, by: str = "conseillere"
):
    return training.enrol(
        session=session,
        rules=rules,
        user=user(session, by),
        training_session_id=session_id,
        participant_id=participant_id,
        now=NOW,
        dashboard_url=DASHBOARD_URL,
    )


def close(session: Session, rules: Rules, session_id: int, by: str = "trusquin", **completions):
    return training.close_session(
        session=session,
        rules=rules,
        user=user(session, by),
        training_session_id=session_id,
        completions=completions.get("completions", {}),
        now=NOW + timedelta(days=5),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )


def test_the_catalogue_is_the_training_offers_of_the_rules(rules: Rules) -> None:
    modules = {m.key: m for m in training.catalogue(rules=rules)}
    assert set(modules) == {
        "promotion-sociale-marche/life-project",
        "promotion-sociale-marche/self-confidence",
        "promotion-sociale-marche/home-help",
        "promotion-sociale-marche/care-auxiliary",
        "le-trusquin/environmental-worker",
        "le-trusquin/eco-construction",
        "challenge/village-des-createurs",
    }
    assert modules["promotion-sociale-marche/life-project"].training_kind == "social"
    assert modules["le-trusquin/eco-construction"].training_kind == "qualifying"
    assert modules["challenge/village-des-createurs"].training_kind == "pre_qualifying"


def test_a_session_gets_the_weekdays_between_its_dates(session: Session, rules: Rules) -> None:
    view = plan(session, rules)
    assert [d for _, d, _ in view.days] == [START + timedelta(days=i) for i in range(5)]
    assert view.status is SessionStatus.PLANNED and view.module.title == "Écoconstruction"


def test_over_capacity_goes_to_the_waiting_list_in_order_and_a_withdrawal_promotes_the_first(
    session: Session, rules: Rules, at_training
) -> None:
    first, second, third, fourth = at_training(4)
    view = plan(session, rules, capacity=2)
    a = enrol(session, rules, view.id, first)
    b = enrol(session, rules, view.id, second)
    c = enrol(session, rules, view.id, third)
    d = enrol(session, rules, view.id, fourth)
    assert [x.status for x in (a, b, c, d)] == [EnrolmentStatus.ENROLLED] * 2 + [
        EnrolmentStatus.WAITING
    ] * 2
    assert (c.position, d.position) == (1, 2)
    assert (a.session_full, b.session_full, c.session_full) == (False, True, False)
    promoted = training.withdraw(
        session=session,
        rules=rules,
        user=user(session, "conseillere"),
        enrolment_id=a.enrolment_id,
        now=NOW,
    )
    assert promoted == c.enrolment_id
    roster = training.roster(
        session=session, rules=rules, user=user(session, "trusquin"), training_session_id=view.id
    )
    statuses = {e.enrolment_id: (e.status, e.position) for e in roster.entries}
    assert statuses[c.enrolment_id] == (EnrolmentStatus.ENROLLED, None)
    assert statuses[d.enrolment_id] == (EnrolmentStatus.WAITING, 1)
    assert (roster.session.enrolled, roster.session.waiting) == (2, 1)


def test_the_last_place_taken_tells_the_coordination_once(
    session: Session, rules: Rules, at_training
) -> None:
    first, second, third = at_training(3)
    view = plan(session, rules, capacity=2)
    enrol(session, rules, view.id, first)
    enrol(session, rules, view.id, second)
    enrol(session, rules, view.id, third)  # waiting: no second message
    full = session.exec(
        select(Notification).where(col(Notification.event_key).startswith("training-session-full:"))
    ).all()
    assert len(full) == 1
    assert "complète" in full[0].title and "Écoconstruction" in full[0].body
    assert (
        full[0].organisation_id
        == session.exec(select(User.organisation_id).where(User.username == "coordination")).one()
    )


def test_enrolment_is_a_silent_training_event_on_the_pathway(
    session: Session, rules: Rules, at_training
) -> None:
    [participant] = at_training(1)
    view = plan(session, rules)
    enrol(session, rules, view.id, participant)
    [event] = session.exec(
        select(PathwayEvent).where(PathwayEvent.kind == EventKind.TRAINING)
    ).all()
    assert event.payload["action"] == "enrolled"
    assert event.payload["module"] == "le-trusquin/eco-construction"


def test_only_a_participant_on_the_training_step_is_enrolled(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll("Pasencore")
    view = plan(session, rules)
    with pytest.raises(InvalidInput, match="Formation"):
        enrol(session, rules, view.id, enrolled.participant_id)


def test_attendance_gives_the_hours_of_training_support_once_the_session_closes(
    session: Session, rules: Rules, at_training
) -> None:
    [participant] = at_training(1)
    view = plan(session, rules)
    enrolment = enrol(session, rules, view.id, participant).enrolment_id
    partner = user(session, "trusquin")
    for offset, presence, hours in (
        (0, Presence.PRESENT, None),
        (1, Presence.PRESENT, 3.5),
        (2, Presence.ABSENT, None),
        (3, Presence.EXCUSED, None),
    ):
        training.record_attendance(
            session=session,
            user=partner,
            training_session_id=view.id,
            held_on=START + timedelta(days=offset),
            marks=[training.Mark(enrolment, presence, hours)],
            now=NOW,
        )
    roster = training.roster(
        session=session, rules=rules, user=partner, training_session_id=view.id
    )
    assert roster.session.status is SessionStatus.OPEN  # opened by its first attendance
    assert roster.entries[0].hours_attended == 10.5
    advisor = user(session, "conseillere")
    before = support_hours(session=session, user=advisor, participant_id=participant)
    closed = close(
        session, rules, view.id, completions={enrolment: training.Completion(True, True)}
    )
    assert closed.decided == [enrolment]
    after = support_hours(session=session, user=advisor, participant_id=participant)
    # 10.5 h attended, recorded as the training step's `hours` (whole hours): counted once.
    assert after.of("training").total - before.of("training").total == 10
    [record] = session.exec(
        select(TrainingRecord).where(TrainingRecord.participant_id == participant)
    ).all()
    assert (record.kind, record.completed, record.qualification, record.hours) == (
        "qualifying",
        True,
        True,
        10,
    )


def test_closing_moves_each_pathway_on_once_and_closing_again_decides_nothing(
    session: Session, rules: Rules, at_training
) -> None:
    participants = at_training(3)
    view = plan(session, rules, capacity=3)
    enrolments = [enrol(session, rules, view.id, p).enrolment_id for p in participants]
    closed = close(session, rules, view.id)
    assert sorted(closed.decided) == sorted(enrolments) and not closed.failed
    session.expire_all()
    decisions = session.exec(
        select(PathwayEvent).where(
            PathwayEvent.kind == EventKind.DECISION,
            PathwayEvent.actor_id == user(session, "trusquin").id,
        )
    ).all()
    assert len(decisions) == 3 and len({d.pathway_run_id for d in decisions}) == 3
    for decision in decisions:
        assert decision.payload["training_kind"] == "qualifying"
        step = current_step(session, decision.pathway_run_id)
        assert step is not None and step.step_key == "self_evaluation_mid"
    again = close(session, rules, view.id)
    assert again.decided == [] and sorted(again.already) == sorted(enrolments)
    assert (
        len(
            session.exec(
                select(PathwayEvent).where(
                    PathwayEvent.kind == EventKind.DECISION,
                    PathwayEvent.actor_id == user(session, "trusquin").id,
                )
            ).all()
        )
        == 3
    )


def test_a_pathway_no_longer_on_its_training_step_is_reported_not_decided(
    session: Session, rules: Rules, at_training
) -> None:
    moved, staying = at_training(2)
    view = plan(session, rules)
    left = enrol(session, rules, view.id, moved).enrolment_id
    kept = enrol(session, rules, view.id, staying).enrolment_id
    # The partner of the step decides it from its page first.
    enrolment = session.get(TrainingEnrolment, left)
    assert enrolment is not None
    decide(
        session,
        rules,
        enrolment.step_run_id,
        {"training_kind": "qualifying", "completed": False},
        actor="promsoc",
    )
    closed = close(session, rules, view.id)
    assert closed.decided == [kept]
    assert left in closed.not_on_step and "self_evaluation_mid" in closed.not_on_step[left]


def test_a_partner_of_another_organisation_is_refused(
    session: Session, rules: Rules, at_training
) -> None:
    [participant] = at_training(1)
    with pytest.raises(Forbidden):
        plan(session, rules, by="promsoc")  # a module of Le Trusquin
    view = plan(session, rules)
    enrolment = enrol(session, rules, view.id, participant).enrolment_id
    other = user(session, "promsoc")
    with pytest.raises(NotFound):  # another organisation's session does not exist for them
        training.roster(session=session, rules=rules, user=other, training_session_id=view.id)
    with pytest.raises(NotFound):
        training.record_attendance(
            session=session,
            user=other,
            training_session_id=view.id,
            held_on=START,
            marks=[training.Mark(enrolment, Presence.PRESENT)],
            now=NOW,
        )
    with pytest.raises(NotFound):
        close(session, rules, view.id, by="promsoc")
    assert training.list_sessions(session=session, rules=rules, user=other) == []
    with pytest.raises(Forbidden):  # a partner does not enrol
        enrol(session, rules, view.id, participant, by="trusquin")


def test_an_advisor_may_not_enrol_someone_outside_their_caseload_nor_manage_sessions(
    session: Session, rules: Rules, at_training
) -> None:
    [theirs] = at_training(1, advisor="conseiller")
    with pytest.raises(Forbidden):
        plan(session, rules, by="conseillere")
    view = plan(session, rules)
    with pytest.raises(Forbidden):
        enrol(session, rules, view.id, theirs, by="conseillere")
    assert (
        enrol(session, rules, view.id, theirs, by="conseiller").status is EnrolmentStatus.ENROLLED
    )
    with pytest.raises(Forbidden):
        close(session, rules, view.id, by="conseiller")
    with pytest.raises(Forbidden):
        training.record_attendance(
            session=session,
            user=user(session, "conseiller"),
            training_session_id=view.id,
            held_on=START,
            marks=[],
            now=NOW,
        )
    # An advisor sees only their own participants on a roster.
    mine = training.roster(
        session=session, rules=rules, user=user(session, "conseillere"), training_session_id=view.id
    )
    assert mine.entries == [] and mine.session.enrolled == 1
    assert [
        p.id for p in training.enrollable(session=session, user=user(session, "conseillere"))
    ] == []


def test_the_training_step_stays_open_until_the_session_closes(
    session: Session, rules: Rules, at_training
) -> None:
    [participant] = at_training(1)
    view = plan(session, rules)
    enrolment = enrol(session, rules, view.id, participant)
    row = session.get(TrainingEnrolment, enrolment.enrolment_id)
    assert row is not None
    step = current_step(session, row.pathway_run_id)
    assert step is not None and step.step_key == "training" and step.status is StepStatus.OPEN


def test_the_training_fact_is_the_session_s_organisation_and_last_day_however_late_it_closes(
    session: Session, rules: Rules, at_training
) -> None:
    # Version 5's training step belongs to another partner than le Trusquin, who gives the
    # session; the session ends on 13 November and is closed on 2 December.
    (participant,) = at_training(1)
    view = plan(session, rules, capacity=1)
    enrol(session, rules, view.id, participant)
    closed = training.close_session(
        session=session,
        rules=rules,
        user=user(session, "trusquin"),
        training_session_id=view.id,
        completions={},
        now=NOW + timedelta(days=23),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    assert len(closed.decided) == 1
    session.expire_all()
    record = session.exec(
        select(TrainingRecord).where(TrainingRecord.participant_id == participant)
    ).one()
    trusquin = session.exec(select(Organisation).where(Organisation.key == "le-trusquin")).one()
    assert record.organisation_id == trusquin.id
    assert record.ended_on == START + timedelta(days=4)
