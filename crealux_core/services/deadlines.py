"""The sweeper: finds in the columns what has fallen due and acts on it exactly once.

Reminders and escalations are claimed with one compare-and-set update (`reminded_at IS NULL`),
and their notifications are queued in the same transaction, so two sweepers at once never send
one twice. A step with an assignee (an advisor's step) reminds that advisor, by name; every
other step reminds its organisation. An escalation goes to the coordination, and the advisor
of an assigned step is told as well that it is overdue. Overdue steps and scheduled openings
are events, committed through `events`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from crealux_core.models import (
    Notification,
    NotificationStatus,
    Participant,
    PathwayRun,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.rules.specs import PathwaySpec, Rules
from crealux_core.services import events
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import Conflict
from crealux_core.services.referrals import sweep_referrals

BATCH = 5000


@dataclass
class Swept:
    reminded: int = 0
    escalated: int = 0
    expired: int = 0
    opened: int = 0
    referrals_reminded: int = 0
    referrals_escalated: int = 0

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)


class _Definitions:
    """The definitions of the runs met in one sweep, read once each."""

    def __init__(self, session: Session, rules: Rules) -> None:
        self.session, self.rules = session, rules
        self.cache: dict[tuple[str, int], PathwaySpec | None] = {}

    def of(self, run: PathwayRun) -> PathwaySpec | None:
        key = (run.pathway_key, run.pathway_version)
        if key not in self.cache:
            try:
                self.cache[key] = definition_of(session=self.session, rules=self.rules, run=run)
            except Conflict:
                self.cache[key] = None
        return self.cache[key]


def _claim(
    session: Session,
    *,
    due: ColumnElement[Any],
    done: ColumnElement[Any],
    done_name: str,
    now: datetime,
    pathway_run_id: int | None,
) -> list[int]:
    """Mark up to BATCH open steps whose time has come; return their ids (once, ever)."""
    query = (
        update(StepRun)
        .where(col(StepRun.status) == StepStatus.OPEN, due <= now, done.is_(None))
        .values({done_name: now})
        .returning(col(StepRun.id))
        .execution_options(synchronize_session=False)
    )
    if pathway_run_id is not None:
        query = query.where(col(StepRun.pathway_run_id) == pathway_run_id)
    else:
        limited = (
            select(StepRun.id)
            .where(StepRun.status == StepStatus.OPEN, due <= now, done.is_(None))
            .limit(BATCH)
        )
        query = query.where(col(StepRun.id).in_(limited.scalar_subquery()))
    return [row[0] for row in session.execute(query).all()]


def _recipients(
    session: Session,
    *,
    kind: str,
    rows: Sequence[tuple[StepRun, PathwayRun, Participant, User | None]],
    definitions: _Definitions,
    coordinator_id: int | None,
    dashboard_url: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return the outbox rows of the claimed steps, as values to insert: one per recipient of
    step_due_soon (a reminder) or step_overdue (an escalation), as services/routing.py routes
    them. By default a reminder goes to the step's advisor (its assignee) or else its
    organisation; an escalation to the coordination, and the advisor is told their step is
    overdue."""
    from crealux_core.services import routing  # routing reads what events writes

    found = routing.lookups(session, coordinator_id)
    told: list[dict[str, Any]] = []
    pending = {"status": NotificationStatus.PENDING, "attempts": 0, "is_digest": False}
    for step_run, run, participant, assignee in rows:
        definition = definitions.of(run)
        if definition is None or step_run.step_key not in definition.steps:
            continue
        messages_of_step = routing.step_deadline_rows(
            session,
            rules=definitions.rules,
            kind=kind,
            participant=participant,
            pathway_run_id=run.id or 0,
            step_run=step_run,
            step=definition.step(step_run.step_key),
            assignee=assignee,
            now=now,
            dashboard_url=dashboard_url,
            lookups=found,
        )
        told += [{**message.values(), **pending} for message in messages_of_step]
    return told


def _notify(
    session: Session,
    *,
    step_ids: Sequence[int],
    kind: str,
    coordinator_id: int | None,
    definitions: _Definitions,
    dashboard_url: str,
    now: datetime,
) -> None:
    """Queue the messages of the claimed steps (see `_recipients`), in one insert."""
    if not step_ids:
        return
    rows = session.exec(
        select(StepRun, PathwayRun, Participant, User)
        .join(PathwayRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
        .join(Participant, col(PathwayRun.participant_id) == col(Participant.id))
        .outerjoin(User, col(StepRun.assignee_id) == col(User.id))
        .where(col(StepRun.id).in_(step_ids))
    ).all()
    values = _recipients(
        session,
        kind=kind,
        rows=rows,
        definitions=definitions,
        coordinator_id=coordinator_id,
        dashboard_url=dashboard_url,
        now=now,
    )
    if values:
        session.execute(insert(Notification), values)


def _remind_and_escalate(
    session: Session,
    *,
    rules: Rules,
    now: datetime,
    dashboard_url: str,
    pathway_run_id: int | None,
    swept: Swept,
) -> None:
    definitions = _Definitions(session, rules)
    coordinator = events.coordinator_organisation(session, rules)
    passes: list[tuple[str, Any, Any, str]] = [
        ("reminder", col(StepRun.remind_at), col(StepRun.reminded_at), "reminded_at"),
        ("escalation", col(StepRun.escalate_at), col(StepRun.escalated_at), "escalated_at"),
    ]
    for kind, due, done, done_name in passes:
        while True:
            ids = _claim(
                session,
                due=due,
                done=done,
                done_name=done_name,
                now=now,
                pathway_run_id=pathway_run_id,
            )
            _notify(
                session,
                step_ids=ids,
                kind=kind,
                coordinator_id=coordinator.id if coordinator else None,
                definitions=definitions,
                dashboard_url=dashboard_url,
                now=now,
            )
            session.commit()
            if kind == "reminder":
                swept.reminded += len(ids)
            else:
                swept.escalated += len(ids)
            if len(ids) < BATCH or pathway_run_id is not None:
                break


def _due_ids(
    session: Session, condition: ColumnElement[bool], pathway_run_id: int | None
) -> list[int]:
    query = select(StepRun.id).where(condition).order_by(col(StepRun.id)).limit(BATCH)
    if pathway_run_id is not None:
        query = query.where(StepRun.pathway_run_id == pathway_run_id)
    return [step_id for step_id in session.exec(query).all() if step_id is not None]


def sweep(
    *,
    session: Session,
    rules: Rules,
    now: datetime,
    dashboard_url: str,
    pathway_run_id: int | None = None,
) -> Swept:
    """Act on every deadline that has passed (of one pathway, or all); each exactly once."""
    swept = Swept()
    _remind_and_escalate(
        session,
        rules=rules,
        now=now,
        dashboard_url=dashboard_url,
        pathway_run_id=pathway_run_id,
        swept=swept,
    )
    overdue = and_(col(StepRun.status) == StepStatus.OPEN, col(StepRun.overdue_at) <= now)
    for step_id in _due_ids(session, overdue, pathway_run_id):
        if events.expire(
            session=session, rules=rules, step_run_id=step_id, now=now, dashboard_url=dashboard_url
        ):
            swept.expired += 1
    opening = and_(col(StepRun.status) == StepStatus.SCHEDULED, col(StepRun.opens_at) <= now)
    for step_id in _due_ids(session, opening, pathway_run_id):
        if events.open_scheduled(
            session=session, rules=rules, step_run_id=step_id, now=now, dashboard_url=dashboard_url
        ):
            swept.opened += 1
    if pathway_run_id is None:  # referrals' answers are due by organisation, not by pathway
        answered = sweep_referrals(
            session=session, rules=rules, now=now, dashboard_url=dashboard_url
        )
        swept.referrals_reminded = answered.reminded
        swept.referrals_escalated = answered.escalated
    return swept
