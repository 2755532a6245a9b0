"""Every input is an event committed with its transition: the pathway has moved on when the
commit returns, with no flow run at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from crealux_core.models import EventKind, PathwayEvent, PathwayRun, PathwayStatus, StepStatus
from crealux_core.rules import Rules
from crealux_core.services.errors import AlreadyDone, Forbidden, InvalidInput
from crealux_core.services.steps import reassign_step, skip_step
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.services.helpers import (
    FIRST,
    decide,
    notifications_of,
    orientation,
    steps_of,
    walk_to,
)

OPEN, DONE = StepStatus.OPEN, StepStatus.COMPLETED


def test_enrolment_opens_the_first_step_and_queues_its_mail(session: Session, enroll) -> None:
    enrolled = enroll()
    assert steps_of(session, enrolled.pathway_run_id) == [(1, "first_reception", OPEN)]
    assert notifications_of(session, enrolled.pathway_run_id) == [
        f"step-opened:{enrolled.first_step.id}"
    ]


def test_a_decision_opens_the_next_step_when_its_commit_returns(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    submitted = decide(session, rules, enrolled.first_step.id or 0, FIRST)
    assert steps_of(session, enrolled.pathway_run_id) == [
        (1, "first_reception", DONE),
        (2, "self_evaluation_entry", OPEN),
    ]
    assert submitted.current_step_id is not None
    assert notifications_of(session, enrolled.pathway_run_id)[-1] == (
        f"step-opened:{submitted.current_step_id}"
    )
    event = session.get(PathwayEvent, submitted.event_id)
    assert event is not None and event.kind is EventKind.DECISION
    assert event.payload == FIRST
    run = session.get(PathwayRun, enrolled.pathway_run_id, populate_existing=True)
    assert run is not None and run.last_event_id == submitted.event_id
    assert run.needs_flow_at is not None  # the flow has not seen it yet


def test_refused_consent_ends_the_pathway(session: Session, rules: Rules, enroll) -> None:
    enrolled = enroll()
    submitted = decide(
        session, rules, enrolled.first_step.id or 0, FIRST | {"consent_given": False}
    )
    assert submitted.current_step_id is None
    run = session.get(PathwayRun, enrolled.pathway_run_id, populate_existing=True)
    assert run is not None and run.status is PathwayStatus.COMPLETED
    assert run.end_reason == "first_reception:decided"


def test_orientation_to_creation_opens_the_business_creation_partners_step(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step = walk_to(session, rules, enrolled.pathway_run_id, "orientation").id
    step = decide(session, rules, step or 0, orientation("creation")).current_step_id
    assert steps_of(session, enrolled.pathway_run_id)[-1] == (5, "business_creation", OPEN)
    # a partner's step: decided by the partner's staff, not by the advisor
    with pytest.raises(Forbidden):
        decide(session, rules, step or 0, {"joined_village": True}, actor="conseillere")


def test_wrong_answers_are_refused_field_by_field_and_nothing_is_written(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    with pytest.raises(InvalidInput) as refused:
        decide(
            session,
            rules,
            enrolled.first_step.id or 0,
            FIRST | {"consent_given": "yes", "referred_by": "neighbour"},
        )
    assert set(refused.value.field_errors) == {"consent_given", "referred_by"}
    assert steps_of(session, enrolled.pathway_run_id) == [(1, "first_reception", OPEN)]
    assert session.exec(select(PathwayEvent)).all() == []


def test_a_second_submit_says_who_decided_and_keeps_its_note_as_a_comment(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    decide(session, rules, step_id, FIRST, note="premier onglet")
    with pytest.raises(AlreadyDone) as second:
        decide(session, rules, step_id, FIRST, actor="coordination", note="second onglet")
    assert "Claire Lambert" in str(second.value)
    notes = session.exec(
        select(PathwayEvent.kind, PathwayEvent.note)
        .where(PathwayEvent.step_run_id == step_id)
        .order_by(col(PathwayEvent.id))
    ).all()
    assert notes == [(EventKind.DECISION, "premier onglet"), (EventKind.COMMENT, "second onglet")]
    assert steps_of(session, enrolled.pathway_run_id)[-1] == (2, "self_evaluation_entry", OPEN)


def test_a_skip_needs_a_reason_and_takes_the_default_way(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    kwargs = dict(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=advisor,
        now=T0 + timedelta(hours=1),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    with pytest.raises(InvalidInput):
        skip_step(reason="  ", **kwargs)  # type: ignore[arg-type]
    skipped = skip_step(reason="Déjà reçue par le CPAS", **kwargs)  # type: ignore[arg-type]
    assert steps_of(session, enrolled.pathway_run_id) == [
        (1, "first_reception", StepStatus.SKIPPED),
        (2, "self_evaluation_entry", OPEN),
    ]
    event = session.get(PathwayEvent, skipped.event_id)
    assert event is not None and event.note == "Déjà reçue par le CPAS"


def test_a_step_reassigned_goes_to_the_colleagues_worklist(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    colleague = get_user(session=session, username="conseiller")
    reassign_step(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=advisor,
        assignee=colleague,
        note="congé",
        now=T0,
    )
    decide(session, rules, enrolled.first_step.id or 0, FIRST, actor="conseiller")
    with pytest.raises(Forbidden):
        reassign_step(
            session=session,
            rules=rules,
            step_run_id=(enrolled.first_step.id or 0) + 1,
            actor=colleague,  # not the participant's advisor
            assignee=colleague,
            note=None,
            now=T0,
        )
