"""The flow's passes: each acknowledges what happened and waits on a key never used before."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from crealux_core.models import PathwayRun
from crealux_core.rules import Rules
from crealux_core.services.delivery import wake
from crealux_core.services.ports import Delivery, OrchestrationError
from crealux_core.services.progress import begin_pass, current_wait, record_wake
from tests.conftest import T0
from tests.services.helpers import FIRST, decide


def a_pass(session: Session, rules: Rules, pathway_run_id: int, *, run: str = "run-1", gen=0):
    return begin_pass(
        session=session,
        rules=rules,
        pathway_run_id=pathway_run_id,
        generation=gen,
        flow_run_id=run,
        now=T0 + timedelta(minutes=1),
    )


def test_a_pass_acknowledges_the_events_and_waits_on_a_fresh_key(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    first = a_pass(session, rules, enrolled.pathway_run_id)
    assert first.wait_key == f"wait-{first.wait_id}"
    again = a_pass(session, rules, enrolled.pathway_run_id)
    assert again.wait_key == first.wait_key  # not fired yet: the same wait, replayed safely
    submitted = decide(session, rules, enrolled.first_step.id or 0, FIRST)
    run = session.get(PathwayRun, enrolled.pathway_run_id, populate_existing=True)
    assert run is not None and run.needs_flow_at is not None
    assert record_wake(
        session=session, wait_id=first.wait_id or 0, event_id=submitted.event_id, now=T0
    )
    after = a_pass(session, rules, enrolled.pathway_run_id)
    assert after.wait_key != first.wait_key
    run = session.get(PathwayRun, enrolled.pathway_run_id, populate_existing=True)
    assert run is not None
    assert run.acked_event_id == submitted.event_id and run.needs_flow_at is None


def test_a_resume_naming_no_event_of_the_pathway_is_ignored(
    session: Session, rules: Rules, enroll
) -> None:
    """The stuck participant: a Resume from the Prefect UI with junk, then a real decision."""
    enrolled, other = enroll(), enroll("Karim")
    waiting = a_pass(session, rules, enrolled.pathway_run_id)
    other_event = decide(session, rules, other.first_step.id or 0, FIRST).event_id
    assert not record_wake(session=session, wait_id=waiting.wait_id or 0, event_id=999_999, now=T0)
    next_pass = a_pass(session, rules, enrolled.pathway_run_id)
    assert not record_wake(
        session=session, wait_id=next_pass.wait_id or 0, event_id=other_event, now=T0
    )
    waiting_again = a_pass(session, rules, enrolled.pathway_run_id)
    assert len({waiting.wait_key, next_pass.wait_key, waiting_again.wait_key}) == 3
    submitted = decide(session, rules, enrolled.first_step.id or 0, FIRST)
    assert submitted.current_step_id is not None
    assert record_wake(
        session=session, wait_id=waiting_again.wait_id or 0, event_id=submitted.event_id, now=T0
    )


def test_a_replaced_run_stops_at_its_next_pass(session: Session, rules: Rules, enroll) -> None:
    enrolled = enroll()
    assert not a_pass(session, rules, enrolled.pathway_run_id, run="old").superseded
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert run is not None
    run.generation, run.flow_run_id = 1, "new"
    session.add(run)
    session.commit()
    assert a_pass(session, rules, enrolled.pathway_run_id, run="old").superseded
    fresh = a_pass(session, rules, enrolled.pathway_run_id, run="new", gen=1)
    assert not fresh.superseded and fresh.wait_key is not None
    assert current_wait(session=session, pathway_run_id=enrolled.pathway_run_id).key == (  # type: ignore[union-attr]
        fresh.wait_key
    )


def test_a_pathway_whose_definition_was_edited_says_why_it_cannot_continue(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert run is not None
    run.definition_digest = "0000000000000000"
    session.add(run)
    session.commit()
    stopped = a_pass(session, rules, enrolled.pathway_run_id)
    assert stopped.ended and stopped.problem and "version" in stopped.problem
    run = session.get(PathwayRun, enrolled.pathway_run_id, populate_existing=True)
    assert run is not None and run.stuck_reason


class _RacedOrchestrator:
    """Prefect as a wake meets it when the maintainer delivered the same event a moment
    earlier: the resume is refused, and the run's pass then acknowledges the event."""

    def __init__(self, session: Session, pathway_run_id: int, event_id: int, *, passing: bool):
        self.session, self.pathway_run_id, self.event_id = session, pathway_run_id, event_id
        self.passing = passing
        self.calls = 0

    def resume(self, *, flow_run_id: str, key: str, run_input: dict[str, object]) -> Delivery:
        self.calls += 1
        run = self.session.get(PathwayRun, self.pathway_run_id)
        assert run is not None
        run.acked_event_id = self.event_id  # the maintainer's resume: its pass has the event
        self.session.add(run)
        self.session.commit()
        raise OrchestrationError("Prefect refused to resume: not paused", passing=self.passing)


def test_a_wake_refused_because_another_resumed_the_run_reads_it_again(
    session: Session, rules: Rules, enroll
) -> None:
    """Seen in CI under load: the maintainer resumed the run (its grace had passed) between
    the wake's read and its resume; the refused wake must not report the event undelivered."""
    enrolled = enroll()
    a_pass(session, rules, enrolled.pathway_run_id)
    submitted = decide(session, rules, enrolled.first_step.id or 0, FIRST)
    raced = _RacedOrchestrator(session, enrolled.pathway_run_id, submitted.event_id, passing=True)
    assert wake(
        session=session,
        pathway_run_id=enrolled.pathway_run_id,
        event_id=submitted.event_id,
        orchestrator=raced,  # type: ignore[arg-type]
        retry_delays=(0.01,),
    )
    assert raced.calls == 1


def test_a_wake_that_cannot_reach_prefect_gives_up_at_once(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    a_pass(session, rules, enrolled.pathway_run_id)
    submitted = decide(session, rules, enrolled.first_step.id or 0, FIRST)
    unreachable = _RacedOrchestrator(
        session, enrolled.pathway_run_id, submitted.event_id, passing=False
    )
    assert not wake(
        session=session,
        pathway_run_id=enrolled.pathway_run_id,
        event_id=submitted.event_id,
        orchestrator=unreachable,  # type: ignore[arg-type]
        retry_delays=(0.01,),
    )
    assert unreachable.calls == 1
