"""The whole parcours of version 4, route by route, through the services (no Prefect): each
decision moves the pathway on when its commit returns; a route comes back to orientation through
the mid-way self-evaluation, or goes on to the end self-evaluation and the exit; a creation is
followed up 3, 6 and 12 months after the activity started; after the exit, the result on
leaving (within four weeks) and six months later (the ESF+ results)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from crealux_core.models import (
    EventKind,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
)
from crealux_core.rules import Rules
from crealux_core.services.deadlines import sweep
from crealux_core.services.errors import InvalidInput
from crealux_core.services.steps import skip_step
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.services.helpers import (
    CHECKPOINT,
    CREATION,
    EMPLOYED,
    EXIT,
    LEAVING_RESULT,
    NOT_EMPLOYED,
    NOT_STARTED,
    SELF_EVALUATION,
    SIX_MONTHS,
    SOCIAL,
    STOPPED,
    TRAINING,
    decide,
    orientation,
    steps_of,
    walk_to,
)

OPEN, DONE, SCHEDULED = StepStatus.OPEN, StepStatus.COMPLETED, StepStatus.SCHEDULED
SKIPPED, EXPIRED = StepStatus.SKIPPED, StepStatus.EXPIRED
BEFORE_ORIENTATION = [
    (1, "first_reception", DONE),
    (2, "self_evaluation_entry", DONE),
    (3, "socio_professional_assessment", DONE),
]
LATER = T0 + timedelta(hours=1)


def keys(session: Session, pathway_run_id: int) -> list[str]:
    return [key for _, key, _ in steps_of(session, pathway_run_id)]


def step(session: Session, step_run_id: int | None) -> StepRun:
    assert step_run_id is not None
    found = session.get(StepRun, step_run_id, populate_existing=True)
    assert found is not None
    return found


def pathway(session: Session, pathway_run_id: int) -> PathwayRun:
    run = session.get(PathwayRun, pathway_run_id, populate_existing=True)
    assert run is not None
    return run


def at_eight(day: str) -> datetime:
    """A date answered in a form counts from 08:00 UTC that day."""
    return datetime.fromisoformat(day).replace(hour=8, tzinfo=UTC)


def open_at_its_date(session: Session, rules: Rules, checkpoint: StepRun) -> datetime:
    """Move time to the scheduled step's date: the sweeper opens it (and not a minute before)."""
    assert checkpoint.status is SCHEDULED and checkpoint.opens_at is not None
    when = checkpoint.opens_at
    early = sweep(
        session=session, rules=rules, now=when - timedelta(minutes=1), dashboard_url=DASHBOARD_URL
    )
    assert early.opened == 0
    assert sweep(session=session, rules=rules, now=when, dashboard_url=DASHBOARD_URL).opened == 1
    session.refresh(checkpoint)
    assert checkpoint.status is OPEN and checkpoint.opened_at == when
    return when


def follow_up(session: Session, rules: Rules, leaving_result_id: int | None, left_on: str) -> None:
    """Record the result on leaving, then, six months after leaving, the situation then: the
    pathway ends."""
    result = step(session, leaving_result_id)
    assert (result.step_key, result.status) == ("leaving_result", OPEN)
    assert result.due_at == at_eight(left_on) + timedelta(weeks=4)  # within four weeks
    later = (result.opened_at or T0) + timedelta(hours=1)
    six = decide(session, rules, result.id or 0, LEAVING_RESULT, now=later).current_step_id
    checkpoint = step(session, six)
    left = at_eight(left_on)
    assert checkpoint.step_key == "six_month_result"
    six_months_after = left.replace(
        year=left.year + (left.month + 5) // 12, month=(left.month + 5) % 12 + 1
    )
    assert checkpoint.opens_at == max(six_months_after, checkpoint.reached_at)
    if checkpoint.opens_at > later:  # else six months have passed since leaving: open at once
        assert checkpoint.status is SCHEDULED
        later = open_at_its_date(session, rules, checkpoint)
    assert decide(session, rules, six or 0, SIX_MONTHS, now=later).current_step_id is None


AFTER_EXIT = ["leaving_result", "six_month_result"]


# --- the steps every pathway starts with ---------------------------------------------------------


def test_a_new_pathway_starts_on_version_4_reception_self_evaluation_assessment_orientation(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    assert pathway(session, enrolled.pathway_run_id).pathway_version == 5
    walk_to(session, rules, enrolled.pathway_run_id, "orientation")
    assert steps_of(session, enrolled.pathway_run_id) == [
        *BEFORE_ORIENTATION,
        (4, "orientation", OPEN),
    ]
    events = session.exec(
        select(PathwayEvent.payload)
        .where(PathwayEvent.pathway_run_id == enrolled.pathway_run_id)
        .order_by(col(PathwayEvent.id))
    ).all()
    assert events[1] == SELF_EVALUATION  # the participant's own ratings, kept as answered
    assert events[2]["has_qualification"] is False and events[2]["project_maturity"] == "outline"


def test_a_rating_outside_its_scale_is_refused_field_by_field(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    evaluation = walk_to(session, rules, enrolled.pathway_run_id, "self_evaluation_entry")
    with pytest.raises(InvalidInput) as refused:
        decide(
            session,
            rules,
            evaluation.id or 0,
            SELF_EVALUATION | {"confidence": 6, "motivation": 0, "project_clarity": "3.5"},
        )
    assert set(refused.value.field_errors) == {"confidence", "motivation", "project_clarity"}
    assert step(session, evaluation.id).status is OPEN


def test_an_assessment_may_say_there_is_no_project_yet(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    assessment = walk_to(session, rules, enrolled.pathway_run_id, "socio_professional_assessment")
    answers = {**SELF_EVALUATION}  # not the assessment's form: every field is missing
    with pytest.raises(InvalidInput) as refused:
        decide(session, rules, assessment.id or 0, answers)
    assert {"has_qualification", "project_maturity"} <= set(refused.value.field_errors)
    walk_to(
        session,
        rules,
        enrolled.pathway_run_id,
        "orientation",
        answers={
            "socio_professional_assessment": {
                "assessed_on": "2026-11-02",
                "labour_status": "inactive",
                "education_level": "isced_0_2",
                "has_qualification": True,
                "barrier_housing": False,
                "barrier_health": False,
                "barrier_mobility": False,
                "barrier_childcare": False,
                "barrier_debt": False,
                "project_maturity": "none",
            }
        },
    )


# --- (a) creation, and its checkpoints -----------------------------------------------------------


def test_creation_route_checkpoints_at_3_6_and_12_months_then_end_and_exit(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    run_id = enrolled.pathway_run_id
    orienting = walk_to(session, rules, run_id, "orientation")
    creation_id = decide(session, rules, orienting.id or 0, orientation("creation")).current_step_id
    assert steps_of(session, run_id)[-1] == (5, "business_creation", OPEN)

    checkpoint_id = decide(
        session, rules, creation_id or 0, CREATION, actor="challenge"
    ).current_step_id
    started = at_eight(CREATION["started_on"])
    for months, key in (
        (3, "post_creation_3m"),
        (6, "post_creation_6m"),
        (12, "post_creation_12m"),
    ):
        checkpoint = step(session, checkpoint_id)
        assert (checkpoint.step_key, checkpoint.status) == (key, SCHEDULED)
        assert checkpoint.opened_at is None  # nobody is asked anything before its date
        assert checkpoint.opens_at == started.replace(
            year=started.year + (started.month + months - 1) // 12,
            month=(started.month + months - 1) % 12 + 1,
        )
        when = open_at_its_date(session, rules, checkpoint)
        assert checkpoint.due_at == when + timedelta(days=14)
        checkpoint_id = decide(
            session, rules, checkpoint.id or 0, CHECKPOINT, now=when + timedelta(hours=1)
        ).current_step_id

    end = step(session, checkpoint_id)
    assert (end.step_key, end.status) == ("self_evaluation_end", OPEN)
    late = (end.opened_at or T0) + timedelta(hours=1)
    exit_id = decide(session, rules, end.id or 0, SELF_EVALUATION, now=late).current_step_id
    assert step(session, exit_id).step_key == "exit"
    result_id = decide(session, rules, exit_id or 0, EXIT, now=late).current_step_id
    follow_up(session, rules, result_id, EXIT["left_on"])

    assert steps_of(session, run_id) == [
        *BEFORE_ORIENTATION,
        (4, "orientation", DONE),
        (5, "business_creation", DONE),
        (6, "post_creation_3m", DONE),
        (7, "post_creation_6m", DONE),
        (8, "post_creation_12m", DONE),
        (9, "self_evaluation_end", DONE),
        (10, "exit", DONE),
        (11, "leaving_result", DONE),
        (12, "six_month_result", DONE),
    ]
    run = pathway(session, run_id)
    assert run.status is PathwayStatus.COMPLETED and run.end_reason == "six_month_result:decided"


@pytest.mark.parametrize(
    ("started_on", "three", "six", "twelve"),
    [
        ("2026-11-02", "2027-02-02", "2027-05-02", "2027-11-02"),
        ("2026-08-31", "2026-11-30", "2027-02-28", "2027-08-31"),  # clamped to the month's end
        ("2026-11-30", "2027-02-28", "2027-05-30", "2027-11-30"),
    ],
)
def test_checkpoints_open_3_6_and_12_calendar_months_after_the_start_date(
    session: Session, rules: Rules, enroll, started_on: str, three: str, six: str, twelve: str
) -> None:
    enrolled = enroll()
    creation = walk_to(session, rules, enrolled.pathway_run_id, "business_creation")
    answers = CREATION | {"started_on": started_on}
    submitted = decide(session, rules, creation.id or 0, answers, actor="challenge")
    opened = []
    checkpoint = step(session, submitted.current_step_id)
    for expected in (three, six, twelve):
        assert checkpoint.status is SCHEDULED
        assert checkpoint.opens_at == at_eight(expected), checkpoint.step_key
        when = open_at_its_date(session, rules, checkpoint)
        opened.append(checkpoint.step_key)
        following = decide(session, rules, checkpoint.id or 0, CHECKPOINT, now=when)
        checkpoint = step(session, following.current_step_id)
    assert opened == ["post_creation_3m", "post_creation_6m", "post_creation_12m"]
    assert checkpoint.step_key == "self_evaluation_end"


def test_a_company_number_with_a_wrong_check_digit_is_refused_and_nothing_is_written(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    creation = walk_to(session, rules, enrolled.pathway_run_id, "business_creation")
    before = steps_of(session, enrolled.pathway_run_id)
    for wrong in ("0403.170.702", "0403.170.70", "2403.170.701", "BCE 0403"):
        with pytest.raises(InvalidInput) as refused:
            decide(
                session,
                rules,
                creation.id or 0,
                CREATION | {"company_number": wrong},
                actor="challenge",
            )
        assert set(refused.value.field_errors) == {"company_number"}, wrong
    with pytest.raises(InvalidInput) as refused:
        decide(
            session,
            rules,
            creation.id or 0,
            CREATION | {"company_number": "0403.170.702"},
            actor="challenge",
        )
    assert "modulo 97" in refused.value.field_errors["company_number"]
    assert steps_of(session, enrolled.pathway_run_id) == before
    assert step(session, creation.id).status is OPEN

    # written without dots, with spaces or a BE prefix, it is the same number
    submitted = decide(
        session,
        rules,
        creation.id or 0,
        CREATION | {"company_number": "BE 0403 170 701"},
        actor="challenge",
    )
    event = session.get(PathwayEvent, submitted.event_id)
    assert event is not None and event.payload["company_number"] == "0403.170.701"


def test_a_creation_not_started_comes_back_to_orientation_through_the_mid_way_evaluation(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    creation = walk_to(session, rules, enrolled.pathway_run_id, "business_creation")
    mid = decide(session, rules, creation.id or 0, NOT_STARTED, actor="challenge")
    assert step(session, mid.current_step_id).step_key == "self_evaluation_mid"
    back = decide(session, rules, mid.current_step_id or 0, SELF_EVALUATION)
    assert steps_of(session, enrolled.pathway_run_id)[-3:] == [
        (5, "business_creation", DONE),
        (6, "self_evaluation_mid", DONE),
        (7, "orientation", OPEN),
    ]
    assert step(session, back.current_step_id).step_key == "orientation"


def test_an_activity_stopped_at_a_checkpoint_comes_back_to_orientation(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    checkpoint = walk_to(session, rules, enrolled.pathway_run_id, "post_creation_6m")
    when = open_at_its_date(session, rules, checkpoint)
    mid = decide(session, rules, checkpoint.id or 0, STOPPED, now=when).current_step_id
    assert step(session, mid).step_key == "self_evaluation_mid"
    decide(session, rules, mid or 0, SELF_EVALUATION, now=when)
    assert keys(session, enrolled.pathway_run_id)[-4:] == [
        "post_creation_3m",
        "post_creation_6m",
        "self_evaluation_mid",
        "orientation",
    ]


# --- (b) training, then creation -----------------------------------------------------------------


def test_training_then_back_to_orientation_then_creation(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    run_id = enrolled.pathway_run_id
    training = walk_to(session, rules, run_id, "training", route="training")
    mid = decide(session, rules, training.id or 0, TRAINING, actor="promsoc").current_step_id
    assert step(session, mid).step_key == "self_evaluation_mid"
    again = decide(session, rules, mid or 0, SELF_EVALUATION).current_step_id
    assert step(session, again).step_key == "orientation"
    creation = decide(session, rules, again or 0, orientation("creation")).current_step_id
    assert steps_of(session, run_id) == [
        *BEFORE_ORIENTATION,
        (4, "orientation", DONE),
        (5, "training", DONE),
        (6, "self_evaluation_mid", DONE),
        (7, "orientation", DONE),
        (8, "business_creation", OPEN),
    ]
    assert step(session, creation).step_key == "business_creation"
    # the training is the training centre's step, the creation the business programme's
    trained = session.exec(
        select(PathwayEvent).where(PathwayEvent.step_run_id == training.id)
    ).one()
    assert trained.actor_id == get_user(session=session, username="promsoc").id


# --- (c) social accompaniment, then employment ---------------------------------------------------


def test_social_accompaniment_then_orientation_again_then_employment_then_end(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    run_id = enrolled.pathway_run_id
    social = walk_to(session, rules, run_id, "social_accompaniment", route="social")
    mid = decide(session, rules, social.id or 0, SOCIAL, actor="cpas").current_step_id
    again = decide(session, rules, mid or 0, SELF_EVALUATION).current_step_id
    search = decide(session, rules, again or 0, orientation("employment")).current_step_id
    assert step(session, search).step_key == "job_search"
    end = decide(session, rules, search or 0, EMPLOYED).current_step_id
    assert step(session, end).step_key == "self_evaluation_end"
    leaving = decide(session, rules, end or 0, SELF_EVALUATION).current_step_id
    employed = EXIT | {"reason": "employment_found", "situation": "employed"}
    result = decide(session, rules, leaving or 0, employed).current_step_id
    follow_up(session, rules, result, employed["left_on"])
    assert steps_of(session, run_id) == [
        *BEFORE_ORIENTATION,
        (4, "orientation", DONE),
        (5, "social_accompaniment", DONE),
        (6, "self_evaluation_mid", DONE),
        (7, "orientation", DONE),
        (8, "job_search", DONE),
        (9, "self_evaluation_end", DONE),
        (10, "exit", DONE),
        (11, "leaving_result", DONE),
        (12, "six_month_result", DONE),
    ]
    run = pathway(session, run_id)
    assert run.status is PathwayStatus.COMPLETED and run.end_reason == "six_month_result:decided"


def test_a_job_search_without_a_job_comes_back_to_orientation(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    search = walk_to(session, rules, enrolled.pathway_run_id, "job_search", route="employment")
    mid = decide(session, rules, search.id or 0, NOT_EMPLOYED).current_step_id
    assert step(session, mid).step_key == "self_evaluation_mid"
    decide(session, rules, mid or 0, SELF_EVALUATION)
    assert keys(session, enrolled.pathway_run_id)[-3:] == [
        "job_search",
        "self_evaluation_mid",
        "orientation",
    ]


# --- (d) exit, with its reason ---------------------------------------------------------------


def test_an_exit_skips_the_end_self_evaluation_with_a_reason_and_records_why_and_where(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    run_id = enrolled.pathway_run_id
    orienting = walk_to(session, rules, run_id, "orientation")
    end = decide(session, rules, orienting.id or 0, orientation("exit")).current_step_id
    assert step(session, end).step_key == "self_evaluation_end"

    advisor = get_user(session=session, username="conseillere")
    skip = dict(
        session=session,
        rules=rules,
        step_run_id=end or 0,
        actor=advisor,
        now=LATER,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    with pytest.raises(InvalidInput):
        skip_step(reason=" ", **skip)  # type: ignore[arg-type]
    skipped = skip_step(reason="Ne répond plus aux appels.", **skip)  # type: ignore[arg-type]
    leaving = step(session, skipped.current_step_id)
    assert leaving.step_key == "exit"

    moved = EXIT | {"reason": "moved_away", "situation": "job_seeking"}
    decided = decide(session, rules, leaving.id or 0, moved, now=LATER)
    assert step(session, decided.current_step_id).step_key == "leaving_result"
    assert steps_of(session, run_id) == [
        *BEFORE_ORIENTATION,
        (4, "orientation", DONE),
        (5, "self_evaluation_end", SKIPPED),
        (6, "exit", DONE),
        (7, "leaving_result", OPEN),
    ]
    skip_event = session.get(PathwayEvent, skipped.event_id)
    assert skip_event is not None and skip_event.kind is EventKind.SKIP
    assert skip_event.note == "Ne répond plus aux appels."
    exit_event = session.get(PathwayEvent, decided.event_id)
    assert exit_event is not None and exit_event.kind is EventKind.DECISION
    assert (exit_event.payload["reason"], exit_event.payload["situation"]) == (
        "moved_away",
        "job_seeking",
    )
    assert pathway(session, run_id).status is PathwayStatus.ACTIVE  # the follow-ups remain


def test_an_exit_needs_its_reason_and_situation(session: Session, rules: Rules, enroll) -> None:
    enrolled = enroll()
    leaving = walk_to(session, rules, enrolled.pathway_run_id, "exit", route="exit")
    with pytest.raises(InvalidInput) as refused:
        decide(session, rules, leaving.id or 0, {"left_on": "2026-11-02", "reason": "bored"})
    assert set(refused.value.field_errors) == {"reason", "situation"}
    assert pathway(session, enrolled.pathway_run_id).status is PathwayStatus.ACTIVE


def test_an_end_self_evaluation_never_done_goes_to_the_exit_after_its_deadline(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    end = walk_to(session, rules, enrolled.pathway_run_id, "self_evaluation_end", route="exit")
    assert end.overdue_at == (end.opened_at or T0) + timedelta(days=14 + 30)
    swept = sweep(session=session, rules=rules, now=end.overdue_at, dashboard_url=DASHBOARD_URL)
    assert swept.expired == 1
    assert steps_of(session, enrolled.pathway_run_id)[-2:] == [
        (5, "self_evaluation_end", EXPIRED),
        (6, "exit", OPEN),
    ]
    deadline = session.exec(
        select(PathwayEvent).where(
            PathwayEvent.step_run_id == end.id, PathwayEvent.kind == EventKind.DEADLINE
        )
    ).one()
    assert "self_evaluation_missed" in str(deadline.payload)
