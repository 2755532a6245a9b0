"""The worklist and the participants list, a page at a time, filtered in SQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from crealux_core.models import (
    EventKind,
    Organisation,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
)
from crealux_core.rules import Rules
from crealux_core.services.users import get_user
from crealux_core.services.worklist import (
    Urgency,
    WorklistFilters,
    participants_page,
    urgency,
    worklist,
    worklist_step_choices,
)
from tests.conftest import T0

NOW = T0 + timedelta(hours=1)


def change_step(session: Session, step_id: int, **values: Any) -> StepRun:
    step = session.get(StepRun, step_id)
    assert step is not None
    for name, value in values.items():
        setattr(step, name, value)
    session.add(step)
    session.commit()
    return step


def add_step(session: Session, like: StepRun, **values: Any) -> StepRun:
    """Add a step to the pathway of `like` (after its last one)."""
    last = session.exec(
        select(StepRun)
        .where(StepRun.pathway_run_id == like.pathway_run_id)
        .order_by(col(StepRun.seq).desc())
    ).first()
    assert last is not None
    fields = {
        "pathway_run_id": like.pathway_run_id,
        "seq": last.seq + 1,
        "step_key": like.step_key,
        "status": StepStatus.OPEN,
        "reached_at": like.reached_at,
        "opened_at": like.opened_at,
        "due_at": like.due_at,
        "assignee_id": like.assignee_id,
        "organisation_id": like.organisation_id,
        **values,
    }
    step = StepRun(**fields)
    session.add(step)
    session.commit()
    session.refresh(step)
    return step


def organisation_id(session: Session, key: str) -> int:
    return session.exec(select(Organisation.id).where(Organisation.key == key)).one() or 0


def names(page: Any) -> list[str]:
    return [row.participant_name for row in page.rows]


def test_an_advisor_gets_the_steps_assigned_to_them_soonest_due_first(
    session: Session, rules: Rules, enroll
) -> None:
    later, sooner, undated = enroll("Lea"), enroll("Anna"), enroll("Zoe")
    enroll("Karim", advisor="conseiller")
    change_step(session, later.first_step.id or 0, due_at=T0 + timedelta(days=9))
    change_step(session, sooner.first_step.id or 0, due_at=T0 + timedelta(days=2))
    change_step(session, undated.first_step.id or 0, due_at=None)
    advisor = get_user(session=session, username="conseillere")

    page = worklist(session=session, rules=rules, user=advisor, now=NOW)

    assert names(page) == ["Anna Test", "Lea Test", "Zoe Test"]
    assert page.total == 3 and page.pages == 1
    assert page.rows[0].title == "Premier accueil"
    assert page.rows[0].participant_reference == f"P-{sooner.participant_id:05d}"
    assert page.rows[0].assignee == "Claire Lambert"


def test_pages_split_the_list_in_order_without_loss(session: Session, rules: Rules, enroll) -> None:
    for number, name in enumerate(["Ann", "Bea", "Cid", "Dan", "Eve"]):
        enrolled = enroll(name)
        change_step(session, enrolled.first_step.id or 0, due_at=T0 + timedelta(days=number + 1))
    advisor = get_user(session=session, username="conseillere")

    pages = [
        worklist(session=session, rules=rules, user=advisor, now=NOW, page=n, per_page=2)
        for n in (1, 2, 3)
    ]

    assert [names(page) for page in pages] == [
        ["Ann Test", "Bea Test"],
        ["Cid Test", "Dan Test"],
        ["Eve Test"],
    ]
    assert {(page.total, page.pages) for page in pages} == {(5, 3)}
    beyond = worklist(session=session, rules=rules, user=advisor, now=NOW, page=4, per_page=2)
    assert beyond.rows == [] and beyond.total == 5


def test_overdue_and_due_soon_are_flagged_and_counted(
    session: Session, rules: Rules, enroll
) -> None:
    late, soon, calm, undated = enroll("Late"), enroll("Soon"), enroll("Calm"), enroll("None")
    change_step(session, late.first_step.id or 0, due_at=NOW - timedelta(minutes=1))
    change_step(session, soon.first_step.id or 0, due_at=NOW + timedelta(days=3))
    change_step(session, calm.first_step.id or 0, due_at=NOW + timedelta(days=3, minutes=1))
    change_step(session, undated.first_step.id or 0, due_at=None)
    advisor = get_user(session=session, username="conseillere")

    page = worklist(session=session, rules=rules, user=advisor, now=NOW, per_page=2)

    assert page.counts == {"overdue": 1, "due_soon": 1}  # over the whole list, not the page
    assert [(row.participant_name, row.urgency) for row in page.rows] == [
        ("Late Test", Urgency.OVERDUE),
        ("Soon Test", Urgency.DUE_SOON),
    ]
    assert urgency(None, NOW) is None


def test_the_worklist_filters_by_step_and_by_participant_name_or_reference(
    session: Session, rules: Rules, enroll
) -> None:
    sophie, karim = enroll("Sophie"), enroll("Karim")
    change_step(session, karim.first_step.id or 0, step_key="orientation")
    advisor = get_user(session=session, username="conseillere")

    def found(**filters: Any) -> list[str]:
        wanted = WorklistFilters(**filters)
        return names(worklist(session=session, rules=rules, user=advisor, now=NOW, filters=wanted))

    assert found(step_key="orientation") == ["Karim Test"]
    assert found(step_key="first_reception") == ["Sophie Test"]
    assert found(participant="soph") == ["Sophie Test"]
    assert found(participant="  TEST   karim ") == ["Karim Test"]
    assert found(participant=f"P-{sophie.participant_id:05d}") == ["Sophie Test"]
    assert found(participant=str(karim.participant_id)) == ["Karim Test"]
    assert found(participant="100%") == []  # a wildcard typed is a character, not a pattern
    assert found(participant="Sophie", step_key="orientation") == []


def test_an_advisor_partner_and_coordinator_each_get_their_own_steps(
    session: Session, rules: Rules, enroll
) -> None:
    mine, colleague, partners = (
        enroll("Sophie"),
        enroll("Karim", advisor="conseiller"),
        enroll("Ali"),
    )
    challenge = organisation_id(session, "challenge")
    change_step(session, partners.first_step.id or 0, organisation_id=challenge, assignee_id=None)

    def seen(username: str, **filters: Any) -> list[str]:
        user = get_user(session=session, username=username)
        page = worklist(
            session=session, rules=rules, user=user, now=NOW, filters=WorklistFilters(**filters)
        )
        return sorted(names(page))

    assert seen("conseillere") == ["Sophie Test"]
    assert seen("conseiller") == ["Karim Test"]
    assert seen("challenge") == ["Ali"]  # a partner reads the first name only
    assert seen("promsoc") == []
    assert seen("coordination") == ["Ali Test", "Karim Test", "Sophie Test"]
    assert seen("coordination", organisation_id=challenge) == ["Ali Test"]
    # A partner's filter on another organisation finds nothing more than its own.
    integra = organisation_id(session, "integra-plus")
    assert seen("challenge", organisation_id=integra) == []
    assert mine.participant_id != colleague.participant_id


def test_only_open_steps_are_listed_optional_ones_included_and_marked(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll("Sophie")
    first = change_step(session, enrolled.first_step.id or 0, due_at=T0 + timedelta(days=7))
    add_step(session, first, optional=True, step_key="first_reception")
    add_step(session, first, status=StepStatus.SCHEDULED, due_at=None)
    add_step(session, first, status=StepStatus.COMPLETED)
    advisor = get_user(session=session, username="conseillere")

    page = worklist(session=session, rules=rules, user=advisor, now=NOW)

    assert [row.optional for row in page.rows] == [False, True]


def test_the_step_filter_offers_every_step_of_the_rules_with_its_title(rules: Rules) -> None:
    choices = dict(worklist_step_choices(rules=rules))
    assert choices["first_reception"] == "Premier accueil"
    assert "orientation" in choices


# --- the participants list ----------------------------------------------------------------------


def test_the_participants_list_shows_each_ones_current_step_advisor_and_last_event(
    session: Session, rules: Rules, enroll
) -> None:
    going, done, idle = enroll("Ann"), enroll("Bob"), enroll("Cid")
    first = session.get(StepRun, going.first_step.id)
    assert first is not None
    change_step(session, first.id or 0, status=StepStatus.COMPLETED)
    add_step(session, first, step_key="orientation", status=StepStatus.OPEN)
    add_step(session, first, step_key="first_reception", optional=True)  # not the current one
    change_step(session, done.first_step.id or 0, status=StepStatus.COMPLETED)
    run = session.get(PathwayRun, done.pathway_run_id)
    assert run is not None
    run.status = PathwayStatus.COMPLETED
    session.add(run)
    for days in (1, 3):
        session.add(
            PathwayEvent(
                pathway_run_id=going.pathway_run_id,
                kind=EventKind.COMMENT,
                occurred_at=NOW - timedelta(days=days),
                recorded_at=NOW,
            )
        )
    session.commit()
    advisor = get_user(session=session, username="conseillere")

    page = participants_page(session=session, rules=rules, user=advisor)

    rows = {row.full_name: row for row in page.rows}
    assert list(rows) == ["Ann Test", "Bob Test", "Cid Test"]
    assert rows["Ann Test"].current_step == "Orientation"
    assert rows["Ann Test"].last_event_at == NOW - timedelta(days=1)
    assert rows["Ann Test"].advisor == "Claire Lambert"
    assert rows["Bob Test"].current_step is None and rows["Bob Test"].pathway_completed
    assert rows["Cid Test"].current_step == "Premier accueil"
    assert rows["Cid Test"].last_event_at is None
    assert idle.participant_id == rows["Cid Test"].participant_id


def test_the_participants_list_is_paged_searched_and_limited_to_who_follows_them(
    session: Session, rules: Rules, enroll
) -> None:
    for name in ["Ann", "Bea", "Cid"]:
        enroll(name)
    karim = enroll("Karim", advisor="conseiller")
    challenge = organisation_id(session, "challenge")
    change_step(session, karim.first_step.id or 0, organisation_id=challenge)

    def listed(username: str, **kwargs: Any) -> tuple[list[str], int]:
        user = get_user(session=session, username=username)
        page = participants_page(session=session, rules=rules, user=user, **kwargs)
        return [row.full_name for row in page.rows], page.total

    assert listed("conseillere", per_page=2) == (["Ann Test", "Bea Test"], 3)
    assert listed("conseillere", per_page=2, page=2) == (["Cid Test"], 3)
    assert listed("conseillere", search="bea") == (["Bea Test"], 1)
    assert listed("conseillere", search="karim") == ([], 0)
    assert listed("conseiller") == (["Karim Test"], 1)
    assert listed("challenge") == (["Karim"], 1)  # one of its steps is theirs: first name
    assert listed("promsoc") == ([], 0)
    assert listed("coordination", search=f"P-{karim.participant_id:05d}") == (["Karim Test"], 1)
    assert listed("coordination")[1] == 4


@pytest.mark.parametrize("per_page", [0, -3])
def test_a_page_size_below_one_is_one(
    session: Session, rules: Rules, enroll, per_page: int
) -> None:
    enroll()
    advisor = get_user(session=session, username="conseillere")
    page = worklist(session=session, rules=rules, user=advisor, now=NOW, per_page=per_page)
    assert page.per_page == 1 and len(page.rows) == 1
