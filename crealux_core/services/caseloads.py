"""Advisors' caseloads: who follows how many open pathways, the advisor enrolment suggests, and
moving a caseload (or one participant) to a colleague.

An advisor's quota (the most open pathways they take) and speciality (an orientation route they
know best: creation, training, employment, social) are kept on their account and set by the
coordinator from the dashboard (`set_profile`) or `crealux participant advisor-profile`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from crealux_core.models import Participant, PathwayRun, PathwayStatus, Role, User
from crealux_core.services import events, notices, policy
from crealux_core.services.errors import Forbidden, InvalidInput
from crealux_core.services.lookup import get_row
from crealux_core.services.policy import Action
from crealux_core.services.steps import clean_note

# What a participant's expectation at the first reception says about the speciality they need.
EXPECTATION_SPECIALITY = {
    "creation": "creation",
    "employment": "employment",
    "training": "training",
}
SPECIALITIES = ("creation", "training", "employment", "social")


@dataclass(frozen=True)
class Caseload:
    advisor_id: int
    username: str
    display_name: str
    open_pathways: int
    quota: int | None
    speciality: str | None

    @property
    def full(self) -> bool:
        return self.quota is not None and self.open_pathways >= self.quota

    @property
    def load(self) -> float:
        """How full the caseload is: open pathways over the quota (no quota: counted as 20)."""
        return self.open_pathways / (self.quota or 20) if self.quota != 0 else float("inf")


def caseloads(*, session: Session) -> list[Caseload]:
    """Return every active advisor with their open pathways, quota and speciality (one query)."""
    open_runs = (
        select(Participant.advisor_id, func.count(col(PathwayRun.id)).label("open"))
        .join(PathwayRun, col(PathwayRun.participant_id) == col(Participant.id))
        .where(PathwayRun.status == PathwayStatus.ACTIVE)
        .group_by(col(Participant.advisor_id))
        .subquery()
    )
    rows = session.exec(
        select(User, func.coalesce(open_runs.c.open, 0))
        .join(open_runs, open_runs.c.advisor_id == col(User.id), isouter=True)
        .where(User.role == Role.ADVISOR, col(User.active).is_(True))
        .order_by(col(User.display_name))
    ).all()
    return [
        Caseload(
            advisor_id=user.id or 0,
            username=user.username,
            display_name=user.display_name,
            open_pathways=int(count),
            quota=user.caseload_quota,
            speciality=user.speciality,
        )
        for user, count in rows
    ]


@dataclass(frozen=True)
class Suggestion:
    caseload: Caseload
    reason: str  # in French, shown next to the choice


def suggest_advisor(*, session: Session, expectation: str | None = None) -> Suggestion | None:
    """Return the advisor enrolment suggests: not full, of the wanted speciality if one is free,
    then the least loaded (open pathways over quota), then the fewest open pathways."""
    loads = caseloads(session=session)
    if not loads:
        return None
    wanted = EXPECTATION_SPECIALITY.get(expectation or "")
    free = [c for c in loads if not c.full] or loads
    specialists = [c for c in free if wanted is not None and c.speciality == wanted]
    pool = specialists or free
    best = min(pool, key=lambda c: (c.load, c.open_pathways, c.display_name))
    parts = [f"{best.open_pathways} parcours en cours"]
    if best.quota is not None:
        parts[0] += f" sur un quota de {best.quota}"
    if specialists:
        parts.append(f"spécialité « {wanted} »")
    if not [c for c in loads if not c.full]:
        parts.append("toutes les équipes sont au complet")
    return Suggestion(caseload=best, reason=", ".join(parts))


def set_profile(
    *,
    session: Session,
    actor: User,
    advisor_id: int,
    quota: int | None,
    speciality: str | None,
) -> User:
    """Set an advisor's quota and speciality (the coordinator only)."""
    if not policy.can(actor, Action.MANAGE_CASELOADS):
        raise Forbidden(f"{actor.username} may not change caseload quotas")
    advisor = get_row(session, User, advisor_id)
    if advisor.role is not Role.ADVISOR:
        raise InvalidInput({"advisor": f"{advisor.username} is not an advisor"})
    if quota is not None and not 0 <= quota <= 500:
        raise InvalidInput({"quota": "between 0 and 500, or empty for no quota"})
    if speciality is not None and speciality not in SPECIALITIES:
        raise InvalidInput({"speciality": f"one of {', '.join(SPECIALITIES)}, or empty"})
    advisor.caseload_quota, advisor.speciality = quota, speciality
    session.add(advisor)
    session.commit()
    return advisor


def transfer_participants(
    *,
    session: Session,
    actor: User,
    from_advisor_id: int,
    to_advisor_id: int,
    participant_ids: list[int] | None = None,
    note: str | None,
    now: dt.datetime,
    dashboard_url: str,
) -> int:
    """Move participants (all of an advisor's, or the ones named) to a colleague, with their
    current steps, in one transaction; return how many moved.

    The coordinator may move anyone's; an advisor may hand over their own participants.
    """
    if not policy.can(actor, Action.MANAGE_CASELOADS) and actor.id != from_advisor_id:
        raise Forbidden(f"{actor.username} may not move another advisor's participants")
    colleague = get_row(session, User, to_advisor_id)
    if colleague.role is not Role.ADVISOR or not colleague.active:
        raise InvalidInput({"to": f"{colleague.username} is not an active advisor"})
    if to_advisor_id == from_advisor_id:
        raise InvalidInput({"to": "the participants already are with this advisor"})
    query = select(Participant).where(Participant.advisor_id == from_advisor_id)
    if participant_ids is not None:
        query = query.where(col(Participant.id).in_(participant_ids))
    participants = session.exec(query.order_by(col(Participant.id))).all()
    if participant_ids is not None and len(participants) != len(set(participant_ids)):
        raise InvalidInput({"participants": "some are not followed by this advisor"})
    text = clean_note(note)
    first_event: int | None = None
    for participant in participants:
        recorded = events.transfer(
            session,
            participant=participant,
            to_advisor_id=to_advisor_id,
            actor_id=actor.id or 0,
            note=text,
            now=now,
        )
        if recorded and first_event is None:
            first_event = recorded[0].id
    if participants:
        notices.participants_assigned(
            session,
            key=f"transferred:{first_event}"
            if first_event
            else f"transferred:{participants[0].id}:{to_advisor_id}:{now:%Y%m%dT%H%M%S%f}",
            participants=participants,
            advisor=colleague,
            actor=actor,
            pathway_run_id=None,
            now=now,
            dashboard_url=dashboard_url,
        )
    session.commit()
    return len(participants)
