"""Send queued notifications. Each row is claimed with a compare-and-set update first, so two
processes never send the same message; a crashed claim is taken back after CLAIM_TIMEOUT.

A message goes to an organisation's channels (its Apprise URLs in rules/organisations.yaml), or
to a person (`recipient_user_id`): to their e-mail address, through the mail server of their
organisation's first `mailto://` URL (its host, port, login and sender, with `to=` replaced);
when they have no address, or their organisation no `mailto://` URL, to their organisation's
channels instead, which `detail` says.

Each channel is sent to on its own and what it answered is recorded (`NotificationDelivery`,
one row per channel and attempt, committed right after the send). A message is sent when every
channel took it, partial when some did, failed when none did. A temporary failure (a server
down, a time-out, an SMTP 4xx, an HTTP 5xx) is tried again after BACKOFF, on the channels that
did not take it only, up to MAX_ATTEMPTS attempts; a permanent one (Apprise refuses the URL,
an SMTP 5xx, an HTTP 4xx, no channel at all, an organisation no longer in the rules) is never
tried again and disables its channel (`NotificationChannel`), which later messages skip, saying
why, until the coordinator enables it again (services/deliveries.py).

Exactly once: the claim makes one dispatcher the sender of an attempt; before each channel
after the first it checks the claim is still its own, and a channel recorded as having taken
the message is never sent to again. The one window left: a dispatcher that dies after a
channel took the message and before its row is committed; the claim is taken back after
CLAIM_TIMEOUT and that channel gets the message a second time.

An organisation with `digest: true` (a shared inbox) gets its messages once a day: they stay
pending until the day's digest time, then one digest message lists them and, once it is sent,
they are marked sent with it (see `dispatch_digests`). A person with `digest: true` (User) gets
the messages addressed to them the same way, in a digest of their own.

A message with a `channel_tag` goes to its organisation's channels carrying that tag only (all
of them when none does any more); one tagged PARTICIPANT_CHANNEL goes to the participant of its
pathway, at their e-mail address read now, through the organisation's mail server
(docs/notifications-routing.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from sqlalchemy import and_, not_, or_, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from crealux_core.domain import messages
from crealux_core.domain.channels import ChannelResult, channel_id, mask_url, scheme_of
from crealux_core.models import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationStatus,
    Organisation,
    Participant,
    PathwayRun,
    User,
)
from crealux_core.rules.specs import OrganisationSpec, Rules
from crealux_core.services.routing import PARTICIPANT_CHANNEL

log = logging.getLogger(__name__)

# After the n-th failed attempt, the next one comes BACKOFF[n - 1] later.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
CLAIM_TIMEOUT = timedelta(minutes=5)
MAIL_SCHEMES = ("mailto", "mailtos")
NO_CHANNEL = "-"  # the channel of a message that has none to go to
NO_CHANNEL_LABEL = "(aucun canal)"


class ChannelNotifier(Protocol):
    def send_channel(
        self, *, url: str, title: str, body: str, html: str | None = None
    ) -> ChannelResult:
        """Send a message to one Apprise URL: the HTML to an e-mail address (when given), the
        plain text to other channels; say what it answered."""
        ...


def _claimable(now: datetime) -> ColumnElement[bool]:
    status = col(Notification.status)
    return or_(
        status == NotificationStatus.PENDING,
        and_(
            status.in_((NotificationStatus.FAILED, NotificationStatus.PARTIAL)),
            col(Notification.next_attempt_at) <= now,
            col(Notification.attempts) < MAX_ATTEMPTS,
        ),
        and_(
            status == NotificationStatus.SENDING,
            col(Notification.claimed_at) < now - CLAIM_TIMEOUT,
        ),
    )


def _claim(session: Session, notification_id: int, now: datetime) -> bool:
    result = session.execute(
        update(Notification)
        .where(col(Notification.id) == notification_id, _claimable(now))
        .values(
            status=NotificationStatus.SENDING,
            claimed_at=now,
            attempts=col(Notification.attempts) + 1,
        )
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0) == 1)


def _still_mine(session: Session, notification_id: int, attempt: int) -> bool:
    """Tell whether this attempt's claim holds (nobody took it back after a time-out)."""
    row = session.execute(
        select(Notification.status, Notification.attempts).where(Notification.id == notification_id)
    ).one_or_none()
    return row is not None and row[0] == NotificationStatus.SENDING and row[1] == attempt


def _digest_organisation_ids(session: Session, rules: Rules) -> list[int]:
    keys = [key for key, spec in rules.organisations.items() if spec.digest]
    if not keys:
        return []
    query = select(Organisation.id).where(col(Organisation.key).in_(keys))
    return [ident for ident in session.exec(query).all() if ident is not None]


def _digest_user_ids(session: Session) -> list[int]:
    """The people who asked for a daily digest of their messages."""
    query = select(User.id).where(col(User.digest).is_(True), col(User.active).is_(True))
    return [ident for ident in session.exec(query).all() if ident is not None]


def _sent_one_by_one(
    digest_organisation_ids: Sequence[int], digest_user_ids: Sequence[int] = ()
) -> ColumnElement[bool]:
    """Messages sent on their own: not a digest, not carried by one, not to an organisation
    that asks for a digest, and not to a person who asks for one."""
    held = and_(
        col(Notification.recipient_user_id).is_(None),
        col(Notification.organisation_id).in_(digest_organisation_ids),
    )
    return and_(
        col(Notification.is_digest).is_(False),
        col(Notification.digest_id).is_(None),
        not_(held) if digest_organisation_ids else true(),
        or_(
            col(Notification.recipient_user_id).is_(None),
            col(Notification.recipient_user_id).not_in(digest_user_ids),
        )
        if digest_user_ids
        else true(),
    )


def personal_mail_url(urls: Sequence[str], address: str) -> str | None:
    """Return an Apprise mailto URL to `address` through the mail server of the first
    mailto(s):// URL among `urls` (same host, port, login and sender), or None."""
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in MAIL_SCHEMES:
            continue
        query = [
            (name, value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name not in ("to", "cc", "bcc")
        ]
        query.append(("to", address))
        return urlunsplit((parts.scheme, parts.netloc, "", urlencode(query), ""))
    return None


@dataclass(frozen=True)
class Route:
    """Where a message goes: its organisation's key, the URLs of its channels (one person's
    e-mail alone, for a message to them), a word on where it went, and, when it cannot go
    anywhere, why (`problem`, permanent)."""

    organisation_key: str
    urls: tuple[str, ...]
    where: str
    problem: str | None = None


def _route(
    session: Session, rules: Rules, notification: Notification, keys: dict[int, str]
) -> Route:
    organisation_id = notification.organisation_id
    user = (
        session.get(User, notification.recipient_user_id)
        if notification.recipient_user_id is not None
        else None
    )
    if user is not None:
        organisation_id = user.organisation_id
    key = keys.get(organisation_id, "?")
    spec = rules.organisations.get(key)
    if spec is None:
        problem = "organisation absente des règles"
        return Route(key, (), f"organisation {key}: no longer in the rules", problem)
    if not spec.urls:
        return Route(key, (), f"organisation {key}", "aucun canal configuré")
    if notification.channel_tag == PARTICIPANT_CHANNEL:
        return _participant_route(session, key, spec, notification)
    if user is None and notification.channel_tag:
        tagged = tuple(c.url for c in spec.notify if notification.channel_tag in c.tags)
        if tagged:
            return Route(key, tagged, f"organisation {key}, tag {notification.channel_tag}")
        where = f"organisation {key}: no channel tagged {notification.channel_tag} any more"
        return Route(key, spec.urls, where)
    if user is None:
        return Route(key, spec.urls, f"organisation {key}")
    if not user.email:
        return Route(key, spec.urls, f"organisation {key}: {user.username} has no e-mail address")
    url = personal_mail_url(spec.urls, user.email)
    if url is None:
        where = f"organisation {key}: it has no mailto:// URL to send e-mail through"
        return Route(key, spec.urls, where)
    return Route(key, (url,), user.email)


def _participant_route(
    session: Session, key: str, spec: OrganisationSpec, notification: Notification
) -> Route:
    """A message to the participant of its pathway: their address, read now, through the
    organisation's mail server; never to the organisation's channels instead."""
    run = (
        session.get(PathwayRun, notification.pathway_run_id)
        if notification.pathway_run_id is not None
        else None
    )
    participant = session.get(Participant, run.participant_id) if run is not None else None
    where = f"participant of pathway run {notification.pathway_run_id}"
    if participant is None or not participant.email:
        return Route(key, (), where, "le participant n'a pas d'adresse e-mail")
    url = personal_mail_url(spec.urls, participant.email)
    if url is None:
        return Route(key, (), where, f"{key} n'a pas de canal mailto:// pour écrire au participant")
    return Route(key, (url,), f"participant {participant.reference}")


def _html_of(notification: Notification) -> str:
    """Return a message's HTML (made from its text when it was queued without one)."""
    return notification.html or messages.text_as_html(notification.body)


@dataclass(frozen=True)
class Dispatched:
    sent: int
    failed: int
    partial: int = 0


@dataclass
class _Dispatch:
    """What one dispatch call reads once: organisation keys, disabled channels."""

    keys: dict[int, str]
    disabled: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def read(cls, session: Session) -> _Dispatch:
        keys = {
            ident: key
            for ident, key in session.execute(select(Organisation.id, Organisation.key)).all()
            if ident is not None
        }
        disabled = session.execute(
            select(
                NotificationChannel.organisation_key,
                NotificationChannel.channel_id,
                NotificationChannel.reason,
            ).where(col(NotificationChannel.disabled_at).is_not(None))
        ).all()
        session.commit()  # end the read: each send below runs in its own short transactions
        return cls(keys, {(org, ident): reason or "" for org, ident, reason in disabled})


def _disable(
    session: Session,
    state: _Dispatch,
    *,
    organisation_key: str,
    ident: str,
    label: str,
    service: str,
    reason: str,
    now: datetime,
) -> None:
    """Disable a channel after a permanent failure (once: the first reason stays)."""
    state.disabled[(organisation_key, ident)] = reason
    existing = session.exec(
        select(NotificationChannel).where(
            NotificationChannel.organisation_key == organisation_key,
            NotificationChannel.channel_id == ident,
        )
    ).first()
    if existing is None:
        session.add(
            NotificationChannel(
                organisation_key=organisation_key,
                channel_id=ident,
                channel_label=label[:300],
                service=service,
                disabled_at=now,
                reason=reason[:500],
            )
        )
        try:
            session.commit()
            return
        except IntegrityError:  # another dispatcher made it meanwhile: disable that one
            session.rollback()
    session.execute(
        update(NotificationChannel)
        .where(
            col(NotificationChannel.organisation_key) == organisation_key,
            col(NotificationChannel.channel_id) == ident,
            col(NotificationChannel.disabled_at).is_(None),
        )
        .values(disabled_at=now, reason=reason[:500], channel_label=label[:300])
    )
    session.commit()
    log.warning("channel %s of %s disabled: %s", label, organisation_key, reason)


def _deliver(
    session: Session,
    rules: Rules,
    notifier: ChannelNotifier,
    state: _Dispatch,
    notification: Notification,
    now: datetime,
) -> NotificationStatus | None:
    """Send a claimed message to each of its channels that has not taken it yet and record
    what each answered; return the message's status, or None when its claim was taken back
    meanwhile (the one who took it finishes it)."""
    notification_id, attempt = notification.id or 0, notification.attempts
    title, body, html = notification.title, notification.body, _html_of(notification)
    is_digest = notification.is_digest
    route = _route(session, rules, notification, state.keys)
    org = route.organisation_key

    def record(
        ident: str, label: str, service: str, status: DeliveryStatus, error: str, permanent: bool
    ) -> None:
        session.add(
            NotificationDelivery(
                notification_id=notification_id,
                organisation_key=org,
                channel_id=ident,
                channel_label=label[:300],
                service=service[:32],
                status=status,
                permanent=permanent,
                error=error[:500] or None,
                attempt=attempt,
                at=now,
            )
        )
        session.commit()

    if route.problem is not None:
        record(NO_CHANNEL, NO_CHANNEL_LABEL, "", DeliveryStatus.FAILURE, route.problem, True)
        if (org, NO_CHANNEL) not in state.disabled:
            _disable(
                session,
                state,
                organisation_key=org,
                ident=NO_CHANNEL,
                label=NO_CHANNEL_LABEL,
                service="",
                reason=route.problem,
                now=now,
            )
        return _finish(
            session,
            notification_id,
            attempt,
            taken=0,
            channels=1,
            temporary=False,
            errors=[route.problem],
            where=route.where,
            now=now,
            is_digest=is_digest,
        )
    taken_before: set[str] = set()
    if attempt > 1:
        taken_before = {
            ident
            for ident in session.exec(
                select(NotificationDelivery.channel_id).where(
                    NotificationDelivery.notification_id == notification_id,
                    NotificationDelivery.status == DeliveryStatus.SUCCESS,
                )
            ).all()
        }
    taken, temporary, errors, sends = 0, False, [], 0
    for url in route.urls:
        ident, label, service = channel_id(url), mask_url(url), scheme_of(url)
        if ident in taken_before:
            taken += 1
            continue
        reason = state.disabled.get((org, ident))
        if reason is not None:
            error = f"canal désactivé : {reason}"
            record(ident, label, service, DeliveryStatus.SKIPPED, error, True)
            errors.append(f"{label}: {error}")
            continue
        if sends and not _still_mine(session, notification_id, attempt):
            log.warning(
                "notification %s: claim taken back during attempt %s", notification_id, attempt
            )
            return None
        sends += 1
        result = notifier.send_channel(url=url, title=title, body=body, html=html)
        if result.ok:
            record(ident, label, service, DeliveryStatus.SUCCESS, "", False)
            taken += 1
            continue
        record(ident, label, service, DeliveryStatus.FAILURE, result.error, result.permanent)
        errors.append(f"{label}: {result.error}")
        log.warning("notification %s to %s failed: %s", notification_id, label, result.error)
        if result.permanent:
            _disable(
                session,
                state,
                organisation_key=org,
                ident=ident,
                label=label,
                service=service,
                reason=result.error,
                now=now,
            )
        else:
            temporary = True
    return _finish(
        session,
        notification_id,
        attempt,
        taken=taken,
        channels=len(route.urls),
        temporary=temporary,
        errors=errors,
        where=route.where,
        now=now,
        is_digest=is_digest,
    )


def _finish(
    session: Session,
    notification_id: int,
    attempt: int,
    *,
    taken: int,
    channels: int,
    temporary: bool,
    errors: list[str],
    where: str,
    now: datetime,
    is_digest: bool = False,
) -> NotificationStatus | None:
    """Record a message's status after an attempt, and when it is tried again, if it is.

    A digest's messages go with it, in the same transaction: sent when it is; when it is not
    tried again, partly sent with it when some channel took it, or else handed back to the
    next day's digest."""
    if taken == channels:
        status = NotificationStatus.SENT
    elif taken:
        status = NotificationStatus.PARTIAL
    else:
        status = NotificationStatus.FAILED
    again = status is not NotificationStatus.SENT and temporary and attempt < MAX_ATTEMPTS
    finished = session.execute(
        update(Notification)
        .where(
            col(Notification.id) == notification_id,
            col(Notification.attempts) == attempt,
            col(Notification.status) == NotificationStatus.SENDING,
        )
        .values(
            status=status,
            sent_at=now if status is NotificationStatus.SENT else None,
            last_error="; ".join(errors)[:500] or None,
            detail=where[:300],
            next_attempt_at=now + BACKOFF[attempt - 1] if again else None,
        )
        .execution_options(synchronize_session=False)
    )
    if is_digest:
        carried = update(Notification).where(col(Notification.digest_id) == notification_id)
        detail = f"in digest {notification_id}"
        if status is NotificationStatus.SENT:
            carried = carried.values(status=status, sent_at=now, detail=detail)
        elif taken:  # some channel took it: never sent to that one again
            carried = carried.values(status=status, detail=detail)
        else:  # the next day's digest carries them
            carried = carried.values(digest_id=None)
        if status is NotificationStatus.SENT or not again:
            session.execute(carried.execution_options(synchronize_session=False))
    if getattr(finished, "rowcount", 0) != 1:  # taken back meanwhile: the other one finishes
        session.rollback()
        return None
    session.commit()
    return status


def _count(counts: Dispatched, status: NotificationStatus | None) -> Dispatched:
    if status is None:
        return counts
    return Dispatched(
        sent=counts.sent + (status is NotificationStatus.SENT),
        failed=counts.failed + (status is NotificationStatus.FAILED),
        partial=counts.partial + (status is NotificationStatus.PARTIAL),
    )


def dispatch_notifications(
    *,
    session: Session,
    rules: Rules,
    notifier: ChannelNotifier,
    now: datetime,
    pathway_run_id: int | None = None,
    notification_id: int | None = None,
    queued_before: datetime | None = None,
    limit: int = 200,
) -> Dispatched:
    """Send what is queued or due again (for one pathway, one notification, or all; with
    `queued_before`, only what has waited since then); return how many were sent, failed and
    partly sent. What waits for an organisation's digest is left to `dispatch_digests`."""
    query = (
        select(Notification.id)
        .where(
            _claimable(now),
            _sent_one_by_one(_digest_organisation_ids(session, rules), _digest_user_ids(session)),
        )
        .order_by(col(Notification.id))
    )
    if queued_before is not None:
        query = query.where(col(Notification.created_at) <= queued_before)
    if pathway_run_id is not None:
        query = query.where(Notification.pathway_run_id == pathway_run_id)
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    due = session.exec(query.limit(limit)).all()
    counts = Dispatched(0, 0)
    if not due:
        return counts
    state = _Dispatch.read(session)
    for notification_id in due:
        if notification_id is None or not _claim(session, notification_id, now):
            continue
        notification = session.get(Notification, notification_id, populate_existing=True)
        assert notification is not None
        counts = _count(counts, _deliver(session, rules, notifier, state, notification, now))
    return counts


def queued_notifications(
    *, session: Session, pathway_run_id: int, now: datetime, rules: Rules | None = None
) -> list[int]:
    """Return the ids of a pathway's notifications that are waiting to be sent on their own
    (without `rules`, those held for a digest too: `dispatch_notifications` then leaves them)."""
    digest_organisation_ids = _digest_organisation_ids(session, rules) if rules else []
    digest_user_ids = _digest_user_ids(session) if rules else []
    query = (
        select(Notification.id)
        .where(Notification.pathway_run_id == pathway_run_id, _claimable(now))
        .where(_sent_one_by_one(digest_organisation_ids, digest_user_ids))
        .order_by(col(Notification.id))
    )
    return [notification_id for notification_id in session.exec(query).all() if notification_id]


# Digests


def digest_moment(now: datetime, at: time, timezone: str) -> tuple[date, datetime] | None:
    """Return today's digest day and moment (local `at` in `timezone`, as UTC) once it has
    come, or None before it."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    moment = datetime.combine(local.date(), at, tzinfo=zone)
    if local < moment:
        return None
    return local.date(), moment.astimezone(now.tzinfo)


def _gather(
    session: Session,
    *,
    organisation: Organisation,
    spec: OrganisationSpec,
    day: date,
    moment: datetime,
    now: datetime,
    user: User | None = None,
) -> None:
    """Queue the organisation's digest of `day` (a person's, with `user`) with what was queued
    for it before `moment`, unless it exists; the digest's key (one per organisation or person
    and day) makes it once only."""
    key = (
        f"digest:{spec.key}:{day.isoformat()}"
        if user is None
        else f"digest:user-{user.id}:{day.isoformat()}"
    )
    if session.exec(select(Notification.id).where(Notification.event_key == key)).first():
        return
    addressed = (
        and_(
            col(Notification.organisation_id) == organisation.id,
            col(Notification.recipient_user_id).is_(None),
        )
        if user is None
        else col(Notification.recipient_user_id) == user.id
    )
    held = session.exec(
        select(Notification)
        .where(
            addressed,
            col(Notification.is_digest).is_(False),
            col(Notification.digest_id).is_(None),
            Notification.status == NotificationStatus.PENDING,
            col(Notification.created_at) <= moment,
        )
        .order_by(col(Notification.id))
    ).all()
    ids = [row.id for row in held]
    items = [
        messages.DigestItem(title=row.title, link=row.link or messages.first_link(row.body))
        for row in held
    ]
    organisation_id = organisation.id or 0
    user_id, name = (user.id, user.display_name) if user is not None else (None, spec.name)
    session.rollback()  # the insert below starts its own transaction (it waits for a lock)
    if not held:
        return
    message = messages.digest(organisation_name=name, day=day.strftime("%d/%m/%Y"), items=items)
    digest = Notification(
        event_key=key,
        organisation_id=organisation_id,
        recipient_user_id=user_id,
        title=message.title,
        body=message.body,
        html=message.html,
        is_digest=True,
        created_at=now,
    )
    session.add(digest)
    try:
        session.flush()
    except IntegrityError:  # another dispatcher made it first
        session.rollback()
        return
    carried = session.execute(
        update(Notification)
        .where(
            col(Notification.id).in_(ids),
            col(Notification.digest_id).is_(None),
            col(Notification.status) == NotificationStatus.PENDING,
        )
        .values(digest_id=digest.id)
        .execution_options(synchronize_session=False)
    )
    if getattr(carried, "rowcount", 0) != len(ids):  # one was sent meanwhile: next tick
        session.rollback()
        return
    session.commit()


def _send_digest(
    session: Session,
    rules: Rules,
    notifier: ChannelNotifier,
    state: _Dispatch,
    digest_id: int,
    now: datetime,
) -> NotificationStatus | None:
    """Send a digest (`_finish` marks what it carries with it). None if another sender has
    it."""
    if not _claim(session, digest_id, now):
        return None
    digest = session.get(Notification, digest_id, populate_existing=True)
    assert digest is not None
    return _deliver(session, rules, notifier, state, digest, now)


def dispatch_digests(
    *,
    session: Session,
    rules: Rules,
    notifier: ChannelNotifier,
    now: datetime,
    at: time,
    timezone: str,
) -> Dispatched:
    """Once the day's digest time (`at`, local to `timezone`) has come, queue one digest per
    organisation and per person that asks for one and has messages waiting, and send the
    digests that are due (a failed one is tried again, like any message); each exactly once."""
    today = digest_moment(now, at, timezone)
    if today is not None:
        day, moment = today
        for organisation_id in _digest_organisation_ids(session, rules):
            organisation = session.get(Organisation, organisation_id)
            assert organisation is not None
            _gather(
                session,
                organisation=organisation,
                spec=rules.organisations[organisation.key],
                day=day,
                moment=moment,
                now=now,
            )
        for user_id in _digest_user_ids(session):
            user = session.get(User, user_id)
            home = session.get(Organisation, user.organisation_id) if user else None
            if user is None or home is None or home.key not in rules.organisations:
                continue
            _gather(
                session,
                organisation=home,
                spec=rules.organisations[home.key],
                day=day,
                moment=moment,
                now=now,
                user=user,
            )
    due = session.exec(
        select(Notification.id)
        .where(col(Notification.is_digest).is_(True), _claimable(now))
        .order_by(col(Notification.id))
    ).all()
    counts = Dispatched(0, 0)
    if not due:
        return counts
    state = _Dispatch.read(session)
    for digest_id in due:
        if digest_id is not None:
            status = _send_digest(session, rules, notifier, state, digest_id, now)
            counts = _count(counts, status)
    return counts
