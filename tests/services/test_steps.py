from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from crealux_core.models import Decision, StepRun, StepStatus
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput
from crealux_core.services.steps import complete_step, list_steps, record_decision
from crealux_core.services.users import get_user
from tests.conftest import T0

VALID = {
    "meeting_on": "2026-11-02",
    "consent_given": True,
    "referred_by": "cpas",
    "expectation": "creation",
}


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_the_worklist_shows_an_advisor_their_open_steps(
    session: Session, rules: Rules, enroll
) -> None:
    mine = enroll("Sophie", advisor="conseillere")
    enroll("Karim", advisor="conseiller")
    advisor = get_user(session=session, username="conseillere")
    steps = list_steps(session=session, rules=rules, user=advisor, status=StepStatus.OPEN)
    assert [(s.id, s.title, s.participant_name) for s in steps] == [
        (mine.first_step.id, "Premier accueil", "Sophie Test")
    ]


def test_a_partner_does_not_see_an_advisors_step(session: Session, rules: Rules, enroll) -> None:
    enroll()
    partner = get_user(session=session, username="challenge")
    assert list_steps(session=session, rules=rules, user=partner) == []


def test_a_wrong_type_is_refused_field_by_field_and_nothing_is_written(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    with pytest.raises(InvalidInput) as caught:
        record_decision(
            session=session,
            rules=rules,
            step_run_id=enrolled.first_step.id or 0,
            actor=advisor,
            data={**VALID, "consent_given": "peut-être", "meeting_on": "hier", "extra": 1},
            note="x",
            now=T0,
        )
    assert set(caught.value.field_errors) == {"consent_given", "meeting_on", "extra"}
    assert caught.value.field_errors["extra"] == "unknown field"
    assert count(session, Decision) == 0
    session.expire_all()
    assert session.get(StepRun, enrolled.first_step.id).status is StepStatus.OPEN


def test_a_decision_is_committed_even_when_prefect_is_down(
    session: Session,
    rules: Rules,
    enroll,
    unreachable_orchestrator: PrefectOrchestrator,
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    decision, delivered = complete_step(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=advisor,
        data=VALID,
        note="Personne motivée.",
        now=T0 + timedelta(hours=1),
        orchestrator=unreachable_orchestrator,
    )
    assert delivered is False
    session.expire_all()
    stored = session.get(Decision, decision.id)
    assert stored.outcome == VALID
    assert stored.note == "Personne motivée."
    assert stored.delivered_at is None
    assert stored.delivery_attempts == 1
    assert session.get(StepRun, enrolled.first_step.id).status is StepStatus.COMPLETED


def test_a_step_cannot_be_completed_twice(session: Session, rules: Rules, enroll) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    kwargs = dict(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=advisor,
        data=VALID,
        note=None,
        now=T0,
    )
    record_decision(**kwargs)
    with pytest.raises(Conflict):
        record_decision(**kwargs)
    assert count(session, Decision) == 1


def test_another_advisor_may_not_complete_the_step(session: Session, rules: Rules, enroll) -> None:
    enrolled = enroll(advisor="conseillere")
    other = get_user(session=session, username="conseiller")
    with pytest.raises(Forbidden):
        record_decision(
            session=session,
            rules=rules,
            step_run_id=enrolled.first_step.id or 0,
            actor=other,
            data=VALID,
            note=None,
            now=T0,
        )
    assert count(session, Decision) == 0
