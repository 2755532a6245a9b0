"""One access policy (crealux_core.services.policy), tried through the services: for each role,
every forbidden read and action is refused, and what is allowed is allowed.

The cast: « conseillere » follows Nadia; « conseiller » is another advisor; « forem » is the
partner Nadia is referred to; « cpas » is a partner she is not referred to; « coordination »
sees everything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlmodel import Session, select

from crealux_core.models import Referral, StepRun
from crealux_core.rules import Rules
from crealux_core.services import referrals
from crealux_core.services.contacts import contact_details
from crealux_core.services.errors import Forbidden, NotFound, ServiceError
from crealux_core.services.imports import import_records
from crealux_core.services.participants import list_participants, participant_timeline
from crealux_core.services.pipeline import pipeline_board
from crealux_core.services.plans import add_optional_step
from crealux_core.services.policy import Action, can, participant_scope
from crealux_core.services.reports import indicator_report
from crealux_core.services.steps import skip_step, step_form
from crealux_core.services.users import get_user
from crealux_core.services.worklist import participants_page
from tests.conftest import DASHBOARD_URL, T0

ROLES = ("conseillere", "conseiller", "forem", "cpas", "coordination")


@pytest.fixture
def world(session: Session, rules: Rules, enroll):
    """Nadia, followed by « conseillere », referred to the Forem's job club (sent)."""
    enrolled = enroll("Nadia")
    add_optional_step(
        session=session,
        rules=rules,
        user=get_user(session=session, username="conseillere"),
        pathway_run_id=enrolled.pathway_run_id,
        step_key="partner_referral",
        note=None,
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    step = session.exec(select(StepRun).where(StepRun.step_key == "partner_referral")).one()
    referrals.refer(
        session=session,
        rules=rules,
        step_run_id=step.id or 0,
        actor=get_user(session=session, username="conseillere"),
        offer="forem-marche/job-club",
        reason="Recherche d'emploi.",
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    referral = session.exec(select(Referral)).one()
    return enrolled, step, referral


def allowed(call: Callable[[], object]) -> bool:
    try:
        call()
    except (Forbidden, NotFound):
        return False
    except ServiceError:  # refused for another reason (a conflict, bad input): it was let in
        return True
    return True


def who_may(session: Session, call: Callable[[object], object]) -> set[str]:
    found = set()
    for name in ROLES:
        user = get_user(session=session, username=name)
        if allowed(lambda user=user: call(user)):
            found.add(name)
        session.rollback()
    return found


def test_a_participant_is_seen_by_their_advisor_the_partner_referred_to_and_the_coordinator(
    session: Session, rules: Rules, world
) -> None:
    enrolled, first_step, _ = world
    pid = enrolled.participant_id
    readers = {"conseillere", "forem", "coordination"}
    assert (
        who_may(
            session,
            lambda user: participant_timeline(
                session=session, rules=rules, user=user, participant_id=pid
            ),
        )
        == readers
    )
    assert (
        who_may(
            session, lambda user: contact_details(session=session, user=user, participant_id=pid)
        )
        == readers
    )
    for name in ROLES:
        user = get_user(session=session, username=name)
        listed = pid in [p.id for p in list_participants(session=session, user=user)]
        paged = pid in [
            row.participant_id
            for row in participants_page(session=session, rules=rules, user=user).rows
        ]
        assert listed is paged is (name in readers), name
    # a step: its advisor's and the coordinator's; a partner sees only its own organisation's
    first = enrolled.first_step.id or 0
    assert who_may(
        session, lambda user: step_form(session=session, rules=rules, user=user, step_run_id=first)
    ) == {"conseillere", "coordination"}
    assert first_step.id != first


def test_the_partner_sees_nothing_once_the_referral_is_declined(
    session: Session, rules: Rules, world
) -> None:
    enrolled, _, referral = world
    referrals.decline(
        session=session,
        rules=rules,
        referral_id=referral.id or 0,
        actor=get_user(session=session, username="forem"),
        reason="Complet.",
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    forem = get_user(session=session, username="forem")
    with pytest.raises(Forbidden):
        participant_timeline(
            session=session, rules=rules, user=forem, participant_id=enrolled.participant_id
        )
    with pytest.raises(Forbidden):
        contact_details(session=session, user=forem, participant_id=enrolled.participant_id)
    assert list_participants(session=session, user=forem) == []
    assert referrals.list_referrals(session=session, rules=rules, user=forem, now=T0) == []


def test_steering_a_pathway_is_for_its_advisor_and_the_coordinator(
    session: Session, rules: Rules, world
) -> None:
    enrolled, _, referral = world
    first = enrolled.first_step.id or 0

    def skip(user):
        return skip_step(
            session=session,
            rules=rules,
            step_run_id=first,
            actor=user,
            reason="test",
            now=T0,
            orchestrator=None,
            dashboard_url=DASHBOARD_URL,
        )

    def answer(user):
        return referrals.accept(
            session=session,
            rules=rules,
            referral_id=referral.id or 0,
            actor=user,
            starts_on=date(2026, 11, 9),
            now=T0,
            orchestrator=None,
            dashboard_url=DASHBOARD_URL,
        )

    # answering first: a skip would close nothing it needs, but keep the referral open
    assert who_may(session, answer) == {"forem", "coordination"}
    assert who_may(session, skip) == {"conseillere", "coordination"}


def test_the_programme_views_are_the_coordinator_s(session: Session, rules: Rules, world) -> None:
    calls = {
        "report": lambda user: indicator_report(session=session, rules=rules, user=user, now=T0),
        "pipeline": lambda user: pipeline_board(session=session, rules=rules, user=user, now=T0),
        "import": lambda user: import_records(
            session=session,
            rules=rules,
            user=user,
            data=b"",
            filename="x.csv",
            now=T0,
            dashboard_url=DASHBOARD_URL,
        ),
    }
    for what, call in calls.items():
        assert who_may(session, call) == {"coordination"}, what
    for action in (Action.READ_DELIVERIES, Action.MANAGE_CHANNELS, Action.IMPORT_RECORDS):
        assert {
            name for name in ROLES if can(get_user(session=session, username=name), action)
        } == {"coordination"}


def test_a_deactivated_account_may_do_nothing(session: Session, rules: Rules, world) -> None:
    coordinator = get_user(session=session, username="coordination")
    coordinator.active = False
    assert not can(coordinator, Action.READ_REPORTS)
    assert str(participant_scope(coordinator)) == "false"


def test_a_partner_reads_the_first_name_only(session: Session, rules: Rules, world) -> None:
    enrolled, _, _ = world
    forem = get_user(session=session, username="forem")
    advisor = get_user(session=session, username="conseillere")
    timeline = participant_timeline(
        session=session, rules=rules, user=forem, participant_id=enrolled.participant_id
    )
    assert (timeline.name, timeline.identity) == ("Nadia", False)
    [row] = participants_page(session=session, rules=rules, user=forem).rows
    assert (row.full_name, row.municipality) == ("Nadia", None)
    # nor can it find her by the last name it does not read
    assert participants_page(session=session, rules=rules, user=forem, search="Test").rows == []
    assert len(participants_page(session=session, rules=rules, user=forem, search="nad").rows) == 1
    mine = participant_timeline(
        session=session, rules=rules, user=advisor, participant_id=enrolled.participant_id
    )
    assert (mine.name, mine.identity) == ("Nadia Test", True)
