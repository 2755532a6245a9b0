"""Routed notifications: resolve an event's recipients (rules/notifications.yaml, else the
built-in routes below) and make one outbox row (`Notification`) per recipient, in the
caller's transaction. See docs/notifications-routing.md.

Each message is made from its template (`domain.templates`) with a context built here for its
recipient alone: the participant's reference and first name, the step's title and dates, the
referral's offer and partner, links; never the last name, an answer or a note. Without
rules/notifications.yaml (or for an event the file leaves out) the built-in route sends the
built-in words of `domain.messages`, as before routes existed.

Each message's key (`event_key`, unique) is the recipient's prefix and the id of what it is
about; the routes the programme always had keep their keys (`step-opened:12`,
`escalation:12`...), so a message queued before an upgrade is never queued again.

A message to the participant goes through the mail server of their advisor's organisation to
the participant's e-mail address, read when it is sent (the outbox row holds no address): it
is marked with `channel_tag` PARTICIPANT_CHANNEL. It is queued only where the participant
consented (first reception's `consent_given`) and has an address.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from crealux_core.domain import messages
from crealux_core.domain import templates as rendering
from crealux_core.models import (
    EventKind,
    Notification,
    Organisation,
    Participant,
    PathwayEvent,
    PathwayRun,
    Referral,
    ReferralStatus,
    StepRun,
    User,
)
from crealux_core.rules.notifications import (
    NotificationEvent,
    NotificationsSpec,
    RecipientKind,
    RecipientSpec,
    Stage,
)
from crealux_core.rules.specs import OrganisationKind, Rules, StepSpec
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import Conflict

log = logging.getLogger(__name__)

PARTICIPANT_CHANNEL = "@participant"  # channel_tag of a message to the participant's address
CONSENT_STEP, CONSENT_FIELD = "first_reception", "consent_given"

Event = NotificationEvent
Kind = RecipientKind
__all__ = ["PARTICIPANT_CHANNEL", "Event", "Kind", "Stage", "Subject", "notifications_for"]


def _to(kind: Kind, template: str, stage: Stage | None = None) -> RecipientSpec:
    return RecipientSpec(recipient=kind, template=template, stage=stage)


# The routes the programme had before rules/notifications.yaml (the shipped file says the same).
BUILT_IN: dict[Event, tuple[RecipientSpec, ...]] = {
    Event.STEP_OPENED: (_to(Kind.ORGANISATION, "step_opened"),),
    Event.CHECKPOINT_DUE: (_to(Kind.ORGANISATION, "checkpoint_due"),),
    Event.STEP_DUE_SOON: (_to(Kind.STEP_OWNER, "step_reminder"),),
    Event.STEP_OVERDUE: (
        _to(Kind.COORDINATOR, "step_escalated"),
        _to(Kind.STEP_ASSIGNEE, "step_overdue"),
    ),
    Event.REFERRAL_MADE: (_to(Kind.ORGANISATION, "referral_made"),),
    Event.REFERRAL_UNANSWERED: (
        _to(Kind.ORGANISATION, "referral_reminder", Stage.REMINDER),
        _to(Kind.COORDINATOR, "referral_unanswered", Stage.ESCALATION),
        _to(Kind.PARTICIPANT_ADVISOR, "referral_unanswered", Stage.ESCALATION),
    ),
    Event.REFERRAL_ANSWERED: (_to(Kind.PARTICIPANT_ADVISOR, "referral_answered"),),
    Event.SESSION_FULL: (_to(Kind.COORDINATOR, "session_full"),),
    Event.PATHWAY_ENDED: (_to(Kind.PARTICIPANT_ADVISOR, "pathway_ended"),),
}

# The keys messages had before routes: (event, stage, recipient) -> prefix.
KEYS: dict[tuple[Event, Stage | None, Kind], str] = {
    (Event.STEP_OPENED, None, Kind.ORGANISATION): "step-opened",
    (Event.CHECKPOINT_DUE, None, Kind.ORGANISATION): "step-opened",
    (Event.STEP_DUE_SOON, None, Kind.STEP_OWNER): "reminder",
    (Event.STEP_OVERDUE, None, Kind.COORDINATOR): "escalation",
    (Event.STEP_OVERDUE, None, Kind.STEP_ASSIGNEE): "overdue",
    (Event.REFERRAL_MADE, None, Kind.ORGANISATION): "referral-made",
    (Event.REFERRAL_UNANSWERED, Stage.REMINDER, Kind.ORGANISATION): "referral-reminder",
    (Event.REFERRAL_UNANSWERED, Stage.ESCALATION, Kind.COORDINATOR): "referral-unanswered",
    (
        Event.REFERRAL_UNANSWERED,
        Stage.ESCALATION,
        Kind.PARTICIPANT_ADVISOR,
    ): "referral-unanswered-advisor",
    (Event.REFERRAL_ANSWERED, None, Kind.PARTICIPANT_ADVISOR): "referral-answered",
    (Event.SESSION_FULL, None, Kind.COORDINATOR): "training-session-full",
    (Event.PATHWAY_ENDED, None, Kind.PARTICIPANT_ADVISOR): "pathway-ended",
}


def key_prefix(event: Event, recipient: RecipientSpec) -> str:
    """Return the prefix of a recipient's message keys (the old key where there was one)."""
    known = KEYS.get((event, recipient.stage, recipient.recipient))
    if known and recipient.tag is None:
        return known
    parts = [event.value, recipient.stage.value if recipient.stage else "", recipient.recipient]
    parts.append(recipient.tag or "")
    return "-".join(part.replace("_", "-") for part in parts if part)


@dataclass(frozen=True)
class ReferralFacts:
    offer_title: str
    organisation_name: str
    answer_due_at: datetime
    accepted: bool = False
    starts_on: date | None = None
    decline_reason: str | None = None


@dataclass(frozen=True)
class SessionFacts:
    """A training session, as its messages say it (dates already written out)."""

    module_title: str
    organisation_name: str
    starts_on: str
    ends_on: str
    place: str
    capacity: str
    link: str


@dataclass(frozen=True)
class Subject:
    """What an event's messages are about: read by the caller, in its transaction."""

    event: Event
    ident: int  # the id the keys carry: a step run's, a referral's, a pathway run's...
    organisation_id: int  # the step's, the referral's or the training session's
    pathway_run_id: int | None = None
    participant: Participant | None = None
    step: StepSpec | None = None
    step_run: StepRun | None = None
    assignee: User | None = None  # the step's assignee when the caller has read it
    referral: ReferralFacts | None = None
    end_reason: str | None = None
    session_facts: SessionFacts | None = None
    stage: Stage | None = None
    fallback: messages.Message | None = None  # the built-in words when there are none here


@dataclass(frozen=True)
class Target:
    """Where one message goes."""

    kind: Kind
    organisation_id: int
    user_id: int | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One message to queue: an outbox row's values (a plain object: the deadline sweep makes
    thousands and inserts them at once)."""

    event_key: str
    organisation_id: int
    recipient_user_id: int | None
    pathway_run_id: int | None
    title: str
    body: str
    html: str | None
    link: str | None
    created_at: datetime
    channel_tag: str | None

    def row(self) -> Notification:
        return Notification(**self.values())

    def values(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Lookups:
    """Rows read once per call (an escalation pass reads many steps)."""

    session: Session
    coordinator_id: int | None = None
    coordinator_read: bool = False
    keys: dict[int, str] = field(default_factory=dict)

    def coordinator(self, rules: Rules | None) -> int | None:
        if not self.coordinator_read and rules is not None:
            self.coordinator_read = True
            for key, spec in rules.organisations.items():
                if spec.kind is OrganisationKind.COORDINATOR:
                    found = self.session.exec(
                        select(Organisation.id).where(Organisation.key == key)
                    ).first()
                    self.coordinator_id = found
                    break
        return self.coordinator_id

    def organisation_key(self, organisation_id: int) -> str | None:
        if organisation_id not in self.keys:
            row = self.session.get(Organisation, organisation_id)
            self.keys[organisation_id] = row.key if row else ""
        return self.keys[organisation_id] or None


def consented(session: Session, pathway_run_id: int) -> bool:
    """Tell whether the participant consented at first reception (its latest answer)."""
    event = session.exec(
        select(PathwayEvent)
        .join(StepRun, col(PathwayEvent.step_run_id) == col(StepRun.id))
        .where(
            PathwayEvent.pathway_run_id == pathway_run_id,
            StepRun.step_key == CONSENT_STEP,
            col(PathwayEvent.kind).in_([EventKind.DECISION, EventKind.CORRECTION]),
        )
        .order_by(col(PathwayEvent.id).desc())
    ).first()
    if event is None:
        return False
    answers = (
        event.payload.get("outcome", {}) if event.kind is EventKind.CORRECTION else event.payload
    )
    return answers.get(CONSENT_FIELD) is True


def _resolve(
    session: Session,
    lookups: _Lookups,
    rules: Rules | None,
    subject: Subject,
    recipient: RecipientSpec,
) -> Target | None:
    """Return where a recipient's message goes, or None when there is nobody to tell."""
    kind, participant, step_run = recipient.recipient, subject.participant, subject.step_run
    assignee_id = step_run.assignee_id if step_run is not None else None
    if kind is Kind.ORGANISATION:
        return Target(kind, subject.organisation_id, tag=recipient.tag)
    if kind is Kind.COORDINATOR:
        return Target(kind, lookups.coordinator(rules) or subject.organisation_id)
    if kind in (Kind.STEP_OWNER, Kind.STEP_ASSIGNEE) and assignee_id is not None:
        user = subject.assignee if subject.assignee is not None else session.get(User, assignee_id)
        if user is not None:
            return Target(kind, user.organisation_id, user.id)
    if kind is Kind.STEP_OWNER:
        return Target(kind, subject.organisation_id)
    if participant is None:
        return None
    advisor = session.get(User, participant.advisor_id)
    if advisor is None:
        return None
    if kind is Kind.PARTICIPANT_ADVISOR:
        return Target(kind, advisor.organisation_id, advisor.id)
    if kind is Kind.PARTICIPANT:
        if not participant.email or subject.pathway_run_id is None:
            return None
        if not consented(session, subject.pathway_run_id):
            return None
        return Target(kind, advisor.organisation_id, tag=PARTICIPANT_CHANNEL)
    return None


def _day(moment: datetime | date | None) -> str:
    return moment.strftime("%d/%m/%Y") if moment else "-"


def _link(subject: Subject, dashboard_url: str) -> str:
    event = subject.event
    if subject.session_facts is not None:
        return subject.session_facts.link
    if event in (Event.REFERRAL_MADE, Event.REFERRAL_UNANSWERED):
        return messages.referrals_link(dashboard_url)
    if event is Event.PATHWAY_ENDED and subject.participant is not None:
        return messages.participant_link(dashboard_url, subject.participant.id or 0)
    return messages.step_link(dashboard_url, subject.step_run.id if subject.step_run else None)


def context_for(
    subject: Subject, kind: Kind, *, dashboard_url: str, now: datetime
) -> dict[str, Any]:
    """Return what a template for `kind` sees of `subject`: plain strings, nothing more."""
    parts = rendering.PARTS[subject.event]
    context: dict[str, Any] = {
        "link": _link(subject, dashboard_url),
        "dashboard_url": dashboard_url,
    }
    participant = subject.participant
    if "participant" in parts and participant is not None:
        context["participant"] = {
            "reference": participant.reference,
            "first_name": participant.first_name,
        }
    if "step" in parts and subject.step is not None:
        context["step"] = {
            "key": subject.step.key,
            "title": subject.step.title,
            "due_on": _day(subject.step_run.due_at if subject.step_run else None),
        }
    if "referral" in parts and subject.referral is not None:
        referral = subject.referral
        context["referral"] = {
            "offer_title": referral.offer_title,
            "organisation_name": referral.organisation_name,
            "answer_due_on": _day(referral.answer_due_at),
            "accepted": referral.accepted,
            "starts_on": _day(referral.starts_on),
            "decline_reason": referral.decline_reason or "-",
        }
    if "pathway" in parts:
        context["pathway"] = {"end_reason": subject.end_reason or "-", "ended_on": _day(now)}
    if "training_session" in parts and subject.session_facts is not None:
        facts = subject.session_facts
        context["training_session"] = {
            "module_title": facts.module_title,
            "organisation_name": facts.organisation_name,
            "starts_on": facts.starts_on,
            "ends_on": facts.ends_on,
            "place": facts.place,
            "capacity": facts.capacity,
        }
    return rendering.visible(context, kind)


Compose = Callable[[Subject, str, datetime], messages.Message]


def _step_words(compose: Callable[..., messages.Message]) -> Compose:
    def words(subject: Subject, dashboard_url: str, now: datetime) -> messages.Message:
        assert subject.step is not None and subject.participant is not None
        step_run = subject.step_run
        return compose(
            step=subject.step,
            participant_reference=subject.participant.reference,
            due_at=step_run.due_at if step_run else None,
            dashboard_url=dashboard_url,
            step_run_id=step_run.id if step_run else None,
        )

    return words


def _referral_words(compose: Callable[..., messages.Message]) -> Compose:
    def words(subject: Subject, dashboard_url: str, now: datetime) -> messages.Message:
        assert subject.referral is not None and subject.participant is not None
        return compose(
            participant_reference=subject.participant.reference,
            offer_title=subject.referral.offer_title,
            organisation_name=subject.referral.organisation_name,
            answer_due_at=subject.referral.answer_due_at,
            dashboard_url=dashboard_url,
        )

    return words


def _answered_words(subject: Subject, dashboard_url: str, now: datetime) -> messages.Message:
    referral, participant = subject.referral, subject.participant
    assert referral is not None and participant is not None
    return messages.referral_answered(
        participant_reference=participant.reference,
        offer_title=referral.offer_title,
        organisation_name=referral.organisation_name,
        accepted=referral.accepted,
        starts_on=referral.starts_on.strftime("%d/%m/%Y") if referral.starts_on else None,
        reason=referral.decline_reason,
        dashboard_url=dashboard_url,
        step_run_id=subject.step_run.id if subject.step_run else None,
    )


def _ended_words(subject: Subject, dashboard_url: str, now: datetime) -> messages.Message:
    participant = subject.participant
    assert participant is not None
    return messages.pathway_ended(
        participant_reference=participant.reference,
        reason=subject.end_reason or "-",
        ended_at=now,
        dashboard_url=dashboard_url,
        participant_id=participant.id or 0,
    )


# The built-in words of each shipped template (domain.messages).
BUILT_IN_WORDS: dict[str, Compose] = {
    "step_opened": _step_words(messages.step_opened),
    "checkpoint_due": _step_words(messages.step_opened),
    "step_reminder": _step_words(messages.step_reminder),
    "step_escalated": _step_words(messages.step_escalated),
    "step_overdue": _step_words(messages.step_overdue),
    "referral_made": _referral_words(messages.referral_made),
    "referral_reminder": _referral_words(messages.referral_reminder),
    "referral_unanswered": _referral_words(messages.referral_unanswered),
    "referral_answered": _answered_words,
}
BUILT_IN_WORDS["pathway_ended"] = _ended_words


def _built_in(
    subject: Subject, template: str, dashboard_url: str, now: datetime
) -> messages.Message:
    if subject.fallback is not None:
        return subject.fallback
    return BUILT_IN_WORDS[template](subject, dashboard_url, now)


def _words(
    spec: NotificationsSpec | None,
    subject: Subject,
    recipient: RecipientSpec,
    organisation_key: str | None,
    *,
    dashboard_url: str,
    now: datetime,
) -> messages.Message:
    if spec is None:
        return _built_in(subject, recipient.template, dashboard_url, now)
    language = spec.language_for(recipient, organisation_key)
    try:
        template = spec.template(recipient.template, language)
        context = context_for(subject, recipient.recipient, dashboard_url=dashboard_url, now=now)
        return rendering.render(text=template.text, html=template.html, context=context)
    except (KeyError, rendering.TemplateProblem) as error:  # checked at load: never lose it
        log.warning("template %s failed (%s): built-in words sent", recipient.template, error)
        return _built_in(subject, recipient.template, dashboard_url, now)


def notifications_for(
    session: Session,
    *,
    rules: Rules | None,
    subject: Subject,
    now: datetime,
    dashboard_url: str,
    lookups: _Lookups | None = None,
) -> list[Outgoing]:
    """Return one message per recipient of `subject`'s event (not queued yet)."""
    lookups = lookups or _Lookups(session)
    spec = rules.notifications if rules is not None else None
    route = spec.route(subject.event) if spec is not None else None
    recipients = route.to if route is not None else BUILT_IN[subject.event]
    words_spec = spec if route is not None else None  # a built-in route speaks built-in words
    rows: list[Outgoing] = []
    seen: set[Target] = set()
    for recipient in recipients:
        if recipient.stage != subject.stage:
            continue
        target = _resolve(session, lookups, rules, subject, recipient)
        if target is None or target in seen:
            continue
        seen.add(target)
        if words_spec is None and recipient.template not in BUILT_IN_WORDS and not subject.fallback:
            continue
        message = _words(
            words_spec,
            subject,
            recipient,
            lookups.organisation_key(target.organisation_id),
            dashboard_url=dashboard_url,
            now=now,
        )
        tag = target.tag
        if tag is not None and tag != PARTICIPANT_CHANNEL and rules is not None:
            tag = _carried(rules, lookups.organisation_key(target.organisation_id), tag)
        rows.append(
            Outgoing(
                event_key=f"{key_prefix(subject.event, recipient)}:{subject.ident}",
                organisation_id=target.organisation_id,
                recipient_user_id=target.user_id,
                pathway_run_id=subject.pathway_run_id,
                title=message.title,
                body=message.body,
                html=message.html or None,
                link=message.link,
                created_at=now,
                channel_tag=tag,
            )
        )
    return rows


def _carried(rules: Rules, organisation_key: str | None, tag: str) -> str | None:
    """The tag, when one of the organisation's channels carries it; else None (all of its
    channels: an organisation without a channel of that tag is still told)."""
    spec = rules.organisations.get(organisation_key or "")
    if spec is not None and any(tag in channel.tags for channel in spec.notify):
        return tag
    return None


def queue(session: Session, rows: Iterable[Outgoing], *, once: bool = False) -> int:
    """Add the messages' outbox rows to the session; with `once`, leave out the keys already
    queued."""
    rows = list(rows)
    if once and rows:
        taken = set(
            session.exec(
                select(Notification.event_key).where(
                    col(Notification.event_key).in_([row.event_key for row in rows])
                )
            ).all()
        )
        rows = [row for row in rows if row.event_key not in taken]
    session.add_all([row.row() for row in rows])
    return len(rows)


# What each caller queues


def opened_event(rules: Rules | None, step: StepSpec) -> Event:
    """A checkpoint step (checkpoint_due's `steps:`) opening is checkpoint_due."""
    spec = rules.notifications if rules is not None else None
    if spec is not None and step.key in spec.checkpoint_steps():
        return Event.CHECKPOINT_DUE
    return Event.STEP_OPENED


def queue_step_opened(
    session: Session,
    *,
    rules: Rules | None,
    participant: Participant,
    pathway_run_id: int,
    step_run: StepRun,
    step: StepSpec,
    now: datetime,
    dashboard_url: str,
) -> None:
    """Queue what an opening step tells (step_opened, or checkpoint_due)."""
    subject = Subject(
        event=opened_event(rules, step),
        ident=step_run.id or 0,
        organisation_id=step_run.organisation_id,
        pathway_run_id=pathway_run_id,
        participant=participant,
        step=step,
        step_run=step_run,
    )
    queue(
        session,
        notifications_for(
            session, rules=rules, subject=subject, now=now, dashboard_url=dashboard_url
        ),
    )


def step_deadline_rows(
    session: Session,
    *,
    rules: Rules | None,
    kind: str,
    participant: Participant,
    pathway_run_id: int,
    step_run: StepRun,
    step: StepSpec,
    assignee: User | None,
    now: datetime,
    dashboard_url: str,
    lookups: _Lookups | None = None,
) -> list[Outgoing]:
    """Return the messages of a claimed reminder (`kind` "reminder") or escalation."""
    subject = Subject(
        event=Event.STEP_DUE_SOON if kind == "reminder" else Event.STEP_OVERDUE,
        ident=step_run.id or 0,
        organisation_id=step_run.organisation_id,
        pathway_run_id=pathway_run_id,
        participant=participant,
        step=step,
        step_run=step_run,
        assignee=assignee,
    )
    return notifications_for(
        session, rules=rules, subject=subject, now=now, dashboard_url=dashboard_url, lookups=lookups
    )


def lookups(session: Session, coordinator_id: int | None = None) -> _Lookups:
    """Return a reader of the rows routing needs, kept across many subjects."""
    found = _Lookups(session)
    if coordinator_id is not None:
        found.coordinator_id, found.coordinator_read = coordinator_id, True
    return found


def queue_referral(
    session: Session,
    *,
    rules: Rules | None,
    event: Event,
    stage: Stage | None = None,
    referral_id: int,
    organisation_id: int,
    pathway_run_id: int,
    participant: Participant,
    step_run: StepRun | None,
    step: StepSpec | None,
    facts: ReferralFacts,
    now: datetime,
    dashboard_url: str,
) -> int:
    """Queue what a referral tells (made, unanswered at a stage, answered); return how many."""
    subject = Subject(
        event=event,
        ident=referral_id,
        organisation_id=organisation_id,
        pathway_run_id=pathway_run_id,
        participant=participant,
        step=step,
        step_run=step_run,
        referral=facts,
        stage=stage,
    )
    return queue(
        session,
        notifications_for(
            session, rules=rules, subject=subject, now=now, dashboard_url=dashboard_url
        ),
    )


def queue_for_referral(
    session: Session,
    *,
    rules: Rules,
    event: Event,
    referral: Referral,
    now: datetime,
    dashboard_url: str,
    stage: Stage | None = None,
) -> int:
    """Queue what a referral tells, reading what its messages need (for services/referrals)."""
    participant = session.get(Participant, referral.participant_id)
    organisation = session.get(Organisation, referral.organisation_id)
    run = session.get(PathwayRun, referral.pathway_run_id)
    step_run = session.get(StepRun, referral.step_run_id)
    if participant is None or organisation is None or run is None:
        return 0
    spec = rules.organisations.get(organisation.key)
    offer = spec.offers.get(referral.offer_key) if spec else None
    step = None
    if step_run is not None:
        try:
            step = definition_of(session=session, rules=rules, run=run).step(step_run.step_key)
        except (Conflict, KeyError):
            step = None
    return queue_referral(
        session,
        rules=rules,
        event=event,
        stage=stage,
        referral_id=referral.id or 0,
        organisation_id=organisation.id or 0,
        pathway_run_id=run.id or 0,
        participant=participant,
        step_run=step_run,
        step=step,
        facts=ReferralFacts(
            offer_title=offer.title if offer else referral.offer_key,
            organisation_name=organisation.name,
            answer_due_at=referral.answer_due_at,
            accepted=referral.status is ReferralStatus.ACCEPTED,
            starts_on=referral.starts_on,
            decline_reason=referral.decline_reason,
        ),
        now=now,
        dashboard_url=dashboard_url,
    )


def queue_pathway_ended(
    session: Session,
    *,
    rules: Rules | None,
    participant: Participant,
    pathway_run_id: int,
    reason: str,
    now: datetime,
    dashboard_url: str,
) -> int:
    """Queue what an ended pathway tells (once: a key already queued is left)."""
    advisor = session.get(User, participant.advisor_id)
    subject = Subject(
        event=Event.PATHWAY_ENDED,
        ident=pathway_run_id,
        organisation_id=advisor.organisation_id if advisor else 0,
        pathway_run_id=pathway_run_id,
        participant=participant,
        end_reason=reason,
    )
    rows = notifications_for(
        session, rules=rules, subject=subject, now=now, dashboard_url=dashboard_url
    )
    return queue(session, rows, once=True)


def queue_session_full(
    session: Session,
    *,
    rules: Rules | None,
    ident: int,
    organisation_id: int,
    facts: SessionFacts,
    fallback: messages.Message,
    now: datetime,
    dashboard_url: str,
) -> int:
    """Queue what a full training session tells (for services/training.py): `ident` the
    enrolment that took the last place (the key), `organisation_id` the organisation giving
    the session, `fallback` the words sent without a route of session_full in the rules."""
    subject = Subject(
        event=Event.SESSION_FULL,
        ident=ident,
        organisation_id=organisation_id,
        session_facts=facts,
        fallback=fallback,
    )
    rows = notifications_for(
        session, rules=rules, subject=subject, now=now, dashboard_url=dashboard_url
    )
    return queue(session, rows, once=True)
