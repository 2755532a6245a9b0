"""What people are told when a pathway moves: queued in the outbox in the same transaction as
the event that caused it (`events` calls these hooks), sent after the commit.

The participant's advisor is told, by name (`recipient_user_id`), when someone else (a
partner, the coordinator) completes or skips a step of their participant, and when the pathway
ends. Each message's `event_key` (the step, the pathway) makes it once only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from crealux_core.domain import messages
from crealux_core.models import (
    EventKind,
    Notification,
    Organisation,
    Participant,
    PathwayEvent,
    PathwayRun,
    StepRun,
    User,
)
from crealux_core.rules.specs import Rules, StepSpec
from crealux_core.services import routing
from crealux_core.services.lookup import get_row


def queue_for_user(
    session: Session,
    *,
    key: str,
    user: User,
    pathway_run_id: int | None,
    message: messages.Message,
    now: datetime,
) -> None:
    """Queue a message to a person (their e-mail, else their organisation's channels), once:
    a key already queued is left as it is."""
    if session.exec(select(Notification.id).where(Notification.event_key == key)).first():
        return
    session.add(
        Notification(
            event_key=key,
            organisation_id=user.organisation_id,
            recipient_user_id=user.id,
            pathway_run_id=pathway_run_id,
            title=message.title,
            body=message.body,
            html=message.html or None,
            link=message.link,
            created_at=now,
        )
    )


def _who(session: Session, actor: User) -> str:
    """Name who acted, with their organisation (a partner's staff, not a participant)."""
    organisation = session.get(Organisation, actor.organisation_id)
    return f"{actor.display_name} ({organisation.name})" if organisation else actor.display_name


def step_closed(
    session: Session,
    *,
    run: PathwayRun,
    step_run: StepRun,
    step: StepSpec,
    event: PathwayEvent,
    now: datetime,
    dashboard_url: str,
) -> None:
    """Queue what a closed step (decided or skipped) tells: the participant's advisor when
    someone else (a partner) closed it."""
    if event.kind not in (EventKind.DECISION, EventKind.SKIP) or event.actor_id is None:
        return
    participant = get_row(session, Participant, run.participant_id)
    if event.actor_id == participant.advisor_id:
        return
    actor = get_row(session, User, event.actor_id)
    advisor = get_row(session, User, participant.advisor_id)
    queue_for_user(
        session,
        key=f"step-closed:{step_run.id}",
        user=advisor,
        pathway_run_id=run.id,
        message=messages.step_closed(
            step=step,
            participant_reference=participant.reference,
            skipped=event.kind is EventKind.SKIP,
            by=_who(session, actor),
            closed_at=now,
            dashboard_url=dashboard_url,
            step_run_id=step_run.id or 0,
        ),
        now=now,
    )


def pathway_ended(
    session: Session,
    *,
    run: PathwayRun,
    reason: str,
    now: datetime,
    dashboard_url: str,
    rules: Rules | None = None,
) -> None:
    """Queue what an ended pathway tells (services/routing.py: the participant's advisor
    by default); without `rules`, the built-in route."""
    routing.queue_pathway_ended(
        session,
        rules=rules,
        participant=get_row(session, Participant, run.participant_id),
        pathway_run_id=run.id or 0,
        reason=reason,
        now=now,
        dashboard_url=dashboard_url,
    )


def participants_assigned(
    session: Session,
    *,
    key: str,
    participants: Sequence[Participant],
    advisor: User,
    actor: User,
    pathway_run_id: int | None,
    now: datetime,
    dashboard_url: str,
) -> None:
    """Queue one message telling an advisor that someone else gave them participants to follow
    (the coordinator enrolling, a caseload moved); nothing when they did it themselves."""
    if not participants or actor.id == advisor.id:
        return
    queue_for_user(
        session,
        key=key,
        user=advisor,
        pathway_run_id=pathway_run_id,
        message=messages.participants_assigned(
            participant_references=[p.reference for p in participants],
            by=_who(session, actor),
            assigned_at=now,
            dashboard_url=dashboard_url,
            participant_id=participants[0].id if len(participants) == 1 else None,
        ),
        now=now,
    )
