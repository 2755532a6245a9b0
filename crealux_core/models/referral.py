from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class ReferralStatus(StrEnum):
    SENT = "sent"  # waiting for the partner's answer
    ACCEPTED = "accepted"  # the partner takes the participant: active until the step closes
    DECLINED = "declined"  # the partner said no, with a reason; the step went back
    CLOSED = "closed"  # the step it served was decided, or the pathway ended
    WITHDRAWN = "withdrawn"  # the step was skipped or the pathway ended before an answer


# A partner sees the participant only while a referral to it is one of these.
OPEN_REFERRAL_STATUSES = (ReferralStatus.SENT, ReferralStatus.ACCEPTED)


class Referral(SQLModel, table=True):
    """The participant sent to a partner's offer from a step with `assign: referral`.

    Its answer deadlines are columns swept like a step's: reminded before `answer_due_at`,
    escalated to the coordinator at `escalate_at`, each once (`reminded_at`, `escalated_at`).
    The events that made and answered it are in `pathway_event` (REFERRAL, REFERRAL_ACCEPTED,
    REFERRAL_DECLINED)."""

    __table_args__ = (Index("ix_referral_organisation_status", "organisation_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    pathway_run_id: int = Field(foreign_key="pathway_run.id", index=True)
    step_run_id: int = Field(foreign_key="step_run.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    offer_key: str = Field(max_length=64)
    reason: str = Field(max_length=2000, description="why the participant is sent (shared)")
    status: ReferralStatus = Field(default=ReferralStatus.SENT, index=True)
    referred_by_id: int = Field(foreign_key="app_user.id")
    referred_at: datetime
    answer_due_at: datetime
    remind_at: datetime | None = Field(default=None, index=True)
    escalate_at: datetime | None = Field(default=None, index=True)
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    answered_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    answered_at: datetime | None = None
    starts_on: date | None = None
    decline_reason: str | None = Field(default=None, max_length=2000)
    closed_at: datetime | None = None
