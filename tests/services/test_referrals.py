"""Referrals through the services (no Prefect): an advisor sends a participant to a partner's
offer from the optional step « Orientation vers un partenaire »; the partner accepts (the step
becomes its own, due from the start date) or declines (the step goes back to the advisor, told
the reason); an unanswered referral is reminded, then escalated; each answer is an event; and
a partner sees the participant only while the referral is open."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from crealux_core.models import (
    EventKind,
    Notification,
    PathwayEvent,
    Referral,
    ReferralStatus,
    StepRun,
    StepStatus,
)
from crealux_core.rules import Rules
from crealux_core.services import referrals
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from crealux_core.services.plans import add_optional_step
from crealux_core.services.policy import partner_follows
from crealux_core.services.steps import step_form, submit_decision
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0

JOB_CLUB = "forem-marche/job-club"
SOCIAL = "cpas-durbuy/social-accompaniment"


def user(session: Session, name: str):
    return get_user(session=session, username=name)


def referral_step(session: Session, rules: Rules, pathway_run_id: int, who: str = "conseillere"):
    submitted = add_optional_step(
        session=session,
        rules=rules,
        user=user(session, who),
        pathway_run_id=pathway_run_id,
        step_key="partner_referral",
        note=None,
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    step = session.exec(
        select(StepRun).where(
            StepRun.pathway_run_id == pathway_run_id, StepRun.step_key == "partner_referral"
        )
    ).one()
    assert submitted.event_id
    return step


def refer(session, rules, step_id, offer=JOB_CLUB, who="conseillere", now=T0, reason=None):
    return referrals.refer(
        session=session,
        rules=rules,
        step_run_id=step_id,
        actor=user(session, who),
        offer=offer,
        reason=reason
        if reason is not None
        else "Cherche un emploi de magasinier, a besoin d'un CV.",
        now=now,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )


def only_referral(session: Session) -> Referral:
    return session.exec(select(Referral)).one()


def accept(session, rules, referral_id, who="forem", starts_on=date(2026, 11, 16), now=T0):
    return referrals.accept(
        session=session,
        rules=rules,
        referral_id=referral_id,
        actor=user(session, who),
        starts_on=starts_on,
        now=now,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )


def decline(session, rules, referral_id, who="forem", reason="Plus de place ce mois-ci."):
    return referrals.decline(
        session=session,
        rules=rules,
        referral_id=referral_id,
        actor=user(session, who),
        reason=reason,
        now=T0 + timedelta(hours=2),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )


def event_kinds(session: Session, step_id: int) -> list[EventKind]:
    return list(
        session.exec(
            select(PathwayEvent.kind)
            .where(PathwayEvent.step_run_id == step_id)
            .order_by(col(PathwayEvent.id))
        ).all()
    )


def keys(session: Session) -> list[str]:
    return list(session.exec(select(Notification.event_key).order_by(col(Notification.id))).all())


def test_the_offers_are_the_service_offers_of_the_partners(rules: Rules) -> None:
    step = rules.pathway().step("partner_referral")
    offered = [choice.key for choice in referrals.offer_choices(rules, step)]
    assert JOB_CLUB in offered and SOCIAL in offered and "challenge/test-activity" in offered
    assert "le-trusquin/eco-construction" not in offered  # a training module: its sessions


def test_a_referral_accepted_hands_the_step_to_the_partner_from_the_start_date(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step = referral_step(session, rules, enrolled.pathway_run_id)
    sent = refer(session, rules, step.id)
    referral = only_referral(session)
    assert referral.status is ReferralStatus.SENT
    assert referral.answer_due_at == T0 + timedelta(days=7)
    assert referral.remind_at == T0 + timedelta(days=5)
    assert referral.escalate_at == T0 + timedelta(days=8)
    assert f"referral-made:{referral.id}" in keys(session)
    assert sent.event_id and sent.woken is False  # no orchestrator here

    # before an answer the step is not the partner's: it answers on the referrals page
    with pytest.raises(Forbidden):
        step_form(session=session, rules=rules, user=user(session, "forem"), step_run_id=step.id)

    accepted = accept(session, rules, referral.id, now=T0 + timedelta(days=1))
    session.refresh(referral)
    session.refresh(step)
    assert referral.status is ReferralStatus.ACCEPTED and referral.starts_on == date(2026, 11, 16)
    assert step.organisation_id == referral.organisation_id and step.assignee_id is None
    assert step.due_at is not None and step.due_at.date() == date(2027, 1, 15)  # P60D from 16/11
    assert event_kinds(session, step.id) == [
        EventKind.ADDED,
        EventKind.REFERRAL,
        EventKind.REFERRAL_ACCEPTED,
    ]
    assert accepted.event_id and f"referral-answered:{referral.id}" in keys(session)

    # now the partner completes the step with its form; the referral's step is closed
    submit_decision(
        session=session,
        rules=rules,
        step_run_id=step.id,
        actor=user(session, "forem"),
        data={"followed": True, "sessions": 4},
        now=T0 + timedelta(days=30),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    session.refresh(step)
    assert step.status is StepStatus.COMPLETED
    assert not partner_follows(session, user(session, "forem"), referral.participant_id)
    [done] = referrals.list_referrals(
        session=session, rules=rules, user=user(session, "coordination"), now=T0
    )
    assert done.status is ReferralStatus.CLOSED  # its step was decided: the referral is over


def test_a_referral_declined_goes_back_to_the_advisor_with_the_reason(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step = referral_step(session, rules, enrolled.pathway_run_id)
    refer(session, rules, step.id)
    first = only_referral(session)
    decline(session, rules, first.id)
    session.refresh(first)
    session.refresh(step)
    assert first.status is ReferralStatus.DECLINED
    assert first.decline_reason == "Plus de place ce mois-ci."
    assert step.status is StepStatus.OPEN and step.assignee_id is not None  # the advisor's
    told = session.exec(
        select(Notification).where(Notification.event_key == f"referral-answered:{first.id}")
    ).one()
    assert "Plus de place ce mois-ci." in told.body and told.recipient_user_id == step.assignee_id
    declined = session.exec(
        select(PathwayEvent).where(PathwayEvent.kind == EventKind.REFERRAL_DECLINED)
    ).one()
    assert declined.note == "Plus de place ce mois-ci."

    # the partner no longer sees the participant; the advisor refers elsewhere
    assert not partner_follows(session, user(session, "forem"), first.participant_id)
    refer(session, rules, step.id, offer=SOCIAL)
    views = referrals.list_referrals(
        session=session, rules=rules, user=user(session, "cpas"), now=T0
    )
    assert [(view.offer_key, view.status) for view in views] == [
        ("social-accompaniment", ReferralStatus.SENT)
    ]
    assert (
        referrals.list_referrals(session=session, rules=rules, user=user(session, "forem"), now=T0)
        == []
    )


def test_an_answer_is_given_once_and_only_by_the_partner_it_was_sent_to(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step = referral_step(session, rules, enrolled.pathway_run_id)
    refer(session, rules, step.id)
    referral = only_referral(session)
    with pytest.raises(NotFound):  # another partner does not even see it
        accept(session, rules, referral.id, who="cpas")
    with pytest.raises(Forbidden):  # the advisor sees it, but the partner answers
        accept(session, rules, referral.id, who="conseillere")
    with pytest.raises(InvalidInput) as far:
        accept(session, rules, referral.id, starts_on=date(2099, 1, 1))
    assert "plus d'un an" in far.value.field_errors["starts_on"]
    with pytest.raises(InvalidInput):
        accept(session, rules, referral.id, starts_on=date(2026, 1, 1))  # before the referral
    with pytest.raises(InvalidInput):
        decline(session, rules, referral.id, reason=" ")
    accept(session, rules, referral.id)
    with pytest.raises(Conflict) as twice:  # a second tab
        decline(session, rules, referral.id)
    assert "déjà été acceptée" in str(twice.value)
    with pytest.raises(Conflict):  # one referral at a time on a step
        refer(session, rules, step.id, offer=SOCIAL)


def test_only_the_advisor_or_the_coordinator_refers_and_only_to_a_listed_offer(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step = referral_step(session, rules, enrolled.pathway_run_id)
    for who in ("cpas", "forem", "conseiller"):
        with pytest.raises(Forbidden):
            refer(session, rules, step.id, who=who)
    with pytest.raises(InvalidInput) as bad:
        refer(session, rules, step.id, offer="le-trusquin/eco-construction", reason="")
    assert set(bad.value.field_errors) == {"offer", "reason"}
    assert session.exec(select(Referral)).all() == []
    refer(session, rules, step.id, who="coordination")


def test_an_unanswered_referral_is_reminded_then_escalated_once(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step = referral_step(session, rules, enrolled.pathway_run_id)
    refer(session, rules, step.id)
    referral = only_referral(session)

    def sweep(at):
        return referrals.sweep_referrals(
            session=session, rules=rules, now=at, dashboard_url=DASHBOARD_URL
        )

    assert (sweep(T0 + timedelta(days=4)).reminded, keys(session).count("x")) == (0, 0)
    assert sweep(T0 + timedelta(days=5, minutes=1)).reminded == 1
    assert sweep(T0 + timedelta(days=6)).reminded == 0  # once
    swept = sweep(T0 + timedelta(days=8, minutes=1))
    assert (swept.reminded, swept.escalated) == (0, 1)
    assert sweep(T0 + timedelta(days=9)).escalated == 0
    sent = keys(session)
    for key in ("referral-reminder", "referral-unanswered", "referral-unanswered-advisor"):
        assert sent.count(f"{key}:{referral.id}") == 1, key
    views = referrals.list_referrals(
        session=session, rules=rules, user=user(session, "coordination"), now=T0 + timedelta(days=9)
    )
    assert views[0].overdue


def test_an_answered_referral_is_not_reminded(session: Session, rules: Rules, enroll) -> None:
    enrolled = enroll()
    step = referral_step(session, rules, enrolled.pathway_run_id)
    refer(session, rules, step.id)
    decline(session, rules, only_referral(session).id)
    swept = referrals.sweep_referrals(
        session=session, rules=rules, now=T0 + timedelta(days=30), dashboard_url=DASHBOARD_URL
    )
    assert (swept.reminded, swept.escalated) == (0, 0)
