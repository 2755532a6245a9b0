"""Deadlines live in columns; the sweeper acts on each exactly once, whoever else sweeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from crealux_core.db import new_session
from crealux_core.models import (
    EventKind,
    Notification,
    Organisation,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
)
from crealux_core.rules import Rules
from crealux_core.services.deadlines import sweep
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.services.helpers import FIRST, decide, notifications_of, walk_to


def sweep_at(session: Session, rules: Rules, when: datetime):
    return sweep(session=session, rules=rules, now=when, dashboard_url=DASHBOARD_URL)


def test_a_step_opens_with_its_deadlines_as_columns(session: Session, enroll) -> None:
    step = enroll().first_step
    assert step.due_at == T0 + timedelta(days=7)
    assert step.remind_at == T0 + timedelta(days=5)
    assert step.escalate_at == T0 + timedelta(days=14)
    assert step.overdue_at == T0 + timedelta(days=67)


def test_the_reminder_is_sent_once_when_its_time_comes(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    remind_at = enrolled.first_step.remind_at
    assert remind_at is not None
    assert sweep_at(session, rules, remind_at - timedelta(seconds=1)).reminded == 0
    assert sweep_at(session, rules, remind_at).reminded == 1
    assert sweep_at(session, rules, remind_at + timedelta(hours=1)).reminded == 0
    reminders = [k for k in notifications_of(session, enrolled.pathway_run_id) if "reminder" in k]
    assert reminders == [f"reminder:{enrolled.first_step.id}"]


def test_an_overdue_step_is_escalated_to_the_coordination(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    assert sweep_at(session, rules, T0 + timedelta(days=14)).escalated == 1
    escalation = session.exec(
        select(Notification, Organisation)
        .join(Organisation, col(Notification.organisation_id) == col(Organisation.id))
        .where(Notification.event_key == f"escalation:{enrolled.first_step.id}")
    ).one()
    assert escalation[1].key == "integra-plus"
    assert "en retard" in escalation[0].title


def test_a_participant_lost_to_follow_up_ends_by_a_deadline_event(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    swept = sweep_at(session, rules, T0 + timedelta(days=67))
    assert (swept.expired, swept.reminded, swept.escalated) == (1, 1, 1)
    session.expire_all()
    step = session.get(StepRun, enrolled.first_step.id)
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert step is not None and step.status is StepStatus.EXPIRED
    assert run is not None and run.status is PathwayStatus.COMPLETED
    assert run.end_reason == "lost_to_follow_up"
    kinds = session.exec(
        select(PathwayEvent.kind).where(PathwayEvent.pathway_run_id == enrolled.pathway_run_id)
    ).all()
    assert kinds == [EventKind.DEADLINE]


def test_a_decision_after_the_deadline_event_is_refused(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    sweep_at(session, rules, T0 + timedelta(days=70))
    try:
        decide(session, rules, enrolled.first_step.id or 0, FIRST)
    except Exception as error:  # AlreadyDone: says the step is expired
        assert "expired" in str(error)
    else:
        raise AssertionError("a decision on an expired step was accepted")


def test_a_post_creation_checkpoint_opens_three_months_after_the_start_date(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step = walk_to(session, rules, enrolled.pathway_run_id, "business_creation").id
    creation = {
        "joined_village": True,
        "business_plan_ready": True,
        "status": "principal",
        "started_on": "2026-11-02",
    }
    checkpoint_id = decide(session, rules, step or 0, creation, actor="challenge").current_step_id
    checkpoint = session.get(StepRun, checkpoint_id, populate_existing=True)
    assert checkpoint is not None and checkpoint.status is StepStatus.SCHEDULED
    opens_at = datetime(2027, 2, 2, 8, 0, tzinfo=UTC)
    assert checkpoint.opens_at == opens_at
    assert sweep_at(session, rules, opens_at - timedelta(minutes=1)).opened == 0
    assert sweep_at(session, rules, opens_at).opened == 1
    session.refresh(checkpoint)
    assert checkpoint.status is StepStatus.OPEN
    assert checkpoint.due_at == opens_at + timedelta(days=14)
    assert notifications_of(session, enrolled.pathway_run_id)[-1] == f"step-opened:{checkpoint_id}"


def test_two_sweepers_at_once_send_each_reminder_once(
    engine: Engine, session: Session, rules: Rules, enroll
) -> None:
    enrolled = [enroll(f"P{i}") for i in range(30)]
    when = T0 + timedelta(days=15)
    results = []
    barrier = threading.Barrier(2)

    def sweeper() -> None:
        with new_session(engine) as own:
            barrier.wait()
            results.append(sweep_at(own, rules, when))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r.reminded for r in results) == 30
    assert sum(r.escalated for r in results) == 30
    keys = session.exec(select(Notification.event_key)).all()
    for person in enrolled:
        assert keys.count(f"reminder:{person.first_step.id}") == 1
        assert keys.count(f"escalation:{person.first_step.id}") == 1
    assert get_user(session=session, username="coordination")
