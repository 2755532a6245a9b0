"""A participant's pathway on the real components: Prefect server, runner, SQLite, SMTP."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlmodel import select

from crealux_core.clock import utcnow
from crealux_core.models import (
    Decision,
    Gender,
    Notification,
    NotificationStatus,
    ParticipantCreate,
    StepRun,
    StepStatus,
)
from crealux_core.services.delivery import reconcile
from crealux_core.services.participants import enroll_participant
from crealux_core.services.steps import complete_step, list_steps, record_decision
from crealux_core.services.users import get_user
from tests.e2e.conftest import Instance, wait_for

pytestmark = pytest.mark.e2e

FIRST_RECEPTION = {
    "meeting_on": "2026-11-20",
    "consent_given": True,
    "referred_by": "forem",
    "expectation": "creation",
}
ASSESSMENT = {
    "assessed_on": "2026-11-21",
    "labour_status": "long_term_unemployed",
    "education_level": "isced_3_4",
    "barrier_housing": False,
    "barrier_health": False,
    "barrier_mobility": True,
    "barrier_childcare": False,
    "barrier_debt": False,
    "project_maturity": "outline",
}
INTAKE_MAILBOX = "accueil@integraplus.example"


def enroll(instance: Instance, first_name: str) -> tuple[int, str]:
    runtime = instance.runtime
    with instance.session() as session:
        participant, run = enroll_participant(
            session=session,
            rules=runtime.rules,
            data=ParticipantCreate(first_name=first_name, last_name="E2E", gender=Gender.FEMALE),
            advisor=get_user(session=session, username="conseillere"),
            now=utcnow(),
            orchestrator=runtime.orchestrator,
        )
    assert run.flow_run_id is not None
    return participant.id or 0, run.flow_run_id


def open_step(instance: Instance, participant_id: int):  # type: ignore[no-untyped-def]
    with instance.session() as session:
        steps = list_steps(
            session=session,
            rules=instance.runtime.rules,
            user=None,
            participant_id=participant_id,
            status=StepStatus.OPEN,
        )
    return steps[0] if steps else None


def waiting_step(instance: Instance, participant_id: int, step_key: str, flow_run_id: str):  # type: ignore[no-untyped-def]
    """Wait until the participant's run is Suspended on the open step `step_key`."""

    def probe():  # type: ignore[no-untyped-def]
        step = open_step(instance, participant_id)
        if (
            step
            and step.step_key == step_key
            and instance.suspended_on(flow_run_id, f"step-{step.id}")
        ):
            return step
        return None

    return wait_for(probe, timeout=90, what=f"the run to wait on {step_key}")


def mails_about(instance: Instance, mailbox: str, reference: str) -> list[str]:
    return [s for s in instance.smtp.subjects(mailbox) if reference in s]


def complete(instance: Instance, step_id: int, data: dict) -> bool:
    with instance.session() as session:
        _, delivered = complete_step(
            session=session,
            rules=instance.runtime.rules,
            step_run_id=step_id,
            actor=get_user(session=session, username="conseillere"),
            data=data,
            note="Entretien positif.",
            now=utcnow(),
            orchestrator=instance.runtime.orchestrator,
        )
    return delivered


def step_rows(instance: Instance, participant_id: int) -> list[tuple[int, str, StepStatus]]:
    with instance.session() as session:
        steps = list_steps(
            session=session, rules=instance.runtime.rules, user=None, participant_id=participant_id
        )
    return sorted((s.seq, s.step_key, s.status) for s in steps)


def test_completing_a_step_resumes_the_run_opens_the_next_step_and_emails_the_partner(
    instance: Instance,
) -> None:
    participant_id, flow_run_id = enroll(instance, "Alice")
    reference = f"P-{participant_id:05d}"
    first = waiting_step(instance, participant_id, "first_reception", flow_run_id)
    wait_for(lambda: mails_about(instance, INTAKE_MAILBOX, reference), what="the first email")

    assert complete(instance, first.id, FIRST_RECEPTION) is True

    second = waiting_step(instance, participant_id, "socio_professional_assessment", flow_run_id)
    assert second.flow_run_id == flow_run_id
    mails = wait_for(
        lambda: [s for s in mails_about(instance, INTAKE_MAILBOX, reference) if "Bilan" in s],
        what="the email about the assessment",
    )
    assert len(mails) == 1
    advisor_steps = list_steps_for(instance, "conseillere")
    assert second.id in advisor_steps and first.id not in advisor_steps


def list_steps_for(instance: Instance, username: str) -> list[int]:
    with instance.session() as session:
        user = get_user(session=session, username=username)
        steps = list_steps(
            session=session, rules=instance.runtime.rules, user=user, status=StepStatus.OPEN
        )
    return [step.id for step in steps]


def test_the_reruns_after_each_resume_open_nothing_twice_and_send_nothing_twice(
    instance: Instance,
) -> None:
    participant_id, flow_run_id = enroll(instance, "Bruno")
    reference = f"P-{participant_id:05d}"
    first = waiting_step(instance, participant_id, "first_reception", flow_run_id)
    complete(instance, first.id, FIRST_RECEPTION)
    second = waiting_step(instance, participant_id, "socio_professional_assessment", flow_run_id)
    complete(instance, second.id, ASSESSMENT)
    waiting_step(instance, participant_id, "orientation", flow_run_id)

    # the flow ran from the top three times; each step exists once, each email went once
    assert step_rows(instance, participant_id) == [
        (1, "first_reception", StepStatus.COMPLETED),
        (2, "socio_professional_assessment", StepStatus.COMPLETED),
        (3, "orientation", StepStatus.OPEN),
    ]
    wait_for(lambda: len(mails_about(instance, INTAKE_MAILBOX, reference)) >= 3, what="3 emails")
    subjects = mails_about(instance, INTAKE_MAILBOX, reference)
    assert len(subjects) == 3 and len(set(subjects)) == 3
    with instance.session() as session:
        pathway_run_id = session.exec(
            select(StepRun.pathway_run_id).where(StepRun.id == first.id)
        ).one()
        statuses = session.exec(
            select(Notification.status).where(Notification.pathway_run_id == pathway_run_id)
        ).all()
    assert statuses == [NotificationStatus.SENT] * 3


def test_a_decision_survives_a_crash_between_commit_and_resume(instance: Instance) -> None:
    participant_id, flow_run_id = enroll(instance, "Chloé")
    first = waiting_step(instance, participant_id, "first_reception", flow_run_id)
    with instance.session() as session:
        # the dashboard commits, then its process dies before it can resume the run
        decision = record_decision(
            session=session,
            rules=instance.runtime.rules,
            step_run_id=first.id,
            actor=get_user(session=session, username="conseillere"),
            data=FIRST_RECEPTION,
            note="Saisi juste avant la panne.",
            now=utcnow(),
        )
    assert instance.suspended_on(flow_run_id, f"step-{first.id}")  # the run still waits

    with instance.session() as session:
        done = reconcile(session=session, orchestrator=instance.runtime.orchestrator, now=utcnow())
    assert done.delivered >= 1

    waiting_step(instance, participant_id, "socio_professional_assessment", flow_run_id)
    with instance.session() as session:
        stored = session.get(Decision, decision.id)
        assert stored is not None
        assert stored.delivered_at is not None and stored.applied_at is not None
        assert stored.note == "Saisi juste avant la panne."


def test_the_server_refuses_a_resume_that_does_not_fit_the_step(instance: Instance) -> None:
    participant_id, flow_run_id = enroll(instance, "Damien")
    first = waiting_step(instance, participant_id, "first_reception", flow_run_id)
    from crealux_core.services.ports import OrchestrationError

    with pytest.raises(OrchestrationError, match=r"(?i)reject|invalid|valid"):
        instance.runtime.orchestrator.resume_step(
            flow_run_id=flow_run_id,
            suspend_key=f"step-{first.id}",
            run_input={"decision_id": 1, "outcome": {**FIRST_RECEPTION, "consent_given": "maybe"}},
        )
    assert instance.suspended_on(flow_run_id, f"step-{first.id}")


def test_the_cli_enrolls_lists_and_completes_with_json(instance: Instance) -> None:
    def crealux(*args: str) -> dict | list:
        result = subprocess.run(
            [sys.executable, "-m", "crealux.cli", *args, "--json"],
            env=instance.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    enrolled = crealux(
        "participant",
        "enroll",
        "--first-name",
        "Eva",
        "--last-name",
        "Cli",
        "--gender",
        "female",
        "--advisor",
        "conseillere",
    )
    assert isinstance(enrolled, dict) and enrolled["flow_run_id"]
    participant_id = enrolled["participant_id"]
    step = waiting_step(instance, participant_id, "first_reception", enrolled["flow_run_id"])
    listed = crealux("step", "list", "--participant", str(participant_id), "--status", "open")
    assert listed == [
        {
            **listed[0],
            "id": step.id,
            "step_key": "first_reception",
            "status": "open",
            "flow_run_id": enrolled["flow_run_id"],
            "participant_id": participant_id,
        }
    ]
    done = crealux(
        "step",
        "complete",
        str(step.id),
        "--data",
        json.dumps(FIRST_RECEPTION),
        "--as",
        "conseillere",
    )
    assert done == {"step_id": step.id, "decision_id": done["decision_id"], "delivered": True}
    waiting_step(instance, participant_id, "socio_professional_assessment", enrolled["flow_run_id"])

    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "crealux.cli",
            "step",
            "complete",
            str(step.id),
            "--data",
            json.dumps(FIRST_RECEPTION),
            "--json",
        ],
        env=instance.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2
    assert "already completed" in json.loads(refused.stdout)["error"]


def test_the_scheduled_reconcile_flow_delivers_what_was_not_delivered(instance: Instance) -> None:
    from prefect.client.orchestration import SyncPrefectClient

    participant_id, flow_run_id = enroll(instance, "Fanny")
    first = waiting_step(instance, participant_id, "first_reception", flow_run_id)
    assert flow_run_id in {run.flow_run_id for run in instance.runtime.orchestrator.waiting_runs()}
    with instance.session() as session:
        record_decision(
            session=session,
            rules=instance.runtime.rules,
            step_run_id=first.id,
            actor=get_user(session=session, username="conseillere"),
            data=FIRST_RECEPTION,
            note=None,
            now=utcnow(),
        )
    with SyncPrefectClient(instance.runtime.settings.prefect_url) as client:
        deployment = client.read_deployment_by_name("reconcile/reconcile")
        reconcile_run = client.create_flow_run_from_deployment(deployment.id)

        def finished() -> str | None:
            state = client.read_flow_run(reconcile_run.id).state
            return state.name if state and state.is_final() else None

        assert wait_for(finished, timeout=90, what="the reconcile flow run") == "Completed"
    waiting_step(instance, participant_id, "socio_professional_assessment", flow_run_id)
