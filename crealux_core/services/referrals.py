"""Referrals: a step with `assign: referral` sends the participant to a partner's offer.

1. The participant's advisor (or the coordinator) chooses an offer and says why (`refer`): a
   REFERRAL event, the referral row with its answer deadlines, a message to the partner.
2. The partner's staff (or the coordinator) answer:
   - `accept`, with a start date: a REFERRAL_ACCEPTED event; the step becomes the partner's
     (its form, its worklist) and its deadlines count again from the start date;
   - `decline`, with a reason: a REFERRAL_DECLINED event; the step stays with the advisor, who
     is told the reason and may refer again.
   Each answer is committed with its transition, and the pathway's flow run is woken after
   the commit, like a decision.
3. An unanswered referral is reminded to the partner before its answer is due and escalated
   to the coordination (and the advisor) after (`sweep_referrals`, called by the deadline
   sweep); each exactly once, claimed by compare-and-set.

A partner sees the participant only while a referral to it is sent or accepted and its step is
open, and only what the referral shares (`SharedParticipant`): never the assessment's answers
or the notes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, update
from sqlmodel import Session, col, select

from crealux_core.clock import LOCAL_TIME, local_today
from crealux_core.domain.pathway import step_times
from crealux_core.models import (
    EventKind,
    Organisation,
    Participant,
    PathwayRun,
    Referral,
    ReferralStatus,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.models.referral import OPEN_REFERRAL_STATUSES
from crealux_core.rules.specs import OfferKind, OfferSpec, Role, Rules, StepSpec
from crealux_core.services import events, policy
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import AlreadyDone, Conflict, Forbidden, InvalidInput, NotFound
from crealux_core.services.lookup import get_row
from crealux_core.services.organisations import organisation_by_key
from crealux_core.services.policy import Action
from crealux_core.services.ports import Orchestrator
from crealux_core.services.steps import Submitted, after_commit

LATEST_START = dt.timedelta(days=366)  # a start date further away is a typing error


@dataclass(frozen=True)
class OfferChoice:
    key: str  # organisation/offer
    organisation_key: str
    organisation_name: str
    offer: OfferSpec

    @property
    def label(self) -> str:
        return f"{self.offer.title} ({self.organisation_name})"


@dataclass(frozen=True)
class ReferralView:
    """A referral as its reader may see it."""

    id: int
    step_run_id: int
    participant_id: int
    reference: str
    first_name: str
    organisation_key: str
    organisation_name: str
    offer_key: str
    offer_title: str
    reason: str
    status: ReferralStatus
    step_open: bool
    referred_at: dt.datetime
    answer_due_at: dt.datetime
    starts_on: dt.date | None
    decline_reason: str | None
    answered_at: dt.datetime | None
    overdue: bool


def offer_choices(rules: Rules, step: StepSpec) -> list[OfferChoice]:
    """Return the offers a referral step may send to: those it lists, or every service offer."""
    listed = step.referral_settings.offers
    choices = []
    for organisation_key, organisation in rules.organisations.items():
        for offer_key, offer in organisation.offers.items():
            key = f"{organisation_key}/{offer_key}"
            if (listed and key in listed) or (not listed and offer.kind is OfferKind.SERVICE):
                choices.append(OfferChoice(key, organisation_key, organisation.name, offer))
    return choices


def _step_of(session: Session, rules: Rules, step_run: StepRun) -> tuple[PathwayRun, StepSpec]:
    run = get_row(session, PathwayRun, step_run.pathway_run_id)
    pathway = definition_of(session=session, rules=rules, run=run)
    return run, pathway.step(step_run.step_key)


def pending_referral(session: Session, step_run_id: int) -> Referral | None:
    """Return the step's referral that is sent or accepted, if any."""
    return session.exec(
        select(Referral).where(
            Referral.step_run_id == step_run_id,
            col(Referral.status).in_(OPEN_REFERRAL_STATUSES),
        )
    ).first()


def may_refer(user: User, participant: Participant) -> bool:
    """Send a participant to a partner: their advisor, or the coordinator."""
    return policy.can(user, Action.STEER_PARTICIPANT, participant)


def may_answer(user: User, referral: Referral) -> bool:
    """Answer a referral: the staff of the organisation it was sent to, or the coordinator."""
    return policy.can(user, Action.ANSWER_REFERRAL, referral)


def refer(
    *,
    session: Session,
    rules: Rules,
    step_run_id: int,
    actor: User,
    offer: str,
    reason: str,
    now: dt.datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
) -> Submitted:
    """Send the participant of an open referral step to a partner's offer."""
    step_run = session.get(StepRun, step_run_id)
    if step_run is None:
        raise NotFound(f"no step {step_run_id}")
    run, step = _step_of(session, rules, step_run)
    participant = get_row(session, Participant, run.participant_id)
    if not may_refer(actor, participant):
        raise Forbidden(f"{actor.username} may not refer {participant.reference}")
    if step.assign != "referral":
        raise Conflict(f"step {step_run_id} ({step.title}) does not send to a partner")
    if step_run.status is not StepStatus.OPEN:
        raise Conflict(f"step {step_run_id} is not open")
    if pending_referral(session, step_run_id) is not None:
        raise Conflict("this step already has a referral waiting or accepted")
    choices = {choice.key: choice for choice in offer_choices(rules, step)}
    errors = {}
    if offer not in choices:
        errors["offer"] = "choisissez un service dans la liste"
    text = (reason or "").strip()
    if len(text) < 3:
        errors["reason"] = "dites en quelques mots pourquoi le participant est orienté"
    if errors:
        raise InvalidInput(errors)
    choice = choices[offer]
    organisation = organisation_by_key(session=session, key=choice.organisation_key)
    settings = step.referral_settings
    answer_due_at = settings.answer.after(now)
    referral = Referral(
        pathway_run_id=run.id or 0,
        step_run_id=step_run_id,
        participant_id=participant.id or 0,
        organisation_id=organisation.id or 0,
        offer_key=choice.offer.key,
        reason=text[:2000],
        referred_by_id=actor.id or 0,
        referred_at=now,
        answer_due_at=answer_due_at,
        remind_at=max(now, settings.remind.before(answer_due_at)) if settings.remind else None,
        escalate_at=settings.escalate.after(answer_due_at) if settings.escalate else None,
    )
    session.add(referral)
    session.flush()
    event = events.record(
        session,
        run,
        kind=EventKind.REFERRAL,
        now=now,
        step_run_id=step_run_id,
        actor_id=actor.id,
        payload={"referral_id": referral.id, "offer": choice.key},
    )
    from crealux_core.services import routing  # who is told, in which words

    routing.queue_for_referral(
        session,
        rules=rules,
        event=routing.Event.REFERRAL_MADE,
        referral=referral,
        now=now,
        dashboard_url=dashboard_url,
    )
    session.commit()
    return after_commit(session, events.Recorded(event=event, current=step_run), orchestrator)


def _answerable(session: Session, referral_id: int, actor: User) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None or not may_see_referral(session, actor, referral):
        raise NotFound(f"no referral {referral_id}")
    if not may_answer(actor, referral):
        raise Forbidden(f"{actor.username} may not answer referral {referral_id}")
    if referral.status is not ReferralStatus.SENT:
        raise _already_answered(session, referral)
    step_run = get_row(session, StepRun, referral.step_run_id)
    if step_run.status is not StepStatus.OPEN:
        raise Conflict("the step of this referral is closed: nothing to answer")
    return referral


def _already_answered(session: Session, referral: Referral) -> AlreadyDone:
    """The refusal of a second answer (a second tab): what was answered, by whom and when."""
    who = session.get(User, referral.answered_by_id) if referral.answered_by_id else None
    when = (
        referral.answered_at.astimezone(LOCAL_TIME).strftime("%d/%m/%Y %H:%M")
        if referral.answered_at
        else None
    )
    word = {
        ReferralStatus.ACCEPTED: "acceptée",
        ReferralStatus.DECLINED: "refusée",
    }.get(referral.status, referral.status.value)
    by = f" par {who.display_name}" if who else ""
    return AlreadyDone(
        f"cette orientation a déjà été {word}{by} le {when or '?'}",
        decided_by=who.display_name if who else None,
        decided_at=when,
    )


def _claim_answer(
    session: Session, referral: Referral, status: ReferralStatus, now: dt.datetime, **values: Any
) -> None:
    """Move the referral out of SENT once: a second tab's answer finds it answered."""
    result = session.execute(
        update(Referral)
        .where(col(Referral.id) == referral.id, col(Referral.status) == ReferralStatus.SENT)
        .values(status=status, answered_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.rollback()
        session.refresh(referral)
        raise _already_answered(session, referral)
    session.refresh(referral)


def _start_moment(starts_on: dt.date) -> dt.datetime:
    """The start date, at nine in the morning in Brussels, as UTC."""
    return dt.datetime.combine(starts_on, dt.time(9), tzinfo=LOCAL_TIME).astimezone(dt.UTC)


def accept(
    *,
    session: Session,
    rules: Rules,
    referral_id: int,
    actor: User,
    starts_on: dt.date | None,
    note: str | None = None,
    now: dt.datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
) -> Submitted:
    """The partner takes the participant from `starts_on`: the step becomes its own."""
    referral = _answerable(session, referral_id, actor)
    today = local_today(now)
    if starts_on is None:
        raise InvalidInput({"starts_on": "indiquez la date de début"})
    if starts_on < referral.referred_at.astimezone(LOCAL_TIME).date():
        raise InvalidInput({"starts_on": "la date de début précède l'orientation"})
    if starts_on > today + LATEST_START:
        raise InvalidInput({"starts_on": "la date de début est à plus d'un an : vérifiez-la"})
    _claim_answer(
        session,
        referral,
        ReferralStatus.ACCEPTED,
        now,
        answered_by_id=actor.id,
        starts_on=starts_on,
    )
    step_run = get_row(session, StepRun, referral.step_run_id)
    run, step = _step_of(session, rules, step_run)
    times = step_times(
        step, max(now, _start_moment(starts_on)), events.answers_of(session, run.id or 0)
    )
    step_run.organisation_id = referral.organisation_id
    step_run.assignee_id = None
    step_run.due_at, step_run.remind_at = times.due_at, times.remind_at
    step_run.escalate_at, step_run.overdue_at = times.escalate_at, times.overdue_at
    step_run.reminded_at = step_run.escalated_at = None
    session.add(step_run)
    event = events.record(
        session,
        run,
        kind=EventKind.REFERRAL_ACCEPTED,
        now=now,
        step_run_id=step_run.id,
        actor_id=actor.id,
        payload={"referral_id": referral.id, "starts_on": starts_on.isoformat()},
        note=(note or "").strip() or None,
    )
    _tell_advisor(
        session, rules, referral, run, accepted=True, now=now, dashboard_url=dashboard_url
    )
    session.commit()
    return after_commit(session, events.Recorded(event=event, current=step_run), orchestrator)


def decline(
    *,
    session: Session,
    rules: Rules,
    referral_id: int,
    actor: User,
    reason: str,
    now: dt.datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
) -> Submitted:
    """The partner declines, with a reason: the step goes back to the advisor, who is told."""
    referral = _answerable(session, referral_id, actor)
    text = (reason or "").strip()
    if len(text) < 3:
        raise InvalidInput({"reason": "dites pourquoi l'orientation est refusée"})
    _claim_answer(
        session,
        referral,
        ReferralStatus.DECLINED,
        now,
        answered_by_id=actor.id,
        decline_reason=text[:2000],
    )
    step_run = get_row(session, StepRun, referral.step_run_id)
    run, _ = _step_of(session, rules, step_run)
    event = events.record(
        session,
        run,
        kind=EventKind.REFERRAL_DECLINED,
        now=now,
        step_run_id=step_run.id,
        actor_id=actor.id,
        payload={"referral_id": referral.id},
        note=text[:2000],
    )
    _tell_advisor(
        session, rules, referral, run, accepted=False, now=now, dashboard_url=dashboard_url
    )
    session.commit()
    return after_commit(session, events.Recorded(event=event, current=step_run), orchestrator)


def _offer_title(rules: Rules, organisation_key: str, offer_key: str) -> str:
    organisation = rules.organisations.get(organisation_key)
    offer = organisation.offers.get(offer_key) if organisation else None
    return offer.title if offer else offer_key


def _tell_advisor(
    session: Session,
    rules: Rules,
    referral: Referral,
    run: PathwayRun,
    *,
    accepted: bool,
    now: dt.datetime,
    dashboard_url: str,
) -> None:
    """Queue referral_answered (the participant's advisor by default, services/routing.py);
    `referral` holds the answer (`accepted` says the same)."""
    from crealux_core.services import routing  # who is told, in which words

    del run, accepted
    routing.queue_for_referral(
        session,
        rules=rules,
        event=routing.Event.REFERRAL_ANSWERED,
        referral=referral,
        now=now,
        dashboard_url=dashboard_url,
    )


# Who sees what


def may_see_referral(session: Session, user: User, referral: Referral) -> bool:
    """The coordinator; the participant's advisor; the partner it was sent to while open."""
    if not user.active:
        return False
    if user.role is Role.COORDINATOR:
        return True
    if user.role is Role.ADVISOR:
        participant = session.get(Participant, referral.participant_id)
        return participant is not None and (
            participant.advisor_id == user.id or referral.referred_by_id == user.id
        )
    if user.organisation_id != referral.organisation_id:
        return False
    step_run = session.get(StepRun, referral.step_run_id)
    return (
        referral.status in OPEN_REFERRAL_STATUSES
        and step_run is not None
        and step_run.status is StepStatus.OPEN
    )


def _shown_status(status: ReferralStatus, step_status: StepStatus | str) -> ReferralStatus:
    """A referral as it stands: once its step is closed (decided, skipped, or its pathway
    ended), an accepted referral is over and an unanswered one withdrawn. Derived from the
    step rather than written, so no closing path can forget it."""
    if StepStatus(step_status) is StepStatus.OPEN:
        return status
    if status is ReferralStatus.ACCEPTED:
        return ReferralStatus.CLOSED
    if status is ReferralStatus.SENT:
        return ReferralStatus.WITHDRAWN
    return status


def list_referrals(
    *,
    session: Session,
    rules: Rules,
    user: User,
    now: dt.datetime,
    status: ReferralStatus | None = None,
    participant_id: int | None = None,
    limit: int = 200,
) -> list[ReferralView]:
    """The referrals the user may see: a partner's (open ones to its organisation), an
    advisor's (their participants'), all for the coordinator; newest first."""
    query = (
        select(Referral, Participant, Organisation, StepRun.status)
        .join(Participant, col(Participant.id) == col(Referral.participant_id))
        .join(Organisation, col(Organisation.id) == col(Referral.organisation_id))
        .join(StepRun, col(StepRun.id) == col(Referral.step_run_id))
    )
    if not user.active:
        return []
    if user.role is Role.PARTNER:
        query = query.where(
            col(Referral.organisation_id) == user.organisation_id,
            col(Referral.status).in_(OPEN_REFERRAL_STATUSES),
            col(StepRun.status) == StepStatus.OPEN,
        )
    elif user.role is Role.ADVISOR:
        query = query.where(col(Participant.advisor_id) == user.id)
    if status in OPEN_REFERRAL_STATUSES:  # as shown: only while its step is open
        query = query.where(col(Referral.status) == status, col(StepRun.status) == StepStatus.OPEN)
    elif status is not None:
        query = query.where(col(Referral.status) == status)
    if participant_id is not None:
        query = query.where(col(Referral.participant_id) == participant_id)
    rows = session.exec(query.order_by(col(Referral.id).desc()).limit(limit)).all()
    return [
        ReferralView(
            id=referral.id or 0,
            step_run_id=referral.step_run_id,
            participant_id=participant.id or 0,
            reference=participant.reference,
            first_name=participant.first_name,
            organisation_key=organisation.key,
            organisation_name=organisation.name,
            offer_key=referral.offer_key,
            offer_title=_offer_title(rules, organisation.key, referral.offer_key),
            reason=referral.reason,
            status=_shown_status(referral.status, step_status),
            step_open=step_status is StepStatus.OPEN,
            referred_at=referral.referred_at,
            answer_due_at=referral.answer_due_at,
            starts_on=referral.starts_on,
            decline_reason=referral.decline_reason,
            answered_at=referral.answered_at,
            overdue=(
                _shown_status(referral.status, step_status) is ReferralStatus.SENT
                and referral.answer_due_at < now
            ),
        )
        for referral, participant, organisation, step_status in rows
    ]


# Deadlines


@dataclass
class ReferralsSwept:
    reminded: int = 0
    escalated: int = 0


def _claim(session: Session, due_name: str, done_name: str, now: dt.datetime) -> list[int]:
    """Mark the sent referrals on open steps whose time has come; return their ids, once."""
    due, done = getattr(Referral, due_name), getattr(Referral, done_name)
    waiting = and_(
        col(Referral.status) == ReferralStatus.SENT,
        col(due) <= now,
        col(done).is_(None),
        col(Referral.step_run_id).in_(select(StepRun.id).where(StepRun.status == StepStatus.OPEN)),
    )
    result = session.execute(
        update(Referral)
        .where(waiting)
        .values({done_name: now})
        .returning(col(Referral.id))
        .execution_options(synchronize_session=False)
    )
    return [row[0] for row in result.all()]


def sweep_referrals(
    *, session: Session, rules: Rules, now: dt.datetime, dashboard_url: str
) -> ReferralsSwept:
    """Remind partners of referrals they have not answered, and tell the coordination (and the
    advisor) once the answer is overdue; each exactly once, in one transaction per kind.
    Who is told: referral_unanswered's stages in services/routing.py."""
    from crealux_core.services import routing  # who is told, in which words

    swept = ReferralsSwept()
    for kind, due, done in (
        ("reminder", "remind_at", "reminded_at"),
        ("escalation", "escalate_at", "escalated_at"),
    ):
        ids = _claim(session, due, done, now)
        for referral_id in ids:
            routing.queue_for_referral(
                session,
                rules=rules,
                event=routing.Event.REFERRAL_UNANSWERED,
                stage=routing.Stage(kind),
                referral=get_row(session, Referral, referral_id),
                now=now,
                dashboard_url=dashboard_url,
            )
            if kind == "reminder":
                swept.reminded += 1
            else:
                swept.escalated += 1
        session.commit()
    return swept


@dataclass(frozen=True)
class ToRefer:
    """An open referral step with no referral waiting or accepted: the advisor chooses."""

    step_run_id: int
    participant_id: int
    reference: str
    first_name: str
    step_title: str
    due_at: dt.datetime | None
    choices: list[OfferChoice]
    declined: list[str]  # why earlier referrals of this step were declined, oldest first


def _referral_step_keys(rules: Rules) -> set[str]:
    return {
        step.key
        for by_version in rules.versions.values()
        for pathway in by_version.values()
        for step in (*pathway.steps.values(), *pathway.optional.values())
        if step.assign == "referral"
    }


def steps_to_refer(*, session: Session, rules: Rules, user: User) -> list[ToRefer]:
    """The open referral steps `user` may send to a partner (their participants', or all for
    the coordinator) that have no referral waiting or accepted, oldest first."""
    keys = _referral_step_keys(rules)
    if not keys or user.role not in (Role.ADVISOR, Role.COORDINATOR) or not user.active:
        return []
    query = (
        select(StepRun, Participant)
        .join(PathwayRun, col(PathwayRun.id) == col(StepRun.pathway_run_id))
        .join(Participant, col(Participant.id) == col(PathwayRun.participant_id))
        .where(col(StepRun.status) == StepStatus.OPEN, col(StepRun.step_key).in_(keys))
        .where(
            ~select(Referral.id)
            .where(
                col(Referral.step_run_id) == col(StepRun.id),
                col(Referral.status).in_(OPEN_REFERRAL_STATUSES),
            )
            .exists()
        )
        .order_by(col(StepRun.id))
    )
    scope = policy.participant_scope(user)
    if scope is not None:
        query = query.where(scope)
    found = []
    for step_run, participant in session.exec(query).all():
        _, step = _step_of(session, rules, step_run)
        if step.assign != "referral":
            continue
        declined = session.exec(
            select(Referral.decline_reason)
            .where(
                Referral.step_run_id == step_run.id,
                Referral.status == ReferralStatus.DECLINED,
            )
            .order_by(col(Referral.id))
        ).all()
        found.append(
            ToRefer(
                step_run_id=step_run.id or 0,
                participant_id=participant.id or 0,
                reference=participant.reference,
                first_name=participant.first_name,
                step_title=step.title,
                due_at=step_run.due_at,
                choices=offer_choices(rules, step),
                declined=[reason or "" for reason in declined],
            )
        )
    return found
