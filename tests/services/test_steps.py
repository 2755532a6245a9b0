from __future__ import annotations

import time

from sqlmodel import Session

from crealux_core.models import StepStatus
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules
from crealux_core.services.steps import list_steps, step_json, submit_decision
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.services.helpers import FIRST


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


def test_with_prefect_down_a_decision_moves_the_pathway_on_at_once(
    session: Session, rules: Rules, enroll, unreachable_orchestrator: PrefectOrchestrator
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    started = time.monotonic()
    submitted = submit_decision(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=advisor,
        data=FIRST,
        now=T0,
        orchestrator=unreachable_orchestrator,
        dashboard_url=DASHBOARD_URL,
    )
    elapsed = time.monotonic() - started
    assert not submitted.woken
    steps = list_steps(session=session, rules=rules, user=advisor, status=StepStatus.OPEN)
    assert [s.step_key for s in steps] == ["self_evaluation_entry"]
    assert elapsed < 5  # no retry loop against a server that is down


def test_a_step_shows_its_events_and_the_schema_of_its_form(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")
    submit_decision(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=advisor,
        data=FIRST,
        note="vu",
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    shown = step_json(
        session=session, rules=rules, user=advisor, step_run_id=enrolled.first_step.id or 0
    )
    assert shown["status"] == "completed"
    assert [(e["kind"], e["actor"], e["note"]) for e in shown["events"]] == [
        ("decision", "Claire Lambert", "vu")
    ]
    assert set(shown["form_schema"]["properties"]) == set(FIRST)
