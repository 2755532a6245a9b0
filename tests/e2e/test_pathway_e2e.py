"""A participant's pathway on the real components: Prefect server, runner, maintainer, SQLite,
SMTP. A decision moves the pathway on when it is committed; the flow run catches up behind it,
sends what is queued and suspends on a new key; Prefect only ever sees ids."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any
from uuid import UUID

import pytest
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.responses import SetStateStatus
from sqlmodel import select

from crealux_core.models import PathwayEvent, StepRun, StepStatus
from crealux_core.services.steps import list_steps
from crealux_core.services.users import get_user
from tests.e2e.conftest import (
    ADVISOR,
    Instance,
    all_sent,
    answers,
    decide,
    enroll,
    mails_about,
    wait_for,
)

pytestmark = pytest.mark.e2e

SELF_EVALUATION_ENTRY = "Auto-évaluation d'entrée"  # the step after reception, in its mails


def step_rows(instance: Instance, pathway_run_id: int) -> list[tuple[int, str, StepStatus]]:
    with instance.session() as session:
        rows = session.exec(
            select(StepRun.seq, StepRun.step_key, StepRun.status).where(
                StepRun.pathway_run_id == pathway_run_id
            )
        ).all()
    return sorted((seq, key, StepStatus(status)) for seq, key, status in rows)


def open_step_ids(instance: Instance, username: str) -> list[int]:
    with instance.session() as session:
        steps = list_steps(
            session=session,
            rules=instance.runtime.rules,
            user=get_user(session=session, username=username),
            status=StepStatus.OPEN,
        )
    return [step.id for step in steps]


def test_a_decision_moves_the_pathway_on_at_once_and_the_run_catches_up_on_a_new_key(
    instance: Instance,
) -> None:
    participant_id, pathway_run_id = enroll(instance, "Alice")
    reference = f"P-{participant_id:05d}"
    first = instance.wait_until_waiting(pathway_run_id, "first_reception")
    wait_for(lambda: all_sent(instance, pathway_run_id, 1), what="the first email")

    submitted = decide(instance, first.step_id, answers("first_reception"))

    # when submit returns, the next step is open and in the advisor's worklist: no waiting
    assert submitted.woken is True
    assert step_rows(instance, pathway_run_id) == [
        (1, "first_reception", StepStatus.COMPLETED),
        (2, "self_evaluation_entry", StepStatus.OPEN),
    ]
    worklist = open_step_ids(instance, ADVISOR)
    assert submitted.current_step_id in worklist and first.step_id not in worklist

    # the run was resumed with the event's id, and waits again, on a new key of the same run;
    # it was started by the runner when kicked, not at its next poll (every 60 s here)
    second = instance.wait_until_waiting(
        pathway_run_id, "self_evaluation_entry", after=first, timeout=30
    )
    assert second.step_id == submitted.current_step_id
    assert second.key != first.key
    assert (second.flow_run_id, second.generation) == (first.flow_run_id, 0)
    wait_for(lambda: all_sent(instance, pathway_run_id, 2), what="the self-evaluation's email")
    assert len(mails_about(instance, reference, SELF_EVALUATION_ENTRY)) == 1  # told once

    # one more decision: the flow runs from the top a third time
    decided = decide(instance, second.step_id, answers("self_evaluation_entry"))
    assert decided.woken is True
    third = instance.wait_until_waiting(
        pathway_run_id, "socio_professional_assessment", after=second
    )
    assert (third.flow_run_id, third.generation) == (first.flow_run_id, 0)

    # each step exists once, each email went once, each wait had its own key and fired once
    assert step_rows(instance, pathway_run_id) == [
        (1, "first_reception", StepStatus.COMPLETED),
        (2, "self_evaluation_entry", StepStatus.COMPLETED),
        (3, "socio_professional_assessment", StepStatus.OPEN),
    ]
    wait_for(lambda: all_sent(instance, pathway_run_id, 3), what="three notifications sent")
    subjects = mails_about(instance, reference)
    assert len(subjects) == 3 and len(set(subjects)) == 3, subjects
    assert [n.attempts for n in instance.notifications(pathway_run_id)] == [1, 1, 1]
    waits = instance.waits(pathway_run_id)
    assert [wait.key for wait in waits] == [first.key, second.key, third.key]
    assert [wait.woken_by_event_id for wait in waits] == [
        submitted.event_id,
        decided.event_id,
        None,
    ]


def test_the_server_refuses_a_malformed_resume_envelope(instance: Instance) -> None:
    _, pathway_run_id = enroll(instance, "Damien")
    waiting = instance.wait_until_waiting(pathway_run_id, "first_reception")
    with instance.session() as session:
        event_id = session.exec(
            select(PathwayEvent.id).where(PathwayEvent.pathway_run_id == pathway_run_id)
        ).first()
    malformed: list[dict[str, Any]] = [
        {"event_id": event_id, "outcome": answers("first_reception")},  # the outcome stays home
        {"event_id": "x"},
        {"event_id": 0},
        {"decision_id": event_id},
    ]
    with instance.prefect() as client:
        for run_input in malformed:
            response = client.resume_flow_run(UUID(waiting.flow_run_id), run_input=run_input)
            assert response.status is not SetStateStatus.ACCEPT, run_input
            assert "validat" in str(response.details).lower(), response.details
    # nothing moved: the run waits on the same key, which has not fired
    assert instance.waiting(pathway_run_id) == waiting
    assert [wait.fired_at for wait in instance.waits(pathway_run_id)] == [None]


def crealux(instance: Instance, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "crealux.cli", *args, "--json"],
        env={**instance.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        return result.returncode, json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {result.returncode}):\n{result}") from None


def test_the_cli_enrolls_lists_and_completes_with_json(instance: Instance) -> None:
    code, enrolled = crealux(
        instance,
        *("participant", "enroll", "--first-name", "Eva", "--last-name", "Cli"),
        *("--gender", "female", "--as", ADVISOR),
    )
    assert code == 0, enrolled
    assert enrolled["flow_run_id"] and enrolled["current_step_id"]
    pathway_run_id = enrolled["pathway_run_id"]
    first = instance.wait_until_waiting(pathway_run_id, "first_reception")
    assert first.step_id == enrolled["current_step_id"]

    code, listed = crealux(
        instance,
        *("step", "list", "--participant", str(enrolled["participant_id"]), "--status", "open"),
        env={"CREALUX_USER": ADVISOR},  # who acts, from the environment
    )
    assert code == 0, listed
    assert [(s["id"], s["step_key"], s["status"]) for s in listed] == [
        (first.step_id, "first_reception", "open")
    ]
    assert listed[0]["participant"] == enrolled["reference"]

    data = json.dumps(answers("first_reception"))
    complete = ("step", "complete", str(first.step_id), "--data", data, "--as", ADVISOR)
    code, done = crealux(instance, *complete)
    assert code == 0, done
    assert done["woken"] is True and done["current_step_id"] != first.step_id
    with instance.session() as session:
        following = session.get(StepRun, done["current_step_id"])
        assert following is not None and following.status is StepStatus.OPEN  # at once

    code, again = crealux(instance, *complete)
    assert (code, again["code"]) == (5, 5), again  # already done: says by whom and when
    assert again["decided_by"] and again["decided_at"]
    second = instance.wait_until_waiting(pathway_run_id, "self_evaluation_entry", after=first)
    assert second.step_id == done["current_step_id"]


def test_prefect_sees_the_passes_as_tasks_and_never_a_name(instance: Instance) -> None:
    first_name, last_name, municipality = "Zénobie", "Quincampoix", "Wéris-sur-Ourthe"
    # The maintainer sends whatever is queued within a tick; stopped, it leaves the sending to
    # the flow run, whose task runs the Prefect UI then shows.
    with instance.stopped("maintainer", signal.SIGTERM):
        _, pathway_run_id = enroll(instance, first_name, last_name, municipality)
        first = instance.wait_until_waiting(pathway_run_id, "first_reception")
        decide(instance, first.step_id, answers("first_reception"))
        second = instance.wait_until_waiting(pathway_run_id, "self_evaluation_entry", after=first)
        wait_for(lambda: all_sent(instance, pathway_run_id, 2), what="both notifications sent")
    notification_ids = [n.id for n in instance.notifications(pathway_run_id)]

    with instance.prefect() as client:
        flow_run = client.read_flow_run(UUID(second.flow_run_id))
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])), limit=200
        )
        inputs = client.filter_flow_run_input(flow_run.id, "", limit=200, exclude_keys=set())
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])), limit=200
        )

    # the Prefect UI shows what each pass did, by name
    names = [task_run.name for task_run in task_runs]
    for prefix in ("acknowledge-events", "apply-deadlines", "record-wake"):
        assert any(name.startswith(prefix) for name in names), (prefix, names)
    sent_by_flow = sorted(name for name in names if name.startswith("send-notification-"))
    assert sent_by_flow == sorted(f"send-notification-{i}" for i in notification_ids), names

    # ids only: the run's name, tags, parameters, task runs, stored inputs and logs
    assert flow_run.name == f"pathway-{pathway_run_id}"
    assert flow_run.parameters == {"pathway_run_id": pathway_run_id, "generation": 0}
    assert {input_.key for input_ in inputs} >= {f"suspended-{first.key}-response"}
    resumed_with = json.loads(client_value(inputs, f"suspended-{first.key}-response"))
    assert set(resumed_with) == {"event_id"}
    seen_by_prefect = json.dumps(
        {
            "name": flow_run.name,
            "tags": flow_run.tags,
            "parameters": flow_run.parameters,
            "state": flow_run.state.model_dump(mode="json") if flow_run.state else None,
            "task_runs": [
                {"name": t.name, "tags": t.tags, "inputs": str(t.task_inputs)} for t in task_runs
            ],
            "inputs": {input_.key: input_.value for input_ in inputs},
            "logs": [log.message for log in logs],
        },
        ensure_ascii=False,
    ).lower()
    for personal in (first_name, last_name, municipality):
        assert personal.lower() not in seen_by_prefect
    assert "entretien positif" not in seen_by_prefect  # the decision's note stays home


def client_value(inputs: list[Any], key: str) -> str:
    return next(str(input_.value) for input_ in inputs if input_.key == key)


def test_two_decisions_in_one_meeting_reach_the_flow_without_the_maintainer(
    instance: Instance,
) -> None:
    """Reception then the entry self-evaluation at once: the second submit finds the run
    between two passes (resumed by the first, not suspended yet). Its wake waits for the run,
    or the pass sees the event itself; the maintainer is stopped so that nothing else can
    catch the run up."""
    _, pathway_run_id = enroll(instance, "Edouard")
    first = instance.wait_until_waiting(pathway_run_id, "first_reception")
    with instance.stopped("maintainer"):
        received = decide(instance, first.step_id, answers("first_reception"))
        evaluated = decide(instance, received.current_step_id, answers("self_evaluation_entry"))
        assert (received.woken, evaluated.woken) == (True, True)
        third = instance.wait_until_waiting(
            pathway_run_id, "socio_professional_assessment", after=first
        )
    assert (third.flow_run_id, third.generation) == (first.flow_run_id, 0)
    assert step_rows(instance, pathway_run_id) == [
        (1, "first_reception", StepStatus.COMPLETED),
        (2, "self_evaluation_entry", StepStatus.COMPLETED),
        (3, "socio_professional_assessment", StepStatus.OPEN),
    ]
    wait_for(lambda: all_sent(instance, pathway_run_id, 3), what="three notifications sent")
    assert [n.attempts for n in instance.notifications(pathway_run_id)] == [1, 1, 1]
    fired = [wait for wait in instance.waits(pathway_run_id) if wait.fired_at is not None]
    assert all(wait.woken_by_event_id is not None for wait in fired)
