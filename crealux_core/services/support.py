"""Hours of support per participant, by kind (interview, information session, training).

Derived from what is recorded, never typed in as a total:

- a completed step whose rules say `support: {kind: interview, hours: 1.5}` writes a
  SupportTime row when it is decided (services/facts.py), as does an import (`source_key`);
- a training followed counts its hours (TrainingRecord.hours) as `training` support;
- a manual correction is a SupportTime row with `correction=True`, signed hours, who made it,
  when and why (`correct_support`). Nothing is overwritten: the total is the sum of them all,
  and every correction stays listed with its reason.

The participant's advisor and the coordinator see and correct a participant's hours
(`steps.may_steer`); the totals over a period are the coordinator's (reports).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from crealux_core.clock import local_today
from crealux_core.models import Participant, SupportTime, TrainingRecord, User
from crealux_core.rules.facts import SUPPORT_KINDS
from crealux_core.services import policy
from crealux_core.services.errors import Forbidden, InvalidInput
from crealux_core.services.lookup import get_row
from crealux_core.services.policy import Action
from crealux_core.services.steps import may_steer

REASON_MAX = 500
CORRECTION_MAX_HOURS = 500.0


@dataclass(frozen=True)
class KindHours:
    """A participant's hours of one kind of support, and where they come from."""

    kind: str
    from_steps: float  # steps completed (and imported support)
    from_trainings: float  # trainings' hours (kind `training` only)
    corrections: float  # signed sum of the manual corrections
    total: float

    @property
    def label(self) -> str:
        return SUPPORT_KINDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class SupportCorrection:
    """A manual correction: signed hours, who made it, when, and why."""

    id: int
    kind: str
    hours: float
    reason: str
    given_on: dt.date
    recorded_at: dt.datetime
    actor: str | None  # display name of who corrected

    @property
    def label(self) -> str:
        return SUPPORT_KINDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class SupportSummary:
    participant_id: int
    reference: str
    kinds: list[KindHours]  # one per kind of support, in SUPPORT_KINDS' order
    corrections: list[SupportCorrection]  # oldest first

    @property
    def total(self) -> float:
        return sum(kind.total for kind in self.kinds)

    def of(self, kind: str) -> KindHours:
        return next(item for item in self.kinds if item.kind == kind)


def _followed(session: Session, user: User, participant_id: int) -> Participant:
    participant = get_row(session, Participant, participant_id)
    if not user.active or not may_steer(user, participant):
        raise Forbidden(
            f"{user.username} may not see or correct the support of participant"
            f" {participant_id}: their advisor or the coordinator"
        )
    return participant


def _recorded(session: Session, participant_id: int) -> dict[tuple[str, bool], float]:
    """Return the participant's recorded hours summed by (kind, correction), in SQL."""
    rows = session.execute(
        sa_select(
            col(SupportTime.kind),
            col(SupportTime.correction),
            func.coalesce(func.sum(col(SupportTime.hours)), 0.0),
        )
        .where(col(SupportTime.participant_id) == participant_id)
        .group_by(col(SupportTime.kind), col(SupportTime.correction))
    ).all()
    return {(str(kind), bool(correction)): float(hours) for kind, correction, hours in rows}


def _training_hours(session: Session, participant_id: int) -> float:
    total = session.exec(
        select(func.coalesce(func.sum(col(TrainingRecord.hours)), 0)).where(
            col(TrainingRecord.participant_id) == participant_id
        )
    ).one()
    return float(total or 0)


def _kinds(recorded: dict[tuple[str, bool], float], training: float) -> list[KindHours]:
    kinds = []
    for kind in SUPPORT_KINDS:
        steps = recorded.get((kind, False), 0.0)
        trainings = training if kind == "training" else 0.0
        corrections = recorded.get((kind, True), 0.0)
        kinds.append(
            KindHours(
                kind=kind,
                from_steps=steps,
                from_trainings=trainings,
                corrections=corrections,
                total=round(steps + trainings + corrections, 2),
            )
        )
    return kinds


def support_hours(*, session: Session, user: User, participant_id: int) -> SupportSummary:
    """Return a participant's hours of support by kind, with the corrections (their advisor, or
    the coordinator)."""
    participant = _followed(session, user, participant_id)
    recorded = _recorded(session, participant_id)
    corrections = session.exec(
        select(SupportTime, User)
        .outerjoin(User, col(User.id) == col(SupportTime.actor_id))
        .where(col(SupportTime.participant_id) == participant_id, col(SupportTime.correction))
        .order_by(col(SupportTime.recorded_at), col(SupportTime.id))
    ).all()
    return SupportSummary(
        participant_id=participant_id,
        reference=participant.reference,
        kinds=_kinds(recorded, _training_hours(session, participant_id)),
        corrections=[
            SupportCorrection(
                id=row.id or 0,
                kind=row.kind,
                hours=row.hours,
                reason=row.reason or "",
                given_on=row.given_on,
                recorded_at=row.recorded_at,
                actor=who.display_name if who else None,
            )
            for row, who in corrections
        ],
    )


def _check_correction(
    session: Session, participant_id: int, kind: str, hours: float, reason: str | None
) -> tuple[float, str]:
    """Return the hours and the reason of a correction, or raise every problem at once."""
    errors: dict[str, str] = {}
    if kind not in SUPPORT_KINDS:
        errors["kind"] = "Choisissez parmi : " + ", ".join(
            f"{key} ({label})" for key, label in SUPPORT_KINDS.items()
        )
    if not math.isfinite(hours) or hours == 0 or abs(hours) > CORRECTION_MAX_HOURS:
        errors["hours"] = (
            f"Un nombre d'heures non nul entre -{CORRECTION_MAX_HOURS:g} et"
            f" {CORRECTION_MAX_HOURS:g} (négatif pour retirer des heures)."
        )
    text = " ".join((reason or "").split())
    if not text:
        errors["reason"] = "Dites pourquoi vous corrigez : la raison est gardée avec la correction."
    elif len(text) > REASON_MAX:
        errors["reason"] = f"Trop long : {len(text)} caractères, {REASON_MAX} au plus."
    if not errors and hours < 0:
        summary = _kinds(
            _recorded(session, participant_id), _training_hours(session, participant_id)
        )
        current = next(item.total for item in summary if item.kind == kind)
        if current + hours < 0:
            errors["hours"] = (
                f"Cette correction rendrait le total négatif : {current:g} h enregistrées en"
                f" « {SUPPORT_KINDS[kind]} »."
            )
    if errors:
        raise InvalidInput(errors)
    return round(hours, 2), text


def correct_support(
    *,
    session: Session,
    user: User,
    participant_id: int,
    kind: str,
    hours: float,
    reason: str | None,
    now: dt.datetime,
    given_on: dt.date | None = None,
) -> SupportTime:
    """Add or remove hours of support (signed, not zero) with a reason; commits.

    The correction is a row of its own (`correction=True`) with who made it and when; nothing
    recorded before changes. It is dated `given_on` (default: today) for the period totals.
    Refused when it would make the kind's total negative.
    """
    _followed(session, user, participant_id)
    checked_hours, text = _check_correction(session, participant_id, kind, hours, reason)
    day = given_on or local_today(now)
    if day > local_today(now):
        raise InvalidInput({"given_on": "La date ne peut pas être dans le futur."})
    row = SupportTime(
        participant_id=participant_id,
        kind=kind,
        hours=checked_hours,
        given_on=day,
        correction=True,
        reason=text,
        actor_id=user.id,
        recorded_at=now,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def support_totals(
    *, session: Session, user: User, start: dt.date, end: dt.date
) -> dict[str, float]:
    """Return the hours of support given between `start` and `end` (inclusive) by kind, every
    participant together: steps, corrections and trainings ended in the period (the
    coordinator, for reports). Summed in SQL."""
    if not policy.can(user, Action.READ_REPORTS):
        raise Forbidden(f"{user.username} may not read the support totals: the coordinator")
    if start > end:
        raise InvalidInput({"end": "La fin de la période précède son début."})
    totals = dict.fromkeys(SUPPORT_KINDS, 0.0)
    rows = session.execute(
        sa_select(col(SupportTime.kind), func.coalesce(func.sum(col(SupportTime.hours)), 0.0))
        .where(col(SupportTime.given_on).between(start, end))
        .group_by(col(SupportTime.kind))
    ).all()
    for kind, hours in rows:
        totals[str(kind)] = totals.get(str(kind), 0.0) + float(hours)
    trained = session.exec(
        select(func.coalesce(func.sum(col(TrainingRecord.hours)), 0)).where(
            col(TrainingRecord.ended_on).between(start, end)
        )
    ).one()
    totals["training"] += float(trained or 0)
    return {kind: round(hours, 2) for kind, hours in totals.items()}
