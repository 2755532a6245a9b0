"""The coordinator's pipeline board through the services: pathways built by enrolments and
decisions (no Prefect), made overdue, stalled or scheduled by moving `now`, never by sleeping.

The programme of most tests (`programme`), all enrolled on 2 November 2026 at 10:00:
- Alice waits on her first reception (due 7 days after it opened),
- Bruno on his orientation (due 14 days after the assessment, decided 10 minutes after T0),
- Chloé created her activity on 2 November: her 3-month checkpoint opens on 2 February 2027,
- David is in training (route « training »),
- Emma found a job and left on 2 November: her result on leaving is due four weeks later,
- Fanny refused consent at her first reception: her pathway ended (not on the board).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, col, delete, select

from crealux_core.models import (
    OrientationAdvice,
    OutreachAction,
    OutreachCategory,
    OutreachKind,
    PathwayRun,
    PathwayStatus,
    StepRun,
    User,
)
from crealux_core.rules import Rules
from crealux_core.services.errors import Forbidden
from crealux_core.services.pipeline import (
    NO_STEP,
    NOT_ORIENTED,
    ONLY_VALUES,
    Board,
    Counts,
    Funnel,
    MonthFlow,
    flow_run_url,
    funnel,
    monthly_flows,
    pipeline_board,
    pipeline_list,
)
from crealux_core.services.users import get_user
from tests.conftest import T0, Enrolled
from tests.services.helpers import FIRST, STOPPED, decide, walk_to

WALKED = T0 + timedelta(minutes=10)  # when the walks decide their steps
NOW = T0 + timedelta(hours=1)
STALLED_AFTER = timedelta(days=30)  # rules/indicators.yaml


@dataclass(frozen=True)
class Programme:
    alice: Enrolled
    bruno: Enrolled
    chloe: Enrolled
    david: Enrolled
    emma: Enrolled
    fanny: Enrolled

    def run(self, name: str) -> int:
        enrolled: Enrolled = getattr(self, name)
        return enrolled.pathway_run_id


@pytest.fixture
def programme(session: Session, rules: Rules, enroll) -> Programme:
    first_names = {"chloe": "Chloé"}
    people = {
        name: enroll(first_names.get(name, name.capitalize()))
        for name in Programme.__dataclass_fields__
    }
    walk_to(session, rules, people["bruno"].pathway_run_id, "orientation")
    walk_to(session, rules, people["chloe"].pathway_run_id, "post_creation_3m", route="creation")
    walk_to(session, rules, people["david"].pathway_run_id, "training", route="training")
    walk_to(session, rules, people["emma"].pathway_run_id, "leaving_result", route="employment")
    decide(session, rules, people["fanny"].first_step.id or 0, {**FIRST, "consent_given": False})
    return Programme(**people)


@pytest.fixture
def coordinator(session: Session) -> User:
    return get_user(session=session, username="coordination")


def board_at(session: Session, rules: Rules, user: User, now: datetime) -> Board:
    session.expire_all()
    return pipeline_board(session=session, rules=rules, user=user, now=now)


def steps(board: Board) -> dict[str, Counts]:
    return {row.key: row.counts for row in board.steps}


def routes(board: Board) -> dict[str, Counts]:
    return {row.key: row.counts for row in board.routes}


def names(session: Session, rules: Rules, user: User, now: datetime, **filters) -> list[str]:
    page = pipeline_list(session=session, rules=rules, user=user, now=now, **filters)
    return [row.first_name for row in page.rows]


def test_the_board_counts_active_pathways_by_step_and_by_route(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    board = board_at(session, rules, coordinator, NOW)

    assert board.totals == Counts(total=5, overdue=0, stalled=0, scheduled=1)
    assert steps(board) == {
        "first_reception": Counts(total=1),
        "orientation": Counts(total=1),
        "training": Counts(total=1),
        "post_creation_3m": Counts(total=1, scheduled=1),
        "leaving_result": Counts(total=1),
    }
    # In the newest version's order, titled as it titles them.
    assert [row.title for row in board.steps] == [
        "Premier accueil",
        "Orientation",
        "Formation",
        "Suivi post-création (3 mois)",
        "Résultat à la sortie (4 semaines)",
    ]
    assert routes(board) == {
        "creation": Counts(total=1, scheduled=1),
        "training": Counts(total=1),
        "employment": Counts(total=1),
        NOT_ORIENTED: Counts(total=2),  # Alice and Bruno
    }
    assert [row.key for row in board.routes][-1] == NOT_ORIENTED
    assert board.could_not_heal == 0
    assert board.stalled_after == STALLED_AFTER


def test_a_step_past_its_due_date_is_overdue_and_a_scheduled_one_never_is(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    # Alice's first reception was due on 9 November, Bruno's orientation on 16 November 10:10,
    # Emma's result on leaving on 30 November (four weeks after she left on 2 November).
    assert board_at(session, rules, coordinator, T0 + timedelta(days=6)).totals.overdue == 0
    a_week_on = board_at(session, rules, coordinator, T0 + timedelta(days=8))
    assert steps(a_week_on)["first_reception"].overdue == 1
    assert a_week_on.totals.overdue == 1
    two_weeks_on = board_at(session, rules, coordinator, T0 + timedelta(days=15))
    assert {key for key, counts in steps(two_weeks_on).items() if counts.overdue} == {
        "first_reception",
        "orientation",
    }
    assert routes(two_weeks_on)[NOT_ORIENTED].overdue == 2
    a_year_on = board_at(session, rules, coordinator, T0 + timedelta(days=365))
    assert steps(a_year_on)["post_creation_3m"] == Counts(total=1, scheduled=1)
    assert a_year_on.totals.overdue == 4  # everyone but Chloé, who waits for her date


def test_a_pathway_without_an_event_for_the_rules_period_is_stalled(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    # Alice's last event is her enrolment (T0), the others' their last decision (10 past).
    just_before = board_at(session, rules, coordinator, T0 + STALLED_AFTER - timedelta(minutes=1))
    assert just_before.totals.stalled == 0
    between = board_at(session, rules, coordinator, T0 + STALLED_AFTER + timedelta(minutes=5))
    assert {key for key, counts in steps(between).items() if counts.stalled} == {"first_reception"}
    after = board_at(session, rules, coordinator, WALKED + STALLED_AFTER + timedelta(seconds=1))
    assert after.totals.stalled == 4  # Chloé waits for a date: she is not stalled
    assert steps(after)["post_creation_3m"].stalled == 0


def test_the_stalled_period_comes_from_the_rules(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    assert rules.indicators is not None
    pipeline = rules.indicators.pipeline.model_copy(update={"stalled_after": timedelta(days=3)})
    shorter = rules.model_copy(
        update={"indicators": rules.indicators.model_copy(update={"pipeline": pipeline})}
    )
    board = board_at(session, shorter, coordinator, T0 + timedelta(days=4))
    assert board.stalled_after == timedelta(days=3)
    assert board.totals.stalled == 4
    assert board_at(session, rules, coordinator, T0 + timedelta(days=4)).totals.stalled == 0
    without = rules.model_copy(update={"indicators": None})
    assert board_at(session, without, coordinator, NOW).stalled_after == STALLED_AFTER


def test_every_count_of_the_board_opens_the_list_behind_it(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    now = T0 + timedelta(days=31)
    board = board_at(session, rules, coordinator, now)
    for rows, dimension in ((board.steps, "step_key"), (board.routes, "route")):
        for row in rows:
            for only in ONLY_VALUES:
                page = pipeline_list(
                    session=session,
                    rules=rules,
                    user=coordinator,
                    now=now,
                    only=only,
                    **{dimension: row.key},
                )
                assert page.total == row.counts.of(only), (row.key, only)
                assert len(page.rows) == page.total
    for only in ONLY_VALUES:
        page = pipeline_list(session=session, rules=rules, user=coordinator, now=now, only=only)
        assert page.total == board.totals.of(only)


def test_the_list_says_who_where_since_when_and_links_the_flow_run(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    run = session.get(PathwayRun, programme.run("bruno"))
    assert run is not None
    run.flow_run_id = "0f5a2c4e-1111-4222-8333-944455556666"  # as the reconciler sets it
    session.add(run)
    session.commit()
    now = T0 + timedelta(days=15)

    page = pipeline_list(session=session, rules=rules, user=coordinator, now=now, only="overdue")

    assert page.total == 2
    alice, bruno = page.rows  # the soonest due first
    assert (alice.first_name, bruno.first_name) == ("Alice", "Bruno")
    assert alice.reference == f"P-{programme.alice.participant_id:05d}"
    assert alice.participant_id == programme.alice.participant_id
    assert alice.advisor == "Claire Lambert"
    assert alice.step_title == "Premier accueil"
    assert alice.due_at == T0 + timedelta(days=7)
    assert alice.since == T0
    assert alice.last_event_at is None and alice.started_at == T0  # no event yet
    assert alice.overdue and not alice.stalled
    assert alice.flow_run_id is None
    assert bruno.step_title == "Orientation"
    assert bruno.last_event_at == WALKED
    assert bruno.flow_run_id == "0f5a2c4e-1111-4222-8333-944455556666"
    assert flow_run_url("http://127.0.0.1:4200/", bruno.flow_run_id) == (
        "http://127.0.0.1:4200/runs/flow-run/0f5a2c4e-1111-4222-8333-944455556666"
    )

    [chloe] = pipeline_list(
        session=session, rules=rules, user=coordinator, now=now, only="scheduled"
    ).rows
    assert chloe.first_name == "Chloé"
    assert chloe.route_title == "Création d'activité (Village des créateurs)"
    assert chloe.opens_at is not None and chloe.opens_at.date() == date(2027, 2, 2)


def test_the_list_filters_by_step_and_route_and_is_paged_in_order(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    later = T0 + timedelta(days=40)
    assert names(session, rules, coordinator, NOW, route=NOT_ORIENTED) == ["Alice", "Bruno"]
    assert names(session, rules, coordinator, NOW, step_key="training") == ["David"]
    assert names(session, rules, coordinator, NOW, step_key=NO_STEP) == []
    assert names(session, rules, coordinator, NOW, step_key="training", route="creation") == []
    # Stalled ones longest silent first (Alice since T0, the others since 10 past).
    assert names(session, rules, coordinator, later, only="stalled") == [
        "Alice",
        "Bruno",
        "David",
        "Emma",
    ]
    first = pipeline_list(session=session, rules=rules, user=coordinator, now=NOW, limit=2)
    last = pipeline_list(session=session, rules=rules, user=coordinator, now=NOW, offset=4, limit=2)
    assert (first.total, len(first.rows), first.pages, first.number) == (5, 2, 3, 1)
    assert (last.total, len(last.rows), last.number) == (5, 1, 3)
    everyone = names(session, rules, coordinator, NOW)
    assert sorted(everyone) == ["Alice", "Bruno", "Chloé", "David", "Emma"]
    with pytest.raises(ValueError, match="only"):
        pipeline_list(session=session, rules=rules, user=coordinator, now=NOW, only="late")  # type: ignore[arg-type]


def test_a_pathway_without_a_recorded_orientation_takes_the_route_of_its_step(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    # A run on an older version records no orientation advice: as if David's were not there.
    orientation_steps = select(col(StepRun.id)).where(
        StepRun.pathway_run_id == programme.run("david")
    )
    session.exec(
        delete(OrientationAdvice).where(col(OrientationAdvice.step_run_id).in_(orientation_steps))
    )
    session.commit()
    assert routes(board_at(session, rules, coordinator, NOW))["training"] == Counts(total=1)


def test_the_board_counts_the_pathways_the_engine_could_not_heal(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    run = session.get(PathwayRun, programme.run("david"))
    assert run is not None
    other = session.get(PathwayRun, programme.run("alice"))
    assert other is not None
    # Alice's flow run is being started for the first time (a fresh instance): not a failure.
    other.heal_attempts, other.last_heal_error = 1, "no flow run yet"
    session.add(other)
    session.commit()
    assert board_at(session, rules, coordinator, NOW).could_not_heal == 0
    run.heal_attempts, run.stuck_reason = 8, "8 tentatives de relance sans succès"
    session.add(run)
    session.commit()
    assert board_at(session, rules, coordinator, NOW).could_not_heal == 1
    other.heal_attempts = 2  # its first attempt did not bring it back
    session.add(other)
    session.commit()
    assert board_at(session, rules, coordinator, NOW).could_not_heal == 2


def test_only_the_coordination_sees_the_board_and_the_flows(
    session: Session, rules: Rules, programme: Programme
) -> None:
    for username in ("conseillere", "challenge"):
        user = get_user(session=session, username=username)
        with pytest.raises(Forbidden):
            pipeline_board(session=session, rules=rules, user=user, now=NOW)
        with pytest.raises(Forbidden):
            pipeline_list(session=session, rules=rules, user=user, now=NOW)
        with pytest.raises(Forbidden):
            monthly_flows(
                session=session, user=user, start=date(2026, 1, 1), end=date(2026, 12, 31)
            )
        with pytest.raises(Forbidden):
            funnel(
                session=session,
                rules=rules,
                user=user,
                start=date(2026, 1, 1),
                end=date(2026, 12, 31),
                today=NOW.date(),
            )


def test_monthly_flows_count_stays_started_and_ended_each_month(
    session: Session, rules: Rules, programme: Programme, coordinator: User
) -> None:
    status = session.get(PathwayRun, programme.run("fanny"))
    assert status is not None and status.status is PathwayStatus.COMPLETED
    flows = monthly_flows(
        session=session, user=coordinator, start=date(2026, 10, 1), end=date(2027, 1, 31)
    )
    # Five entered on 2 November and Emma left that day; Fanny, who refused consent at her
    # first reception, never entered the programme (no stay: neither an entry nor an exit).
    assert flows == [
        MonthFlow(date(2026, 10, 1), 0, 0),
        MonthFlow(date(2026, 11, 1), 5, 1),
        MonthFlow(date(2026, 12, 1), 0, 0),
        MonthFlow(date(2027, 1, 1), 0, 0),
    ]
    # The period's own days only: from 3 November, nobody entered or left.
    assert monthly_flows(
        session=session, user=coordinator, start=date(2026, 11, 3), end=date(2026, 11, 30)
    ) == [MonthFlow(date(2026, 11, 1), 0, 0)]
    with pytest.raises(ValueError, match="before it starts"):
        monthly_flows(
            session=session, user=coordinator, start=date(2026, 11, 3), end=date(2026, 11, 2)
        )


def outreach(
    session: Session, coordinator: User, category: OutreachCategory, held_on: date, people: int
) -> None:
    """An outreach action as recorded (the outreach pages and import write the same row)."""
    session.add(
        OutreachAction(
            category=category,
            kind=OutreachKind.INFORMATION_SESSION,
            held_on=held_on,
            title="Séance d'information",
            organiser_id=coordinator.organisation_id,
            people_reached=people,
            recorded_at=T0,
        )
    )
    session.commit()


def test_the_funnel_counts_each_participant_once(
    session: Session, rules: Rules, enroll, coordinator: User
) -> None:
    enroll("Alice")
    chloe, emma, gaston = enroll("Chloé"), enroll("Emma"), enroll("Gaston")
    walk_to(session, rules, chloe.pathway_run_id, "post_creation_3m", route="creation")
    walk_to(session, rules, emma.pathway_run_id, "leaving_result", route="employment")
    # Gaston creates an activity, stops it after three months and finds a job: created and
    # employed, counted once in « created or employed ».
    walk_to(
        session,
        rules,
        gaston.pathway_run_id,
        "self_evaluation_end",
        route=["creation", "employment"],
        answers={"post_creation_3m": STOPPED},
    )
    outreach(session, coordinator, OutreachCategory.CANDIDATES, date(2026, 10, 15), 40)
    outreach(session, coordinator, OutreachCategory.CANDIDATES, date(2026, 11, 20), 12)
    outreach(session, coordinator, OutreachCategory.TRAINING, date(2026, 11, 20), 30)
    outreach(session, coordinator, OutreachCategory.CANDIDATES, date(2025, 11, 20), 99)

    def counted(start: date, end: date, today: date = NOW.date()) -> Funnel:
        return funnel(
            session=session, rules=rules, user=coordinator, start=start, end=end, today=today
        )

    assert counted(date(2026, 10, 1), date(2026, 11, 30)) == Funnel(
        sensitised=52, accompanied=4, created=2, employed=2, created_or_employed=3
    )
    # In December, seen on 15 December: Emma has left (2 November); the others are still
    # accompanied. Seen on 2 November, December is to come: nobody is counted in it yet.
    assert counted(date(2026, 12, 1), date(2026, 12, 31), date(2026, 12, 15)) == Funnel(
        sensitised=0, accompanied=3, created=0, employed=0, created_or_employed=0
    )
    assert counted(date(2026, 12, 1), date(2026, 12, 31)).accompanied == 0
