"""The flow's passes are idempotent: a replay opens no step twice and queues no message twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from crealux_core.models import (
    Decision,
    Notification,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
)
from crealux_core.rules import Rules
from crealux_core.services.errors import Conflict
from crealux_core.services.progress import apply_decision, committed_decision, open_current_step
from crealux_core.services.steps import record_decision
from crealux_core.services.users import get_user
from tests.conftest import T0

FIRST = {
    "meeting_on": "2026-11-02",
    "consent_given": True,
    "referred_by": "self",
    "expectation": "creation",
}


def steps_of(session: Session, pathway_run_id: int) -> list[tuple[int, str, StepStatus]]:
    session.expire_all()
    rows = session.exec(
        select(StepRun).where(StepRun.pathway_run_id == pathway_run_id).order_by(col(StepRun.seq))
    ).all()
    return [(row.seq, row.step_key, row.status) for row in rows]


def notifications_of(session: Session, pathway_run_id: int) -> list[str]:
    return list(
        session.exec(
            select(Notification.event_key).where(Notification.pathway_run_id == pathway_run_id)
        ).all()
    )


def decide(session: Session, rules: Rules, step_run_id: int, data: dict, minutes: int = 10):
    return record_decision(
        session=session,
        rules=rules,
        step_run_id=step_run_id,
        actor=get_user(session=session, username="conseillere"),
        data=data,
        note=None,
        now=T0 + timedelta(minutes=minutes),
    )


def apply(session: Session, rules: Rules, step_run_id: int, decision_id: int):
    return apply_decision(
        session=session,
        rules=rules,
        step_run_id=step_run_id,
        decision_id=decision_id,
        flow_run_id="run-1",
        dashboard_url="http://dashboard.test",
        now=T0 + timedelta(hours=1),
    )


def test_opening_the_current_step_twice_opens_it_once(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    again = open_current_step(
        session=session,
        rules=rules,
        pathway_run_id=enrolled.pathway_run_id,
        flow_run_id="run-1",
        dashboard_url="http://dashboard.test",
        now=T0 + timedelta(days=1),
    )
    assert again is not None and again.id == enrolled.first_step.id
    assert again.flow_run_id == "run-1"  # the run that now waits on it
    assert again.due_at == T0 + timedelta(days=7)  # due date kept from when it opened
    assert steps_of(session, enrolled.pathway_run_id) == [(1, "first_reception", StepStatus.OPEN)]
    assert notifications_of(session, enrolled.pathway_run_id) == [f"step-opened:{again.id}"]


def test_applying_a_decision_twice_opens_the_next_step_once(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    decision = decide(session, rules, enrolled.first_step.id or 0, FIRST)
    opened = apply(session, rules, enrolled.first_step.id or 0, decision.id or 0)
    replayed = apply(session, rules, enrolled.first_step.id or 0, decision.id or 0)
    assert opened is not None and replayed is not None and replayed.id == opened.id
    assert steps_of(session, enrolled.pathway_run_id) == [
        (1, "first_reception", StepStatus.COMPLETED),
        (2, "socio_professional_assessment", StepStatus.OPEN),
    ]
    assert len(notifications_of(session, enrolled.pathway_run_id)) == 2


def test_a_replayed_pass_after_the_decision_waits_on_the_new_step(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    decision = decide(session, rules, enrolled.first_step.id or 0, FIRST)
    opened = apply(session, rules, enrolled.first_step.id or 0, decision.id or 0)
    current = open_current_step(
        session=session,
        rules=rules,
        pathway_run_id=enrolled.pathway_run_id,
        flow_run_id="run-1",
        dashboard_url="http://dashboard.test",
        now=T0 + timedelta(hours=2),
    )
    assert current is not None and opened is not None and current.id == opened.id
    assert len(notifications_of(session, enrolled.pathway_run_id)) == 2


def test_a_decision_for_another_step_is_refused(session: Session, rules: Rules, enroll) -> None:
    first, second = enroll("A"), enroll("B")
    decision = decide(session, rules, first.first_step.id or 0, FIRST)
    with pytest.raises(Conflict, match="belongs to step"):
        apply(session, rules, second.first_step.id or 0, decision.id or 0)
    assert steps_of(session, second.pathway_run_id) == [(1, "first_reception", StepStatus.OPEN)]


def test_refused_consent_ends_the_pathway(session: Session, rules: Rules, enroll) -> None:
    enrolled = enroll()
    decision = decide(
        session, rules, enrolled.first_step.id or 0, {**FIRST, "consent_given": False}
    )
    assert apply(session, rules, enrolled.first_step.id or 0, decision.id or 0) is None
    session.expire_all()
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert run.status is PathwayStatus.COMPLETED
    assert (
        open_current_step(
            session=session,
            rules=rules,
            pathway_run_id=enrolled.pathway_run_id,
            flow_run_id="run-1",
            dashboard_url="x",
            now=T0,
        )
        is None
    )


def test_orientation_to_creation_opens_a_step_for_the_business_creation_partner(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    answers = [
        FIRST,
        {
            "assessed_on": "2026-11-03",
            "labour_status": "unemployed",
            "education_level": "isced_0_2",
            "barrier_housing": False,
            "barrier_health": False,
            "barrier_mobility": False,
            "barrier_childcare": True,
            "barrier_debt": False,
            "project_maturity": "idea",
        },
        {"decided_on": "2026-11-04", "route": "creation"},
    ]
    for minutes, data in enumerate(answers, start=1):
        decision = decide(session, rules, step_id, data, minutes)
        opened = apply(session, rules, step_id, decision.id or 0)
        assert opened is not None
        step_id = opened.id or 0
    assert [key for _, key, _ in steps_of(session, enrolled.pathway_run_id)][
        -1
    ] == "business_creation"
    assert opened.assignee_id is None  # a partner's step: the organisation's queue


def test_a_decision_committed_before_the_run_suspends_is_applied_from_the_database(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    assert committed_decision(session=session, step_run_id=step_id) is None  # the flow suspends
    decision = decide(session, rules, step_id, FIRST)
    assert committed_decision(session=session, step_run_id=step_id) == decision.id
    apply(session, rules, step_id, decision.id or 0)
    assert committed_decision(session=session, step_run_id=step_id) is None
    session.expire_all()
    stored = session.get(Decision, decision.id)
    assert stored is not None and stored.delivered_at is not None
