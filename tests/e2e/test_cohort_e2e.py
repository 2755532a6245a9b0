"""A cohort on the real components (Prefect server, runner, maintainer, the application
database, SMTP): twelve participants enrolled with their flow runs, their advisor deciding
their steps up to the training step while the flow runs catch up behind; enrolled in one
session, their attendance recorded, the session closed with the `crealux` command; each of the
twelve pathways moves on through its own decision, and every flow run ends up waiting on the
next step."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from crealux_core.clock import local_today, utcnow
from crealux_core.models import EventKind, PathwayEvent, PathwayRun, Presence, TrainingRecord
from crealux_core.services import training
from crealux_core.services.events import current_step
from crealux_core.services.steps import submit_decision
from crealux_core.services.users import get_user
from tests.e2e.conftest import (
    ADVISOR,
    Instance,
    all_waiting,
    answers,
    enroll,
    not_waiting,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

COHORT = 12
# The steps before the training step.
WALK = ("first_reception", "self_evaluation_entry", "socio_professional_assessment", "orientation")


def all_on(instance: Instance, pathway_run_ids: list[int], step_key: str, timeout: float) -> dict:
    """Wait until every pathway's flow run is suspended on the wait of step `step_key`."""

    def probe() -> dict | None:
        found = all_waiting(instance.runtime, pathway_run_ids)
        if found is None or any(w.step_key != step_key for w in found.values()):
            return None
        return found

    try:
        return wait_for(
            probe, timeout=timeout, what=f"the cohort to wait on {step_key}", interval=0.5
        )
    except AssertionError as error:
        raise AssertionError(
            f"{error}:\n{not_waiting(instance.runtime, pathway_run_ids)}"
        ) from None


def stage_answers(step_key: str) -> dict[str, Any]:
    data = answers(step_key)
    if step_key == "orientation":
        data["route"] = "training"
    return data


def test_a_cohort_of_twelve_closing_moves_every_pathway_on(instance: Instance) -> None:
    runtime = instance.runtime
    runs = [enroll(instance, f"Cohorte{n}", "Formation")[1] for n in range(COHORT)]
    participants = []
    all_on(instance, runs, "first_reception", timeout=240)
    # The advisor decides the four steps to the training step one after the other, as from
    # the step page (which wakes the flow run from a thread and does not wait for it): the
    # flow runs catch up behind, woken by the maintainer, and each waits on its training step.
    with instance.session() as session:
        advisor = get_user(session=session, username=ADVISOR)
        for run_id in runs:
            for step_key in WALK:
                step = current_step(session, run_id)
                assert step is not None and step.step_key == step_key
                submit_decision(
                    session=session,
                    rules=runtime.rules,
                    step_run_id=step.id or 0,
                    actor=advisor,
                    data=stage_answers(step_key),
                    now=utcnow(),
                    orchestrator=None,
                    dashboard_url=runtime.settings.dashboard_url,
                )
    all_on(instance, runs, "training", timeout=480)

    start = local_today(utcnow())
    with instance.session() as session:
        trusquin = get_user(session=session, username="trusquin")
        view = training.create_session(
            session=session,
            rules=runtime.rules,
            user=trusquin,
            organisation_key="le-trusquin",
            offer_key="environmental-worker",
            starts_on=start,
            ends_on=start + timedelta(days=1),
            days=[start, start + timedelta(days=1)],
            capacity=COHORT,
            place="Barvaux",
            now=utcnow(),
            hours_per_day=7,
        )
        for run_id in runs:
            run = session.get(PathwayRun, run_id)
            assert run is not None
            participants.append(run.participant_id)
            done = training.enrol(
                session=session,
                rules=runtime.rules,
                user=advisor,
                training_session_id=view.id,
                participant_id=run.participant_id,
                now=utcnow(),
                dashboard_url=runtime.settings.dashboard_url,
            )
            assert done.status.value == "enrolled"
        assert done.session_full  # the twelfth took the last place
        found = training.roster(
            session=session, rules=runtime.rules, user=trusquin, training_session_id=view.id
        )
        for held_on in (start, start + timedelta(days=1)):
            training.record_attendance(
                session=session,
                user=trusquin,
                training_session_id=view.id,
                held_on=held_on,
                marks=[training.Mark(e.enrolment_id, Presence.PRESENT) for e in found.entries],
                now=utcnow(),
            )
    # Enrolment and attendance are silent: no flow run was woken, all still wait on training.
    all_on(instance, runs, "training", timeout=60)

    references = [f"P-{p:05d}" for p in participants]
    command = [sys.executable, "-m", "crealux.cli", "training", "close", str(view.id)]
    command += [arg for ref in references[:3] for arg in ("--qualified", ref)]
    command += ["--as", "trusquin", "--json"]
    closed = subprocess.run(command, env=instance.env, capture_output=True, text=True, timeout=180)
    assert closed.returncode == 0, closed.stderr
    report = json.loads(closed.stdout)
    assert len(report["decided"]) == COHORT and not report["failed"] and not report["not_on_step"]

    after = all_on(instance, runs, "self_evaluation_mid", timeout=480)
    assert set(after) == set(runs)
    with instance.session() as session:
        decisions = session.exec(
            select(PathwayEvent).where(
                col(PathwayEvent.pathway_run_id).in_(runs),
                PathwayEvent.kind == EventKind.DECISION,
                PathwayEvent.actor_id == trusquin.id,
            )
        ).all()
        records = session.exec(
            select(TrainingRecord).where(col(TrainingRecord.participant_id).in_(participants))
        ).all()
    assert sorted(d.pathway_run_id for d in decisions) == sorted(runs)  # one each
    assert {r.hours for r in records} == {14} and sum(bool(r.qualification) for r in records) == 3

    # Closing again decides nothing more.
    again = subprocess.run(command, env=instance.env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["decided"] == []
