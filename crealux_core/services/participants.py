"""Enrolling participants and reading their pathway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from crealux_core.models import (
    Decision,
    Participant,
    ParticipantCreate,
    PathwayRun,
    Role,
    StepRun,
    User,
)
from crealux_core.rules.specs import Rules
from crealux_core.services.delivery import start_pathway_run
from crealux_core.services.errors import Forbidden, InvalidInput
from crealux_core.services.lookup import get_row
from crealux_core.services.ports import Orchestrator
from crealux_core.services.steps import StepView, list_steps


def enroll_participant(
    *,
    session: Session,
    rules: Rules,
    data: ParticipantCreate,
    advisor: User,
    now: datetime,
    orchestrator: Orchestrator,
    pathway_key: str | None = None,
) -> tuple[Participant, PathwayRun]:
    """Commit a participant and their pathway run, then start its flow run.

    If the orchestrator cannot be reached, the pathway run stays without a flow run and
    `reconcile` starts it later.
    """
    if advisor.role is not Role.ADVISOR:
        raise InvalidInput({"advisor": f"{advisor.username} is not an advisor"})
    pathway = rules.pathway(pathway_key)
    participant = Participant.model_validate(
        data, update={"advisor_id": advisor.id, "enrolled_at": now}
    )
    session.add(participant)
    session.flush()
    run = PathwayRun(
        participant_id=participant.id or 0,
        pathway_key=pathway.key,
        pathway_version=pathway.version,
        started_at=now,
    )
    session.add(run)
    session.commit()
    start_pathway_run(session=session, pathway_run_id=run.id or 0, orchestrator=orchestrator)
    session.refresh(run)
    return participant, run


@dataclass(frozen=True)
class TimelineEntry:
    step: StepView
    outcome: dict[str, Any] | None
    note: str | None
    decided_by: str | None
    decided_at: datetime | None
    delivered: bool


@dataclass(frozen=True)
class Timeline:
    participant: Participant
    pathway_runs: list[PathwayRun]
    entries: list[TimelineEntry]


def participant_timeline(
    *, session: Session, rules: Rules, user: User, participant_id: int
) -> Timeline:
    """Return a participant, their pathway runs, and every step with its decision, oldest first."""
    participant = get_row(session, Participant, participant_id)
    steps = list_steps(
        session=session, rules=rules, user=user, participant_id=participant_id, mine=False
    )
    if user.role is not Role.COORDINATOR and participant.advisor_id != user.id and not steps:
        raise Forbidden("this participant is not followed by you or your organisation")
    decisions = {
        decision.step_run_id: (decision, actor)
        for decision, actor in session.exec(
            select(Decision, User)
            .join(User, col(Decision.actor_id) == col(User.id))
            .join(StepRun, col(Decision.step_run_id) == col(StepRun.id))
            .join(PathwayRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
            .where(PathwayRun.participant_id == participant_id)
        ).all()
    }
    entries = []
    for view in sorted(steps, key=lambda v: (v.pathway_run_id, v.seq)):
        decision, actor = decisions.get(view.id, (None, None))
        entries.append(
            TimelineEntry(
                step=view,
                outcome=decision.outcome if decision else None,
                note=decision.note if decision else None,
                decided_by=actor.display_name if actor else None,
                decided_at=decision.decided_at if decision else None,
                delivered=bool(decision and decision.delivered_at),
            )
        )
    runs = session.exec(select(PathwayRun).where(PathwayRun.participant_id == participant_id)).all()
    return Timeline(participant=participant, pathway_runs=list(runs), entries=entries)


def list_participants(*, session: Session, user: User) -> list[Participant]:
    """Return the participants a user follows (all of them for the coordinator)."""
    query = select(Participant).order_by(col(Participant.id))
    if user.role is Role.ADVISOR:
        query = query.where(Participant.advisor_id == user.id)
    elif user.role is Role.PARTNER:
        query = (
            query.join(PathwayRun, col(PathwayRun.participant_id) == col(Participant.id))
            .join(StepRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
            .where(StepRun.organisation_id == user.organisation_id)
            .distinct()
        )
    return list(session.exec(query).all())
