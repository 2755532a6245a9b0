"""Send queued notifications. Each row is claimed with a compare-and-set update first, so two
processes never send the same message; a crashed claim is taken back after CLAIM_TIMEOUT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from crealux_core.models import Notification, NotificationStatus, Organisation
from crealux_core.rules.specs import Rules
from crealux_core.services.ports import Notifier

MAX_ATTEMPTS = 5
CLAIM_TIMEOUT = timedelta(minutes=5)


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
    only what has waited since then); return how many were sent and failed."""
    query = select(Notification.id).where(_claimable(now)).order_by(col(Notification.id))
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
        organisation = session.get(Organisation, notification.organisation_id)
        spec = rules.organisations.get(organisation.key) if organisation else None
        if spec is None:
            ok, detail = False, "organisation no longer in the rules"
        else:
            result = notifier.send(
                organisation=spec, title=notification.title, body=notification.body
            )
            ok, detail = result.ok, result.detail
        notification.status = NotificationStatus.SENT if ok else NotificationStatus.FAILED
        notification.sent_at = now if ok else None
        notification.last_error = None if ok else detail[:500]
        session.add(notification)
        session.commit()
        sent, failed = sent + ok, failed + (not ok)
    return Dispatched(sent=sent, failed=failed)


def queued_notifications(*, session: Session, pathway_run_id: int, now: datetime) -> list[int]:
    """Return the ids of a pathway's notifications that are waiting to be sent."""
    query = (
        select(Notification.id)
        .where(Notification.pathway_run_id == pathway_run_id, _claimable(now))
        .order_by(col(Notification.id))
    )
    return [notification_id for notification_id in session.exec(query).all() if notification_id]
