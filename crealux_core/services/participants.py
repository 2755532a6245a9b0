"""Enrolling participants and reading their pathway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from crealux_core.models import (
    EventKind,
    Participant,
    ParticipantCreate,
    PathwayRun,
    PathwayStatus,
    Role,
    Stay,
    User,
)
from crealux_core.rules.specs import Rules
from crealux_core.services import events, notices, policy
from crealux_core.services.delivery import start_flow
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput
from crealux_core.services.lookup import get_row
from crealux_core.services.policy import Action
from crealux_core.services.ports import Orchestrator
from crealux_core.services.steps import EventView, StepView, list_steps, step_events


def enroll_participant(
    *,
    session: Session,
    rules: Rules,
    data: ParticipantCreate,
    advisor: User,
    now: datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
    pathway_key: str | None = None,
    actor: User | None = None,
) -> tuple[Participant, PathwayRun]:
    """Commit a participant and their pathway with its first step open, then start its flow run.

    `actor` enrols (an advisor or the coordinator; by default the advisor themselves) and
    `advisor` will follow the participant. If the orchestrator cannot be reached, the pathway
    still waits on its first step and the reconciler starts its flow run later.
    """
    actor = actor or advisor
    if not policy.can(actor, Action.ENROL_PARTICIPANTS):
        raise Forbidden(f"{actor.username} may not enrol participants")
    if advisor.role is not Role.ADVISOR or not advisor.active:
        raise InvalidInput({"advisor": f"{advisor.username} is not an active advisor"})
    participant = Participant.model_validate(
        data, update={"advisor_id": advisor.id, "enrolled_at": now}
    )
    session.add(participant)
    session.flush()
    run = events.start(
        session=session,
        rules=rules,
        participant=participant,
        now=now,
        dashboard_url=dashboard_url,
        pathway_key=pathway_key,
    )
    notices.participants_assigned(
        session,
        key=f"assigned:{run.id}",
        participants=[participant],
        advisor=advisor,
        actor=actor,
        pathway_run_id=run.id,
        now=now,
        dashboard_url=dashboard_url,
    )
    session.commit()
    if orchestrator is not None:
        start_flow(session=session, pathway_run_id=run.id or 0, orchestrator=orchestrator)
    session.refresh(run)
    return participant, run


def staying_run(*, session: Session, participant_id: int) -> int | None:
    """Return the pathway run a participant is still on (active, and not left), if any.

    After the exit, a pathway's follow-ups (the result on leaving, six months later) go on, but
    the participant has left: they may come back on a new pathway beside it."""
    return session.exec(
        select(PathwayRun.id)
        .join(Stay, col(Stay.pathway_run_id) == col(PathwayRun.id))
        .where(
            PathwayRun.participant_id == participant_id,
            PathwayRun.status == PathwayStatus.ACTIVE,
            col(Stay.ended_on).is_(None),
        )
    ).first()


def reenrol_participant(
    *,
    session: Session,
    rules: Rules,
    participant_id: int,
    actor: User,
    now: datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
) -> PathwayRun:
    """Start a new pathway for a participant who left and comes back (a re-entry).

    Their first entry stays the one reports count (a participant who leaves and re-enters is
    counted once, with the first entry); the new pathway opens a new stay. Refused while they
    are still on a pathway (it is active and they have not left it).
    """
    participant = get_row(session, Participant, participant_id)
    if not policy.can(actor, Action.STEER_PARTICIPANT, participant):
        raise Forbidden(f"{actor.username} may not re-enrol {participant.reference}")
    staying = staying_run(session=session, participant_id=participant_id)
    if staying is not None:
        raise Conflict(f"{participant.reference} is still on a pathway (run {staying})")
    run = events.start(
        session=session,
        rules=rules,
        participant=participant,
        now=now,
        dashboard_url=dashboard_url,
    )
    session.commit()
    if orchestrator is not None:
        start_flow(session=session, pathway_run_id=run.id or 0, orchestrator=orchestrator)
    session.refresh(run)
    return run


@dataclass(frozen=True)
class TimelineEntry:
    step: StepView
    events: list[EventView]

    @property
    def decision(self) -> EventView | None:
        return next((e for e in self.events if e.kind is EventKind.DECISION), None)


@dataclass(frozen=True)
class Timeline:
    participant: Participant
    pathway_runs: list[PathwayRun]
    entries: list[TimelineEntry]
    name: str = ""  # as the reader may read it (`policy.shown_name`)
    identity: bool = True  # the reader may read the last name, birth year and municipality


def participant_timeline(
    *, session: Session, rules: Rules, user: User, participant_id: int
) -> Timeline:
    """Return a participant, their pathway runs, and every step with its events, oldest first."""
    participant = get_row(session, Participant, participant_id)
    steps = list_steps(
        session=session, rules=rules, user=user, participant_id=participant_id, mine=False
    )
    # An advisor also opens the page of a participant one of whose steps is assigned to them;
    # a partner only while it follows the participant (a referral or one of its steps open).
    followed = policy.can(user, Action.READ_PARTICIPANT, participant, session=session)
    if not followed and not (user.role is Role.ADVISOR and steps):
        raise Forbidden("this participant is not followed by you or your organisation")
    entries = [
        TimelineEntry(step=view, events=step_events(session=session, step_run_id=view.id))
        for view in sorted(steps, key=lambda v: (v.pathway_run_id, v.seq))
    ]
    runs = session.exec(select(PathwayRun).where(PathwayRun.participant_id == participant_id)).all()
    return Timeline(
        participant=participant,
        pathway_runs=list(runs),
        entries=entries,
        name=policy.shown_name(user, participant),
        identity=policy.can(user, Action.READ_IDENTITY, participant),
    )


def list_participants(*, session: Session, user: User) -> list[Participant]:
    """Return the participants a user follows (all of them for the coordinator)."""
    query = select(Participant).order_by(col(Participant.id))
    scope = policy.participant_scope(user)
    if scope is not None:
        query = query.where(scope)
    return list(session.exec(query).all())
