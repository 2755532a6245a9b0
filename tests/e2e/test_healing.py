"""Pathways heal with no human, on the real components (Prefect server, runner, maintainer,
SQLite, SMTP): a resume from outside, a run cancelled from the Prefect UI, a runner killed
after it claimed a resumed run, a deadline passed while the runner was down, and Prefect's
database lost while `crealux up` was stopped.

The maintainer of the e2e instance heals in seconds (see MAINTAINER_SETTINGS in conftest.py);
time moves through the deadline columns, never by sleeping.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.responses import SetStateStatus
from prefect.states import Cancelling
from sqlmodel import select

from crealux_core.clock import utcnow
from crealux_core.domain.healing import RunType
from crealux_core.models import Notification, NotificationStatus, StepRun
from crealux_core.orchestration import idempotency_key
from tests.e2e.conftest import (
    ADVISOR_MAILBOX,
    MAINTAINER_SETTINGS,
    DemoUp,
    Instance,
    Waiting,
    all_sent,
    all_waiting,
    answers,
    decide,
    enroll,
    held_for_digest,
    mails_about,
    wait_for,
)

pytestmark = pytest.mark.e2e

STALL = float(MAINTAINER_SETTINGS["CREALUX_STALL_SECONDS"])


def event_keys(instance: Instance, pathway_run_id: int) -> list[str]:
    return [n.event_key.split(":")[0] for n in instance.notifications(pathway_run_id)]


def ignored_in_logs(instance: Instance, flow_run_id: str, key: str) -> bool:
    with instance.prefect() as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)]))
        )
    return any(f"ignored a resume of {key}" in log.message for log in logs)


def test_a_resume_from_outside_is_ignored_and_a_real_decision_then_moves_the_pathway_on(
    instance: Instance,
) -> None:
    """The stuck participant of issue 5: a Resume from the Prefect UI with a made-up event."""
    _, pathway_run_id = enroll(instance, "Inès")
    first = instance.wait_until_waiting(pathway_run_id, "first_reception")

    with instance.prefect() as client:  # what the Prefect UI's Resume form sends
        response = client.resume_flow_run(UUID(first.flow_run_id), run_input={"event_id": 999999})
    assert response.status is SetStateStatus.ACCEPT  # it fits the schema: Prefect takes it

    # the run ignores it and waits again, healthy, on a new key of the same step
    again = instance.wait_until_waiting(pathway_run_id, "first_reception", after=first)
    assert (again.flow_run_id, again.generation, again.step_id) == (
        first.flow_run_id,
        0,
        first.step_id,
    )
    fired = instance.waits(pathway_run_id)[0]
    assert fired.key == first.key and fired.fired_at and fired.woken_by_event_id is None
    wait_for(
        lambda: ignored_in_logs(instance, first.flow_run_id, first.key),
        timeout=30,
        what="the flow run's log saying it ignored the resume",
    )

    # then a real decision: the pathway moves on, the run waits on the next key
    submitted = decide(instance, first.step_id, answers("first_reception"))
    assert submitted.woken is True
    moved = instance.wait_until_waiting(pathway_run_id, "self_evaluation_entry", after=again)
    assert (moved.flow_run_id, moved.generation) == (first.flow_run_id, 0)
    assert instance.waits(pathway_run_id)[1].woken_by_event_id == submitted.event_id


def test_a_run_cancelled_from_the_prefect_ui_is_replaced(instance: Instance) -> None:
    participant_id, pathway_run_id = enroll(instance, "Jules")
    reference = f"P-{participant_id:05d}"
    first = instance.wait_until_waiting(pathway_run_id, "first_reception")
    wait_for(lambda: all_sent(instance, pathway_run_id, 1), what="the first email")

    with instance.prefect() as client:  # the UI's Cancel: to Cancelling, which a suspended
        client.set_flow_run_state(UUID(first.flow_run_id), Cancelling())  # run skips
    assert instance.flow_run_state(first.flow_run_id) == "Cancelled"

    # the maintainer's full pass replaces it: a new generation waits on the same step
    def replaced() -> Waiting | None:
        now = instance.waiting(pathway_run_id)
        return now if now is not None and now.generation == 1 else None

    healed = wait_for(replaced, timeout=90, what="the cancelled run to be replaced")
    assert healed.flow_run_id != first.flow_run_id
    assert (healed.step_id, healed.step_key) == (first.step_id, "first_reception")
    assert healed.key != first.key
    with instance.prefect() as client:
        flow_run = client.read_flow_run(UUID(healed.flow_run_id))
    assert flow_run.idempotency_key == idempotency_key(pathway_run_id, 1)
    assert flow_run.parameters == {"pathway_run_id": pathway_run_id, "generation": 1}

    # and a decision moves it on
    submitted = decide(instance, first.step_id, answers("first_reception"))
    assert submitted.woken is True
    moved = instance.wait_until_waiting(pathway_run_id, "self_evaluation_entry", after=healed)
    assert (moved.flow_run_id, moved.generation) == (healed.flow_run_id, 1)
    wait_for(lambda: all_sent(instance, pathway_run_id, 2), what="the self-evaluation's email")
    assert len(mails_about(instance, reference, "Premier accueil")) == 1  # not sent again
    assert len(mails_about(instance, reference, "Auto-évaluation d'entrée")) == 1


def test_a_runner_killed_after_it_claimed_a_resumed_run_is_healed(instance: Instance) -> None:
    participant_id, pathway_run_id = enroll(instance, "Karl")
    reference = f"P-{participant_id:05d}"
    first = instance.wait_until_waiting(pathway_run_id, "first_reception")
    wait_for(lambda: all_sent(instance, pathway_run_id, 1), what="the first email")
    orchestrator = instance.runtime.orchestrator

    submitted = decide(instance, first.step_id, answers("first_reception"))
    assert submitted.woken is True  # Prefect accepted the resume

    def claimed() -> RunType | None:  # the runner takes the run: Pending, then Running
        state = orchestrator.describe([first.flow_run_id]).get(first.flow_run_id)
        busy = state is not None and state.type in (RunType.PENDING, RunType.RUNNING)
        return state.type if state is not None and busy else None

    wait_for(claimed, timeout=60, what="the runner to claim the resumed run", interval=0.05)
    with instance.stopped("runner") as restart:  # SIGKILL to the runner's process group
        left_in = claimed()
        assert left_in is not None, instance.flow_run_state(first.flow_run_id)
        restart()  # the new runner only takes Scheduled runs: this one stays where it was

        # the maintainer sees it stalled and replaces it, with no human
        healed = instance.wait_until_waiting(
            pathway_run_id, "self_evaluation_entry", after=first, timeout=STALL + 120
        )
    assert healed.generation == 1 and healed.flow_run_id != first.flow_run_id, left_in
    assert healed.step_id == submitted.current_step_id
    assert instance.flow_run_state(first.flow_run_id) == "Cancelled"
    wait_for(lambda: all_sent(instance, pathway_run_id, 2), what="the self-evaluation's email")
    assert len(mails_about(instance, reference, "Auto-évaluation d'entrée")) == 1
    assert [n.attempts for n in instance.notifications(pathway_run_id)] == [1, 1]


def test_a_deadline_passed_while_the_runner_was_down_is_sent_once(instance: Instance) -> None:
    participant_id, pathway_run_id = enroll(instance, "Léa")
    reference = f"P-{participant_id:05d}"
    first = instance.wait_until_waiting(pathway_run_id, "first_reception")
    wait_for(lambda: all_sent(instance, pathway_run_id, 1), what="the first email")

    with instance.stopped("runner") as restart:
        # two days later, then a week later: the reminder, then the escalation fall due
        with instance.session() as session:
            step = session.get(StepRun, first.step_id)
            assert step is not None and step.remind_at and step.escalate_at
            past = utcnow() - timedelta(minutes=1)
            step.remind_at, step.escalate_at = past, past
            session.add(step)
            session.commit()
        # the maintainer's sweep sends each once, runner or not: the reminder to the step's
        # advisor, the escalation to the coordination, and the advisor is told it is overdue
        wait_for(lambda: all_sent(instance, pathway_run_id, 4), what="the reminder sent")
        # a sweep may fall between the two: their order is not the point, each exactly once is
        assert sorted(event_keys(instance, pathway_run_id)) == [
            "escalation",
            "overdue",
            "reminder",
            "step-opened",
        ]
        assert len(mails_about(instance, reference, "rappel", ADVISOR_MAILBOX)) == 1
        assert len(mails_about(instance, reference, "en retard", ADVISOR_MAILBOX)) == 1
        assert len(mails_about(instance, reference, "en retard")) == 1  # the coordination's
        assert instance.waiting(pathway_run_id) == first  # nothing woke the run
        restart()

    # the runner is back; the next pass applies the deadlines again: nothing twice
    submitted = decide(instance, first.step_id, answers("first_reception"))
    assert submitted.woken is True
    moved = instance.wait_until_waiting(pathway_run_id, "self_evaluation_entry", after=first)
    assert moved.generation == 0
    wait_for(lambda: all_sent(instance, pathway_run_id, 5), what="the self-evaluation's email")
    assert sorted(event_keys(instance, pathway_run_id)) == [
        "escalation",
        "overdue",
        "reminder",
        "step-opened",
        "step-opened",
    ]
    assert [n.attempts for n in instance.notifications(pathway_run_id)] == [1, 1, 1, 1, 1]
    assert len(mails_about(instance, reference, "rappel", ADVISOR_MAILBOX)) == 1
    assert len(mails_about(instance, reference, "en retard", ADVISOR_MAILBOX)) == 1
    assert len(mails_about(instance, reference, "en retard")) == 1


@pytest.mark.timeout(600)
def test_prefect_database_lost_then_up_again_every_pathway_waits_again(
    demo_up: DemoUp, tmp_path: Path
) -> None:
    up, runtime, pathways = demo_up.up, demo_up.runtime, demo_up.pathways
    demo_up.ensure_running(tmp_path / "up.log")  # if test_up.py ran first and stopped it
    before = wait_for(
        lambda: all_waiting(runtime, pathways),
        timeout=120,
        what="every demo pathway to wait on its step",
        interval=0.5,
    )
    assert up.stop() == 0  # Ctrl-C

    for path in (up.home / "prefect").glob("prefect.db*"):
        path.unlink()
    started = time.monotonic()
    up.start(tmp_path / "up-again.log")
    output = up.wait_line("Ctrl-C", timeout=120)
    assert "démonstration" not in output  # the data was reused, not loaded again

    # every pathway waits again on its step, with a new flow run, with no human
    def rebuilt() -> dict[int, Waiting] | None:
        found = all_waiting(runtime, pathways)
        if found is None or any(found[i].flow_run_id == before[i].flow_run_id for i in pathways):
            return None
        return found

    after = wait_for(rebuilt, timeout=180, what="every pathway rebuilt", interval=0.5)
    print(f"\nrebuilt 12 pathways {time.monotonic() - started:.0f} s after `crealux up` again")
    for i in pathways:
        assert (after[i].step_id, after[i].step_key) == (before[i].step_id, before[i].step_key)
        assert after[i].key != before[i].key
        assert after[i].generation == before[i].generation + 1

    # nothing was sent twice (messages for a digest organisation wait for the day's digest)
    held = held_for_digest(runtime)
    with runtime.session() as session:
        notifications = [n for n in session.exec(select(Notification)).all() if not held(n)]
    assert {n.status for n in notifications} == {NotificationStatus.SENT}
    assert {n.attempts for n in notifications} == {1}
    subjects = Counter(up.mail_subjects())
    assert sum(subjects.values()) == len(notifications)
    assert max(subjects.values()) == 1, subjects
