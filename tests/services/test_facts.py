"""Facts are written by the events that establish them, in their transaction, and can be
written again from the events alone (an install from before the facts tables)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from crealux_core.models import (
    BusinessCreation,
    EntrySituation,
    ExitSituation,
    Placement,
    Stay,
    StepRun,
    SupportTime,
    TrainingRecord,
)
from crealux_core.rules import Rules
from crealux_core.services.facts import backfill_facts
from tests.conftest import T0
from tests.services.helpers import ASSESSMENT, FIRST, decide, walk_to

FACT_TABLES: list[Any] = [
    ExitSituation,
    BusinessCreation,
    TrainingRecord,
    Placement,
    SupportTime,
    EntrySituation,
    Stay,
]


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every fact row, without ids: what the facts say."""
    session.expire_all()
    seen: dict[str, list[tuple[Any, ...]]] = {}
    for model in FACT_TABLES:
        rows = session.exec(select(model)).all()
        seen[model.__name__] = sorted(
            (
                tuple(
                    value
                    for name, value in sorted(row.model_dump().items())
                    if name not in ("id", "stay_id", "recorded_at")
                )
                for row in rows
            ),
            key=repr,
        )
    return seen


def test_a_pathway_opens_a_stay_and_the_assessment_fills_the_entry(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    stay = session.exec(select(Stay)).one()
    assert (stay.participant_id, stay.started_on, stay.ended_on) == (
        enrolled.participant_id,
        T0.date(),
        None,
    )
    walk_to(
        session,
        rules,
        enrolled.pathway_run_id,
        "orientation",
        answers={"socio_professional_assessment": ASSESSMENT | {"homeless": "undisclosed"}},
    )
    entry = session.exec(select(EntrySituation)).one()
    assert (entry.labour_status, entry.education_level) == ("long_term_unemployed", "isced_3_4")
    assert (entry.homeless, entry.disability) == ("undisclosed", None)
    support = session.exec(select(SupportTime).order_by(col(SupportTime.id))).all()
    # first reception 1.5 h, entry self-evaluation 1 h, assessment 2 h: interviews
    assert [(s.kind, s.hours) for s in support] == [
        ("interview", 1.5),
        ("interview", 1.0),
        ("interview", 2.0),
    ]


def test_the_exit_dates_the_stay_and_the_follow_ups_record_the_results(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    result = walk_to(session, rules, enrolled.pathway_run_id, "leaving_result", route="exit")
    stay = session.exec(select(Stay)).one()
    assert stay.ended_on == date(2026, 11, 2)  # the exit's left_on
    decide(
        session,
        rules,
        result.id or 0,
        {"situation": "in_training", "qualification_gained": True},
        now=T0 + timedelta(days=3),
    )
    leaving = session.exec(select(ExitSituation)).one()
    assert (leaving.moment, leaving.left_on, leaving.reason) == (
        "leaving",
        date(2026, 11, 2),
        "business_started",
    )
    assert (leaving.situation, leaving.qualification_gained) == ("in_training", True)


def test_facts_written_again_from_the_events_are_the_same(
    session: Session, rules: Rules, enroll
) -> None:
    for name, route, until in (
        ("Ana", "creation", "post_creation_3m"),
        ("Ben", ["training", "employment"], "self_evaluation_end"),
        ("Cem", "exit", "leaving_result"),
    ):
        enrolled = enroll(first_name=name)
        walk_to(session, rules, enrolled.pathway_run_id, until, route=route)
    written = snapshot(session)
    assert written["BusinessCreation"] and written["TrainingRecord"] and written["Placement"]
    for model in FACT_TABLES:  # an install from before the facts tables
        session.execute(delete(model))
    session.commit()
    assert backfill_facts(session, rules=rules) == 3
    assert snapshot(session) == written
    assert backfill_facts(session, rules=rules) == 0  # once
    assert backfill_facts(session, rules=rules, every_run=True) == 3
    assert snapshot(session) == written  # again: nothing added twice


def test_a_person_who_refuses_consent_at_the_first_reception_never_entered_the_programme(
    session: Session, rules: Rules, enroll
) -> None:
    refused, accepted = enroll("Refus"), enroll("Accord")
    reception = session.exec(
        select(StepRun).where(StepRun.pathway_run_id == refused.pathway_run_id)
    ).one()
    decide(session, rules, reception.id or 0, FIRST | {"consent_given": False})
    walk_to(session, rules, accepted.pathway_run_id, "self_evaluation_entry")
    session.expire_all()
    # The pathway ended on its first step: no stay, no entry; the other participant keeps both.
    assert [s.participant_id for s in session.exec(select(Stay)).all()] == [accepted.participant_id]
    assert [e.participant_id for e in session.exec(select(EntrySituation)).all()] == [
        accepted.participant_id
    ]
    assert session.exec(select(SupportTime)).all()  # the interview's hours were given all the same
    before = snapshot(session)
    for model in FACT_TABLES:  # the facts written again from the events say the same
        session.execute(delete(model))
    session.commit()
    backfill_facts(session, rules=rules)
    assert snapshot(session) == before
