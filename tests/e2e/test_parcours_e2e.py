"""The whole parcours of version 4 on the real components (Prefect server, runner, maintainer,
SQLite, SMTP), one test per route. After each decision the flow run catches up and suspends on
the step the pathway went to; a post-creation checkpoint is scheduled, and opens (the
maintainer's sweep) once time has moved past its date; after the exit, the result on leaving
is asked at once and the situation six months later is scheduled: its answer ends the flow run.

Time is moved as in test_healing.py: the step's stored date is set a minute in the past, and
the maintainer's sweep (every 2 s here) acts on it as it would on the real date."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from crealux_core.clock import utcnow
from crealux_core.models import (
    EventKind,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
)
from crealux_core.services.steps import skip_step
from crealux_core.services.users import get_user
from tests.e2e.conftest import ADVISOR, Instance, Waiting, answers, decide, enroll, wait_for

pytestmark = pytest.mark.e2e

SCENARIO_SECONDS: dict[str, float] = {}  # printed with -s: how long each route takes here


def answer(step_key: str, **changes: Any) -> dict[str, Any]:
    """Plausible answers to a step, dated today, with some of them changed."""
    return {**answers(step_key), **changes}


def orientation(route: str) -> dict[str, Any]:
    return answer("orientation", route=route)


class Walk:
    """One participant's pathway, driven step by step; each move waits for the flow run."""

    def __init__(self, instance: Instance, first_name: str) -> None:
        self.instance = instance
        self.started = time.monotonic()
        _, self.pathway_run_id = enroll(instance, first_name, "Parcours")
        self.waiting = instance.wait_until_waiting(self.pathway_run_id, "first_reception")
        self.flow_run_id = self.waiting.flow_run_id

    def decide(self, data: dict[str, Any], then: str, *, actor: str = ADVISOR) -> Waiting:
        """Decide the current step; return once the flow run waits on step `then`."""
        submitted = decide(self.instance, self.waiting.step_id, data, actor=actor)
        assert submitted.current_step_id is not None
        return self._caught_up(then, submitted.current_step_id)

    def skip(self, reason: str, then: str) -> Waiting:
        """Skip the current step with a written reason, as its advisor."""
        runtime = self.instance.runtime
        with self.instance.session() as session:
            submitted = skip_step(
                session=session,
                rules=runtime.rules,
                step_run_id=self.waiting.step_id,
                actor=get_user(session=session, username=ADVISOR),
                reason=reason,
                now=utcnow(),
                orchestrator=runtime.orchestrator,
                dashboard_url=runtime.settings.dashboard_url,
            )
        assert submitted.current_step_id is not None
        return self._caught_up(then, submitted.current_step_id)

    def opens_later(self) -> StepRun:
        """The current step, scheduled: nobody is asked anything before its date."""
        step = self.step(self.waiting.step_id)
        assert step.status is StepStatus.SCHEDULED and step.opened_at is None
        return step

    def move_time_past_its_opening(self) -> Waiting:
        """Time moves past the scheduled step's date: the sweep opens it, and the flow run
        catches up and waits on it again, on a new key."""
        scheduled = self.opens_later()
        with self.instance.session() as session:
            step = session.get(StepRun, scheduled.id)
            assert step is not None
            step.opens_at = utcnow() - timedelta(minutes=1)
            session.add(step)
            session.commit()
        again = self._caught_up(scheduled.step_key, scheduled.id or 0)
        opened = self.step(again.step_id)
        assert opened.status is StepStatus.OPEN and opened.opened_at is not None
        assert self.events(EventKind.OPENED, opened.id or 0), "opened by an event, as any input"
        return again

    def end(self, data: dict[str, Any]) -> tuple[PathwayStatus, str | None]:
        """Decide the last step: the pathway ends, and so does its flow run; return the
        pathway's status and end reason."""
        submitted = decide(self.instance, self.waiting.step_id, data)
        assert submitted.current_step_id is None
        state = wait_for(
            self._final_state,
            timeout=90,
            what=f"the flow run of pathway {self.pathway_run_id} to complete",
        )
        assert state == "Completed"
        with self.instance.session() as session:
            run = session.get(PathwayRun, self.pathway_run_id)
            assert run is not None and run.acked_event_id == submitted.event_id  # seen by it
            return run.status, run.end_reason

    def step(self, step_id: int) -> StepRun:
        with self.instance.session() as session:
            step = session.get(StepRun, step_id)
        assert step is not None
        return step

    def steps(self) -> list[tuple[str, StepStatus]]:
        with self.instance.session() as session:
            rows = session.exec(
                select(StepRun.step_key, StepRun.status)
                .where(StepRun.pathway_run_id == self.pathway_run_id)
                .order_by(col(StepRun.seq))
            ).all()
        return [(key, StepStatus(status)) for key, status in rows]

    def events(self, kind: EventKind, step_id: int) -> list[PathwayEvent]:
        with self.instance.session() as session:
            return list(
                session.exec(
                    select(PathwayEvent).where(
                        PathwayEvent.step_run_id == step_id, PathwayEvent.kind == kind
                    )
                ).all()
            )

    def through_orientation(self, route: str, then: str, *, actor: str = ADVISOR) -> Waiting:
        """Reception, entry self-evaluation, assessment, then orientation to `route`."""
        self.decide(answer("first_reception"), "self_evaluation_entry")
        self.decide(answer("self_evaluation_entry"), "socio_professional_assessment")
        self.decide(answer("socio_professional_assessment"), "orientation")
        return self.decide(orientation(route), then)

    def record(self, name: str) -> None:
        SCENARIO_SECONDS[name] = time.monotonic() - self.started
        print(f"\n{name}: {SCENARIO_SECONDS[name]:.0f} s")

    def _caught_up(self, step_key: str, step_id: int) -> Waiting:
        following = self.instance.wait_until_waiting(
            self.pathway_run_id, step_key, after=self.waiting
        )
        assert following.step_id == step_id
        assert (following.flow_run_id, following.generation) == (self.flow_run_id, 0)
        assert following.key != self.waiting.key  # every wait has its own key
        self.waiting = following
        return following

    def _final_state(self) -> str | None:
        state = self.instance.flow_run_state(self.flow_run_id)
        return state if state in ("Completed", "Failed", "Crashed", "Cancelled") else None


def months_after(day: date, months: int) -> datetime:
    """08:00 UTC on the day `months` calendar months after `day` (clamped to the month end)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return datetime(year, month, min(day.day, last), 8, 0, tzinfo=UTC)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def test_creation_route_with_checkpoints_at_3_6_and_12_months_then_exit(
    instance: Instance,
) -> None:
    walk = Walk(instance, "Camille")
    walk.through_orientation("creation", "business_creation")
    started_on = utcnow().date()
    creation = answer(
        "business_creation",
        status="principal",
        started_on=started_on.isoformat(),
        sector="hospitality",
        company_number="0403.170.701",
    )
    walk.decide(creation, "post_creation_3m", actor="challenge")

    for months, key, following in (
        (3, "post_creation_3m", "post_creation_6m"),
        (6, "post_creation_6m", "post_creation_12m"),
        (12, "post_creation_12m", "self_evaluation_end"),
    ):
        scheduled = walk.opens_later()
        assert scheduled.step_key == key
        assert scheduled.opens_at == months_after(started_on, months)
        walk.move_time_past_its_opening()
        walk.decide(answer(key, still_active=True), following)

    walk.decide(answer("self_evaluation_end"), "exit")
    left_on = utcnow().date()
    leaving = answer(
        "exit", left_on=left_on.isoformat(), reason="business_started", situation="self_employed"
    )
    walk.decide(leaving, "leaving_result")
    result = walk.step(walk.waiting.step_id)  # the ESF+ result on leaving: within four weeks
    assert result.due_at == months_after(left_on, 0) + timedelta(weeks=4)
    walk.decide(answer("leaving_result", situation="self_employed"), "six_month_result")
    assert walk.opens_later().opens_at == months_after(left_on, 6)
    walk.move_time_past_its_opening()
    ended = walk.end(answer("six_month_result", situation="self_employed"))
    assert ended == (PathwayStatus.COMPLETED, "six_month_result:decided")
    assert walk.steps() == [
        ("first_reception", StepStatus.COMPLETED),
        ("self_evaluation_entry", StepStatus.COMPLETED),
        ("socio_professional_assessment", StepStatus.COMPLETED),
        ("orientation", StepStatus.COMPLETED),
        ("business_creation", StepStatus.COMPLETED),
        ("post_creation_3m", StepStatus.COMPLETED),
        ("post_creation_6m", StepStatus.COMPLETED),
        ("post_creation_12m", StepStatus.COMPLETED),
        ("self_evaluation_end", StepStatus.COMPLETED),
        ("exit", StepStatus.COMPLETED),
        ("leaving_result", StepStatus.COMPLETED),
        ("six_month_result", StepStatus.COMPLETED),
    ]
    walk.record("creation")


def test_training_then_back_to_orientation_then_creation(instance: Instance) -> None:
    walk = Walk(instance, "Bastien")
    walk.through_orientation("training", "training")
    walk.decide(answer("training", completed=True), "self_evaluation_mid", actor="promsoc")
    walk.decide(answer("self_evaluation_mid"), "orientation")
    walk.decide(orientation("creation"), "business_creation")
    assert [key for key, _ in walk.steps()][3:] == [
        "orientation",
        "training",
        "self_evaluation_mid",
        "orientation",
        "business_creation",
    ]
    walk.record("training then creation")


def test_social_accompaniment_then_employment_then_exit(instance: Instance) -> None:
    walk = Walk(instance, "Dounia")
    walk.through_orientation("social", "social_accompaniment")
    walk.decide(answer("social_accompaniment"), "self_evaluation_mid", actor="cpas")
    walk.decide(answer("self_evaluation_mid"), "orientation")
    walk.decide(orientation("employment"), "job_search")
    walk.decide(answer("job_search", employed=True), "self_evaluation_end")
    walk.decide(answer("self_evaluation_end"), "exit")
    walk.decide(answer("exit", reason="employment_found", situation="employed"), "leaving_result")
    assert [key for key, _ in walk.steps()][3:] == [
        "orientation",
        "social_accompaniment",
        "self_evaluation_mid",
        "orientation",
        "job_search",
        "self_evaluation_end",
        "exit",
        "leaving_result",
    ]
    walk.record("social then employment")


def test_exit_route_skips_the_end_self_evaluation_with_a_reason(instance: Instance) -> None:
    walk = Walk(instance, "Emile")
    walk.through_orientation("exit", "self_evaluation_end")
    skipped = walk.waiting.step_id
    leaving = walk.skip("Ne se présente plus aux rendez-vous.", "exit")
    walk.decide(
        answer("exit", reason="no_contact", situation="lost_to_follow_up"), "leaving_result"
    )
    assert walk.steps()[-3:] == [
        ("self_evaluation_end", StepStatus.SKIPPED),
        ("exit", StepStatus.COMPLETED),
        ("leaving_result", StepStatus.OPEN),
    ]
    [skip] = walk.events(EventKind.SKIP, skipped)
    assert skip.note == "Ne se présente plus aux rendez-vous."
    [decision] = walk.events(EventKind.DECISION, leaving.step_id)
    assert (decision.payload["reason"], decision.payload["situation"]) == (
        "no_contact",
        "lost_to_follow_up",
    )
    walk.record("exit")
