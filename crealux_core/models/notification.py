from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Notification(SQLModel, table=True):
    """A message: history and outbox at once. `event_key` makes it unique.

    It goes to an organisation's channels (rules/organisations.yaml), or, with
    `recipient_user_id`, to that person's e-mail address (their organisation's channels when
    they have none). A message to an organisation that asks for a digest waits, pending, until
    the day's digest carries it (`digest_id`); the digest is a notification itself
    (`is_digest`)."""

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
