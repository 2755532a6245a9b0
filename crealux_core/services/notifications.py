"""Send queued notifications. Each row is claimed with a compare-and-set update first, so two
processes never send the same message; a crashed claim is taken back after CLAIM_TIMEOUT.

A message goes to an organisation's channels (its Apprise URLs in rules/organisations.yaml), or
to a person (`recipient_user_id`): to their e-mail address, through the mail server of their
organisation's first `mailto://` URL (its host, port, login and sender, with `to=` replaced);
when they have no address, or their organisation no `mailto://` URL, to their organisation's
channels instead, which `detail` says.

An organisation with `digest: true` (a shared inbox) gets its messages once a day: they stay
pending until the day's digest time, then one digest message lists them and, once it is sent,
they are marked sent with it (see `dispatch_digests`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from sqlalchemy import and_, not_, or_, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from crealux_core.domain import messages
from crealux_core.models import Notification, NotificationStatus, Organisation, User
from crealux_core.rules.specs import ChannelSpec, OrganisationSpec, Rules
from crealux_core.services.ports import Notifier

MAX_ATTEMPTS = 5
CLAIM_TIMEOUT = timedelta(minutes=5)
MAIL_SCHEMES = ("mailto", "mailtos")


def _claimable(now: datetime) -> ColumnElement[bool]:
    status = col(Notification.status)
    return or_(
        status == NotificationStatus.PENDING,
        and_(status == NotificationStatus.FAILED, col(Notification.attempts) < MAX_ATTEMPTS),
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


def _digest_organisation_ids(session: Session, rules: Rules) -> list[int]:
    keys = [key for key, spec in rules.organisations.items() if spec.digest]
    if not keys:
        return []
    query = select(Organisation.id).where(col(Organisation.key).in_(keys))
    return [ident for ident in session.exec(query).all() if ident is not None]


def _sent_one_by_one(digest_organisation_ids: Sequence[int]) -> ColumnElement[bool]:
    """Messages sent on their own: not a digest, not carried by one, and not to an
    organisation that asks for a digest (a message to a person always goes on its own)."""
    held = and_(
        col(Notification.recipient_user_id).is_(None),
        col(Notification.organisation_id).in_(digest_organisation_ids),
    )
    return and_(
        col(Notification.is_digest).is_(False),
        col(Notification.digest_id).is_(None),
        not_(held) if digest_organisation_ids else true(),
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


def _route(
    session: Session, rules: Rules, notification: Notification
) -> tuple[OrganisationSpec | None, str]:
    """Return the channels a message goes to (an organisation's, or one person's e-mail as the
    only channel) and a word on where it went."""
    organisation_id = notification.organisation_id
    user = (
        session.get(User, notification.recipient_user_id)
        if notification.recipient_user_id is not None
        else None
    )
    if user is not None:
        organisation_id = user.organisation_id
    organisation = session.get(Organisation, organisation_id)
    spec = rules.organisations.get(organisation.key) if organisation else None
    if spec is None:
        return None, "organisation no longer in the rules"
    if user is None:
        return spec, f"organisation {spec.key}"
    if not user.email:
        return spec, f"organisation {spec.key}: {user.username} has no e-mail address"
    url = personal_mail_url(spec.urls, user.email)
    if url is None:
        return spec, f"organisation {spec.key}: it has no mailto:// URL to send e-mail through"
    return spec.model_copy(update={"notify": (ChannelSpec(url=url),)}), user.email


def _html_of(notification: Notification) -> str:
    """Return a message's HTML (made from its text when it was queued without one)."""
    return notification.html or messages.text_as_html(notification.body)


@dataclass(frozen=True)
class Dispatched:
    sent: int
    failed: int


def dispatch_notifications(
    *,
    session: Session,
    rules: Rules,
    notifier: Notifier,
    now: datetime,
    pathway_run_id: int | None = None,
    notification_id: int | None = None,
    queued_before: datetime | None = None,
    limit: int = 200,
) -> Dispatched:
    """Send what is queued (for one pathway, one notification, or all; with `queued_before`,
    only what has waited since then); return how many were sent and failed. What waits for
    an organisation's digest is left to `dispatch_digests`."""
    query = (
        select(Notification.id)
        .where(_claimable(now), _sent_one_by_one(_digest_organisation_ids(session, rules)))
        .order_by(col(Notification.id))
    )
    if queued_before is not None:
        query = query.where(col(Notification.created_at) <= queued_before)
    if pathway_run_id is not None:
        query = query.where(Notification.pathway_run_id == pathway_run_id)
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    sent = failed = 0
    for notification_id in session.exec(query.limit(limit)).all():
        if notification_id is None or not _claim(session, notification_id, now):
            continue
        notification = session.get(Notification, notification_id, populate_existing=True)
        assert notification is not None
        spec, where = _route(session, rules, notification)
        if spec is None:
            ok, detail = False, where
        else:
            result = notifier.send(
                organisation=spec,
                title=notification.title,
                body=notification.body,
                html=_html_of(notification),
            )
            ok, detail = result.ok, result.detail
        _record(session, notification, ok=ok, error=detail, where=where, now=now)
        sent, failed = sent + ok, failed + (not ok)
    return Dispatched(sent=sent, failed=failed)


def _record(
    session: Session, notification: Notification, *, ok: bool, error: str, where: str, now: datetime
) -> None:
    notification.status = NotificationStatus.SENT if ok else NotificationStatus.FAILED
    notification.sent_at = now if ok else None
    notification.last_error = None if ok else error[:500]
    notification.detail = where[:300]
    session.add(notification)
    session.commit()


def queued_notifications(
    *, session: Session, pathway_run_id: int, now: datetime, rules: Rules | None = None
) -> list[int]:
    """Return the ids of a pathway's notifications that are waiting to be sent on their own
    (without `rules`, those held for a digest too: `dispatch_notifications` then leaves them)."""
    digest_organisation_ids = _digest_organisation_ids(session, rules) if rules else []
    query = (
        select(Notification.id)
        .where(Notification.pathway_run_id == pathway_run_id, _claimable(now))
        .where(_sent_one_by_one(digest_organisation_ids))
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
) -> None:
    """Queue the organisation's digest of `day` with what was queued for it before `moment`,
    unless it exists; the digest's key (one per organisation and day) makes it once only."""
    key = f"digest:{spec.key}:{day.isoformat()}"
    if session.exec(select(Notification.id).where(Notification.event_key == key)).first():
        return
    held = session.exec(
        select(Notification)
        .where(
            Notification.organisation_id == organisation.id,
            col(Notification.recipient_user_id).is_(None),
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
    session.rollback()  # the insert below starts its own transaction (it waits for a lock)
    if not held:
        return
    message = messages.digest(
        organisation_name=spec.name, day=day.strftime("%d/%m/%Y"), items=items
    )
    digest = Notification(
        event_key=key,
        organisation_id=organisation_id,
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
    session: Session, rules: Rules, notifier: Notifier, digest_id: int, now: datetime
) -> bool | None:
    """Send a claimed digest; mark what it carries sent with it, or, once it has failed for
    good, give its messages back to the next digest. None if another sender has it."""
    if not _claim(session, digest_id, now):
        return None
    digest = session.get(Notification, digest_id, populate_existing=True)
    assert digest is not None
    spec, where = _route(session, rules, digest)
    if spec is None:
        ok, error = False, where
    else:
        result = notifier.send(
            organisation=spec, title=digest.title, body=digest.body, html=_html_of(digest)
        )
        ok, error = result.ok, result.detail
    carried = update(Notification).where(col(Notification.digest_id) == digest_id)
    if ok:
        session.execute(
            carried.values(
                status=NotificationStatus.SENT, sent_at=now, detail=f"in digest {digest_id}"
            ).execution_options(synchronize_session=False)
        )
    elif digest.attempts >= MAX_ATTEMPTS:
        session.execute(carried.values(digest_id=None).execution_options(synchronize_session=False))
    _record(session, digest, ok=ok, error=error, where=where, now=now)
    return ok


def dispatch_digests(
    *, session: Session, rules: Rules, notifier: Notifier, now: datetime, at: time, timezone: str
) -> Dispatched:
    """Once the day's digest time (`at`, local to `timezone`) has come, queue one digest per
    organisation that asks for one and has messages waiting, and send the digests that are
    due (a failed one is tried again, like any message); each exactly once."""
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
    due = session.exec(
        select(Notification.id)
        .where(col(Notification.is_digest).is_(True), _claimable(now))
        .order_by(col(Notification.id))
    ).all()
    sent = failed = 0
    for digest_id in due:
        if digest_id is None:
            continue
        ok = _send_digest(session, rules, notifier, digest_id, now)
        if ok is not None:
            sent, failed = sent + ok, failed + (not ok)
    return Dispatched(sent=sent, failed=failed)
