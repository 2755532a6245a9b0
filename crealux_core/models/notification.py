from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"  # every channel took it
    PARTIAL = "partial"  # some channels took it; `next_attempt_at` set: the others are retried
    FAILED = "failed"  # no channel took it; `next_attempt_at` set: it is retried


class Notification(SQLModel, table=True):
    """A message: history and outbox at once. `event_key` makes it unique.

    It goes to an organisation's channels (rules/organisations.yaml), or, with
    `recipient_user_id`, to that person's e-mail address (their organisation's channels when
    they have none). A message to an organisation that asks for a digest waits, pending, until
    the day's digest carries it (`digest_id`); the digest is a notification itself
    (`is_digest`). What each channel answered is in `NotificationDelivery`; a failed or partial
    message with `next_attempt_at` is tried again then, on the channels that did not take it."""

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(unique=True, max_length=200)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    recipient_user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    pathway_run_id: int | None = Field(default=None, foreign_key="pathway_run.id", index=True)
    title: str = Field(max_length=300)
    body: str
    html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    link: str | None = Field(default=None, max_length=500)
    status: NotificationStatus = Field(default=NotificationStatus.PENDING, index=True)
    attempts: int = 0
    created_at: datetime
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    # Where it went, in words: an e-mail address, or why it went to the organisation instead.
    detail: str | None = Field(default=None, max_length=300)
    is_digest: bool = False
    digest_id: int | None = Field(default=None, foreign_key="notification.id", index=True)
    # When a failed or partial message is tried again (None: not again, or not failed).
    next_attempt_at: datetime | None = Field(default=None, index=True)
    # Routed to the organisation's channels carrying this tag only (rules/notifications.yaml);
    # None: all its channels.
    channel_tag: str | None = Field(default=None, max_length=64)


class DeliveryStatus(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    SKIPPED = "skipped"  # the channel is disabled: not tried


class NotificationDelivery(SQLModel, table=True):
    """What one channel answered to one attempt at a message.

    A channel is named by `channel_id` (a hash of its Apprise URL, `domain.channels`) within
    its organisation, and shown by `channel_label`, the URL masked: never the URL itself.
    `channel_id` "-" stands for no channel at all (an organisation without any, or no longer in
    the rules)."""

    __tablename__ = "notification_delivery"
    __table_args__ = (Index("ix_notification_delivery_channel", "notification_id", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id")
    organisation_key: str = Field(max_length=100, index=True)
    channel_id: str = Field(max_length=32)
    channel_label: str = Field(max_length=300)
    service: str = Field(max_length=32)  # the URL's scheme: mailto, json, msteams...
    status: DeliveryStatus
    permanent: bool = False  # a failure that trying again will not mend
    error: str | None = Field(default=None, max_length=500)  # URLs in it masked
    attempt: int
    at: datetime = Field(index=True)


class NotificationChannel(SQLModel, table=True):
    """A channel's state: disabled (with why and since when) after a permanent failure, until
    the coordinator enables it again. A channel without a row is enabled."""

    __tablename__ = "notification_channel"
    __table_args__ = (UniqueConstraint("organisation_key", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_key: str = Field(max_length=100)
    channel_id: str = Field(max_length=32)
    channel_label: str = Field(max_length=300)
    service: str = Field(max_length=32)
    disabled_at: datetime | None = None
    reason: str | None = Field(default=None, max_length=500)
    enabled_at: datetime | None = None
    enabled_by: int | None = Field(default=None, foreign_key="app_user.id")
