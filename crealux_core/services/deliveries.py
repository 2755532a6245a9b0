"""The delivery log (what each channel answered to each message) and the channels' states, for
the coordinator (policy: READ_DELIVERIES, MANAGE_CHANNELS). See docs/notifications.md.

Channels are shown masked (`domain.channels.mask_url`): the URL itself, with its secrets, is
never read back from the database, which does not hold it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from crealux_core.clock import LOCAL_TIME
from crealux_core.domain.channels import channel_id, mask_url, scheme_of
from crealux_core.models import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationStatus,
    Organisation,
    PathwayRun,
    User,
)
from crealux_core.rules.specs import Rules
from crealux_core.services import policy
from crealux_core.services.errors import InvalidInput, NotFound
from crealux_core.services.notifications import NO_CHANNEL, NO_CHANNEL_LABEL
from crealux_core.services.policy import Action

PAGE_MAX = 500

STATUS_LABELS = {
    NotificationStatus.PENDING: "En attente",
    NotificationStatus.SENDING: "En cours d'envoi",
    NotificationStatus.SENT: "Envoyé",
    NotificationStatus.PARTIAL: "Envoyé en partie",
    NotificationStatus.FAILED: "Échec",
}
DELIVERY_LABELS = {
    DeliveryStatus.SUCCESS: "Reçu",
    DeliveryStatus.FAILURE: "Échec",
    DeliveryStatus.SKIPPED: "Canal désactivé",
}
_REFERENCE = re.compile(r"^\s*[Pp]-?0*(\d+)\s*$")


@dataclass(frozen=True)
class ChannelAttempt:
    channel_id: str
    channel: str  # masked
    service: str
    status: DeliveryStatus
    permanent: bool
    error: str | None
    attempt: int
    at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "channel": self.channel,
            "service": self.service,
            "status": self.status.value,
            "permanent": self.permanent,
            "error": self.error,
            "attempt": self.attempt,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class DeliveryView:
    notification_id: int
    created_at: dt.datetime
    organisation_key: str
    organisation_name: str
    title: str
    status: NotificationStatus
    attempts: int
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    last_error: str | None
    detail: str | None
    pathway_run_id: int | None
    participant_reference: str | None
    is_digest: bool
    channels: list[ChannelAttempt]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.notification_id,
            "created_at": self.created_at.isoformat(),
            "organisation": self.organisation_key,
            "title": self.title,
            "status": self.status.value,
            "attempts": self.attempts,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "last_error": self.last_error,
            "detail": self.detail,
            "pathway_run_id": self.pathway_run_id,
            "participant": self.participant_reference,
            "digest": self.is_digest,
            "channels": [attempt.as_json() for attempt in self.channels],
        }


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[DeliveryView]
    total: int
    offset: int
    limit: int


def participant_id_of(reference: str) -> int:
    """Return the participant id of a reference (P-00012, P12, 12)."""
    found = _REFERENCE.match(reference) or re.match(r"^\s*(\d+)\s*$", reference)
    if found is None:
        raise InvalidInput({"participant": "Une référence comme P-00012 est attendue."})
    return int(found.group(1))


def day_bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None, ...]:
    """Return the moments (UTC) a period of local days begins and ends (`end` included)."""
    if start is not None and end is not None and start > end:
        raise InvalidInput({"end": "La fin de la période précède son début."})

    def moment(day: dt.date | None) -> dt.datetime | None:
        if day is None:
            return None
        return dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TIME).astimezone(dt.UTC)

    return moment(start), moment(end + dt.timedelta(days=1) if end else None)


def list_deliveries(
    *,
    session: Session,
    user: User | None,
    status: NotificationStatus | str | None = None,
    organisation_key: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    participant: str | None = None,
    pathway_run_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> DeliveryPage:
    """Return the notifications (newest first), a page at a time, each with what each of its
    channels answered to each attempt; filtered by status, organisation, period (the days they
    were queued, local time), participant reference or pathway run."""
    policy.require(user, Action.READ_DELIVERIES)
    if offset < 0:
        raise InvalidInput({"offset": "Un nombre positif ou nul est attendu."})
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput({"limit": f"Entre 1 et {PAGE_MAX} lignes par page."})
    where: list[Any] = []
    if status is not None and status != "":
        try:
            where.append(col(Notification.status) == NotificationStatus(status))
        except ValueError:
            choices = ", ".join(item.value for item in NotificationStatus)
            raise InvalidInput({"status": f"Un de : {choices}."}) from None
    if organisation_key:
        where.append(col(Organisation.key) == organisation_key)
    since, until = day_bounds(start, end)
    if since is not None:
        where.append(col(Notification.created_at) >= since)
    if until is not None:
        where.append(col(Notification.created_at) < until)
    if participant:
        where.append(col(PathwayRun.participant_id) == participant_id_of(participant))
    if pathway_run_id is not None:
        where.append(col(Notification.pathway_run_id) == pathway_run_id)
    base = (
        select(Notification, Organisation.key, Organisation.name, PathwayRun.participant_id)
        .join(Organisation, col(Organisation.id) == col(Notification.organisation_id))
        .outerjoin(PathwayRun, col(PathwayRun.id) == col(Notification.pathway_run_id))
        .where(*where)
    )
    total = session.exec(
        select(func.count(col(Notification.id)))
        .select_from(Notification)
        .join(Organisation, col(Organisation.id) == col(Notification.organisation_id))
        .outerjoin(PathwayRun, col(PathwayRun.id) == col(Notification.pathway_run_id))
        .where(*where)
    ).one()
    found = session.exec(
        base.order_by(col(Notification.id).desc()).offset(offset).limit(limit)
    ).all()
    ids = [notification.id for notification, *_ in found if notification.id is not None]
    attempts: dict[int, list[ChannelAttempt]] = defaultdict(list)
    if ids:
        for row in session.exec(
            select(NotificationDelivery)
            .where(col(NotificationDelivery.notification_id).in_(ids))
            .order_by(col(NotificationDelivery.id))
        ).all():
            attempts[row.notification_id].append(
                ChannelAttempt(
                    channel_id=row.channel_id,
                    channel=row.channel_label,
                    service=row.service,
                    status=DeliveryStatus(row.status),
                    permanent=row.permanent,
                    error=row.error,
                    attempt=row.attempt,
                    at=row.at,
                )
            )
    rows = [
        DeliveryView(
            notification_id=notification.id or 0,
            created_at=notification.created_at,
            organisation_key=key,
            organisation_name=name,
            title=notification.title,
            status=NotificationStatus(notification.status),
            attempts=notification.attempts,
            sent_at=notification.sent_at,
            next_attempt_at=notification.next_attempt_at,
            last_error=notification.last_error,
            detail=notification.detail,
            pathway_run_id=notification.pathway_run_id,
            participant_reference=f"P-{participant_id:05d}" if participant_id else None,
            is_digest=notification.is_digest,
            channels=attempts.get(notification.id or 0, []),
        )
        for notification, key, name, participant_id in found
    ]
    return DeliveryPage(rows=rows, total=int(total), offset=offset, limit=limit)


@dataclass(frozen=True)
class ChannelState:
    organisation_key: str
    channel_id: str
    channel: str  # masked
    service: str
    in_rules: bool  # the rules still name it (else: a person's e-mail, no channel, an old URL)
    disabled_at: dt.datetime | None
    reason: str | None
    enabled_at: dt.datetime | None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation_key,
            "channel_id": self.channel_id,
            "channel": self.channel,
            "service": self.service,
            "in_rules": self.in_rules,
            "disabled": self.disabled,
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "reason": self.reason,
            "enabled_at": self.enabled_at.isoformat() if self.enabled_at else None,
        }


def list_channels(
    *, session: Session, user: User | None, rules: Rules, disabled_only: bool = False
) -> list[ChannelState]:
    """Return every channel of the rules' organisations (masked) with its state, and the
    channels with a state the rules no longer name; disabled ones first."""
    policy.require(user, Action.READ_DELIVERIES)
    states = {
        (row.organisation_key, row.channel_id): row
        for row in session.exec(select(NotificationChannel)).all()
    }
    found: list[ChannelState] = []

    def state_of(key: str, ident: str, label: str, service: str, in_rules: bool) -> ChannelState:
        row = states.pop((key, ident), None)
        return ChannelState(
            organisation_key=key,
            channel_id=ident,
            channel=label,
            service=service,
            in_rules=in_rules,
            disabled_at=row.disabled_at if row else None,
            reason=row.reason if row else None,
            enabled_at=row.enabled_at if row else None,
        )

    for key, spec in rules.organisations.items():
        for url in spec.urls:
            found.append(state_of(key, channel_id(url), mask_url(url), scheme_of(url), True))
        if not spec.urls:
            found.append(state_of(key, NO_CHANNEL, NO_CHANNEL_LABEL, "", True))
    for (key, ident), row in list(states.items()):
        found.append(state_of(key, ident, row.channel_label, row.service, False))
    if disabled_only:
        found = [state for state in found if state.disabled]
    return sorted(found, key=lambda state: (not state.disabled, state.organisation_key))


def enable_channel(
    *,
    session: Session,
    user: User | None,
    organisation_key: str,
    channel: str,
    now: dt.datetime,
    rules: Rules | None = None,
) -> ChannelState:
    """Enable a disabled channel again (its id, or the start of it, at least 6 characters):
    later messages go to it; the messages that skipped it are not sent again."""
    policy.require(user, Action.MANAGE_CHANNELS)
    assert user is not None
    query = select(NotificationChannel).where(
        NotificationChannel.organisation_key == organisation_key,
        col(NotificationChannel.disabled_at).is_not(None),
    )
    if channel == NO_CHANNEL:
        query = query.where(NotificationChannel.channel_id == NO_CHANNEL)
    elif len(channel) >= 6:
        query = query.where(col(NotificationChannel.channel_id).startswith(channel))
    else:
        raise InvalidInput({"channel": "L'identifiant du canal (6 caractères au moins)."})
    matches = session.exec(query).all()
    if not matches:
        raise NotFound(f"aucun canal désactivé {channel!r} pour l'organisation {organisation_key}")
    if len(matches) > 1:
        raise InvalidInput({"channel": "Plusieurs canaux commencent ainsi : donnez-en plus."})
    [row] = matches
    session.execute(
        update(NotificationChannel)
        .where(col(NotificationChannel.id) == row.id)
        .values(disabled_at=None, enabled_at=now, enabled_by=user.id)
    )
    session.commit()
    return ChannelState(
        organisation_key=row.organisation_key,
        channel_id=row.channel_id,
        channel=row.channel_label,
        service=row.service,
        in_rules=rules is not None and _in_rules(rules, row.organisation_key, row.channel_id),
        disabled_at=None,
        reason=row.reason,
        enabled_at=now,
    )


def _in_rules(rules: Rules, organisation_key: str, ident: str) -> bool:
    spec = rules.organisations.get(organisation_key)
    if spec is None:
        return False
    if ident == NO_CHANNEL:
        return not spec.urls
    return any(channel_id(url) == ident for url in spec.urls)


def organisation_keys(*, session: Session, user: User | None) -> list[str]:
    """The organisations' keys, for a filter."""
    policy.require(user, Action.READ_DELIVERIES)
    return sorted(key for key in session.exec(select(Organisation.key)).all())
