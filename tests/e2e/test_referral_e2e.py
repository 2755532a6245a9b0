"""Referrals on the real components (Prefect server, runner, maintainer, SMTP): the advisor sends
a participant to the Forem's job club from « Orientation vers un partenaire »; the partner's
answer is an event that wakes the pathway's flow run, which waits again on its step; accepted,
the step is the partner's; declined, it goes back to the advisor with the reason; left
unanswered, the partner is reminded and the coordination told, once, by the maintainer's
sweep."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from crealux_core.clock import local_today, utcnow
from crealux_core.models import EventKind, PathwayEvent, Referral, ReferralStatus, StepRun
from crealux_core.services import referrals
from crealux_core.services.plans import add_optional_step
from crealux_core.services.users import get_user
from tests.e2e.conftest import (
    ADVISOR,
    INTAKE_MAILBOX,
    Instance,
    decide,
    enroll,
    mails_about,
    wait_for,
)

pytestmark = pytest.mark.e2e

FOREM_MAILBOX = "conseil@forem-marche.example"
ADVISOR_MAILBOX = "claire.lambert@integraplus.example"
JOB_CLUB = "forem-marche/job-club"


def referred(instance: Instance, first_name: str) -> tuple[str, int, int, Referral]:
    """Enrol someone, add the referral step, refer them to the job club; the flow run has
    every event and waits on the first reception again."""
    participant_id, pathway_run_id = enroll(instance, first_name)
    reference = f"P-{participant_id:05d}"
    instance.wait_until_waiting(pathway_run_id, "first_reception")
    runtime = instance.runtime
    with instance.session() as session:
        advisor = get_user(session=session, username=ADVISOR)
        add_optional_step(
            session=session,
            rules=runtime.rules,
            user=advisor,
            pathway_run_id=pathway_run_id,
            step_key="partner_referral",
            note=None,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
        step = session.exec(
            select(StepRun).where(
                StepRun.pathway_run_id == pathway_run_id, StepRun.step_key == "partner_referral"
            )
        ).one()
        sent = referrals.refer(
            session=session,
            rules=runtime.rules,
            step_run_id=step.id or 0,
            actor=advisor,
            offer=JOB_CLUB,
            reason="Cherche un emploi de magasinier.",
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
        referral = session.exec(
            select(Referral).where(Referral.pathway_run_id == pathway_run_id)
        ).one()
    waiting = instance.wait_until_waiting(pathway_run_id, "first_reception", timeout=60)
    assert waiting is not None and sent.event_id
    wait_for(
        lambda: mails_about(instance, reference, "Nouvelle orientation", FOREM_MAILBOX),
        what="the partner's e-mail",
    )
    return reference, pathway_run_id, step.id or 0, referral


def answer(instance: Instance, referral_id: int, *, accepted: bool):
    runtime = instance.runtime
    with instance.session() as session:
        common = dict(
            session=session,
            rules=runtime.rules,
            referral_id=referral_id,
            actor=get_user(session=session, username="forem"),
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
        if accepted:
            return referrals.accept(**common, starts_on=local_today(utcnow()))  # type: ignore[arg-type]
        return referrals.decline(**common, reason="Le job club est complet ce mois-ci.")  # type: ignore[arg-type]


def test_a_referral_accepted_then_followed_by_the_partner(instance: Instance) -> None:
    reference, pathway_run_id, step_id, referral = referred(instance, "Yasmine")
    before = instance.waiting(pathway_run_id)
    accepted = answer(instance, referral.id or 0, accepted=True)
    assert accepted.woken is True  # the answer is an event: the run was resumed with it
    again = instance.wait_until_waiting(pathway_run_id, "first_reception", after=before)
    assert again.key != (before.key if before else None)
    wait_for(
        lambda: mails_about(instance, reference, "Orientation acceptée", ADVISOR_MAILBOX),
        what="the advisor told",
    )
    with instance.session() as session:
        step = session.get(StepRun, step_id)
        forem = get_user(session=session, username="forem")
        assert step is not None and step.organisation_id == forem.organisation_id
    decide(instance, step_id, {"followed": True, "sessions": 3}, actor="forem")
    instance.wait_until_waiting(pathway_run_id, "first_reception", after=again)
    with instance.session() as session:
        kinds = session.exec(
            select(PathwayEvent.kind)
            .where(PathwayEvent.step_run_id == step_id)
            .order_by(col(PathwayEvent.id))
        ).all()
    assert kinds == [
        EventKind.ADDED,
        EventKind.REFERRAL,
        EventKind.REFERRAL_ACCEPTED,
        EventKind.DECISION,
    ]
    # each message once
    assert len(mails_about(instance, reference, "Nouvelle orientation", FOREM_MAILBOX)) == 1
    assert len(mails_about(instance, reference, "Orientation acceptée", ADVISOR_MAILBOX)) == 1


def test_a_referral_declined_goes_back_to_the_advisor(instance: Instance) -> None:
    reference, pathway_run_id, step_id, referral = referred(instance, "Bruno")
    before = instance.waiting(pathway_run_id)
    declined = answer(instance, referral.id or 0, accepted=False)
    assert declined.woken is True
    instance.wait_until_waiting(pathway_run_id, "first_reception", after=before)
    wait_for(
        lambda: mails_about(instance, reference, "Orientation refusée", ADVISOR_MAILBOX),
        what="the advisor told the reason",
    )
    mail = next(
        m for m in instance.smtp.to(ADVISOR_MAILBOX) if reference in str(m.message["Subject"])
    )
    assert "complet ce mois-ci" in mail.message.as_string().replace("=\n", "")
    with instance.session() as session:
        step = session.get(StepRun, step_id)
        advisor = get_user(session=session, username=ADVISOR)
        assert step is not None and step.assignee_id == advisor.id
        waiting = referrals.steps_to_refer(
            session=session, rules=instance.runtime.rules, user=advisor
        )
        assert step_id in [item.step_run_id for item in waiting]


def test_a_referral_left_unanswered_is_reminded_then_escalated_once(instance: Instance) -> None:
    reference, _, _, referral = referred(instance, "Oscar")
    past = utcnow() - timedelta(seconds=1)
    with instance.session() as session:  # the week has gone by: its times are now
        session.execute(
            update(Referral)
            .where(col(Referral.id) == referral.id)
            .values(remind_at=past, escalate_at=past)
        )
        session.commit()
    wait_for(
        lambda: mails_about(instance, reference, "Rappel", FOREM_MAILBOX),
        what="the partner reminded by the maintainer's sweep",
    )
    wait_for(
        lambda: mails_about(instance, reference, "sans réponse", INTAKE_MAILBOX),
        what="the coordination told",
    )
    wait_for(
        lambda: mails_about(instance, reference, "sans réponse", ADVISOR_MAILBOX),
        what="the advisor told",
    )
    with instance.session() as session:
        row = session.get(Referral, referral.id)
        assert row is not None and row.status is ReferralStatus.SENT
        assert row.reminded_at is not None and row.escalated_at is not None
    # later sweeps send nothing more (the maintainer sweeps every 2 s here)
    time.sleep(5)
    assert len(mails_about(instance, reference, "Rappel", FOREM_MAILBOX)) == 1
    assert len(mails_about(instance, reference, "sans réponse", INTAKE_MAILBOX)) == 1
