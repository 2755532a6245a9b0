from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Notification(SQLModel, table=True):
    """A message to an organisation: history and outbox at once. `event_key` makes it unique."""

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(unique=True, max_length=200)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    pathway_run_id: int | None = Field(default=None, foreign_key="pathway_run.id", index=True)
    title: str = Field(max_length=300)
    body: str
    status: NotificationStatus = Field(default=NotificationStatus.PENDING, index=True)
    attempts: int = 0
    created_at: datetime
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
