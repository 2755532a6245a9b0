"""An advisor's day, a page at a time: the worklist and the participants list.

Both are paginated and filtered in SQL, so a page costs the same with 50 steps or 50,000. The
access rules are WHERE clauses: an advisor gets the steps assigned to them and the participants
they follow, a partner the steps of their organisation and the participants who have one, the
coordinator everything. (`steps.list_steps` and `participants.list_participants` load whole lists
for the CLI and the timeline; they are left as they are.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import Session, col, select

from crealux_core.models import (
    CURRENT_STEP_STATUSES,
    Gender,
    Organisation,
    Participant,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.rules.specs import Rules
from crealux_core.services import policy

DUE_SOON = timedelta(days=3)
PER_PAGE = 25
MAX_PER_PAGE = 200
_REFERENCE = re.compile(r"p-?0*(\d{1,9})", re.IGNORECASE)

Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    """One page of a list, and how many rows the whole list has."""

    rows: list[Row]
    total: int
    number: int  # from 1
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)  # e.g. overdue, due_soon

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class Urgency(StrEnum):
    OVERDUE = "overdue"  # past its due date
    DUE_SOON = "due_soon"  # due within DUE_SOON


def urgency(due_at: datetime | None, now: datetime) -> Urgency | None:
    """Return whether a step is late or due within three days; a step without a due date is
    never either."""
    if due_at is None:
        return None
    if due_at < now:
        return Urgency.OVERDUE
    if due_at <= now + DUE_SOON:
        return Urgency.DUE_SOON
    return None


@dataclass(frozen=True)
class WorklistFilters:
    step_key: str | None = None
    participant: str = ""  # a name, or a reference (P-00012, or 12)
    organisation_id: int | None = None  # the coordinator's filter; others are limited anyway


@dataclass(frozen=True)
class WorklistRow:
    step_id: int
    participant_id: int
    participant_reference: str
    participant_name: str
    step_key: str
    title: str
    status: StepStatus
    due_at: datetime | None
    opened_at: datetime | None
    organisation: str
    optional: bool
    assignee: str | None
    urgency: Urgency | None


@dataclass(frozen=True)
class ParticipantRow:
    participant_id: int
    reference: str
    full_name: str
    gender: Gender
    municipality: str | None
    enrolled_at: datetime
    advisor: str
    current_step: str | None  # its title; None when there is none
    pathway_completed: bool  # the latest pathway ended
    last_event_at: datetime | None


def _page_bounds(number: int, per_page: int) -> tuple[int, int]:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    return max(1, number), per_page


def step_title(rules: Rules, pathway_key: str, version: int, step_key: str) -> str:
    """Return a step's title in the version of the pathway it belongs to (or the newest)."""
    spec = rules.pathway_version(pathway_key, version) or rules.pathways.get(pathway_key)
    step = (spec.steps.get(step_key) or spec.optional.get(step_key)) if spec else None
    return step.title if step else step_key


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.casefold()}%"


def participant_matches(search: str, *, full_names: bool = True) -> ColumnElement[bool] | None:
    """Return the SQL condition "this participant's name or reference matches", or None when
    the search is empty. A reference (`P-00012`, `p12`, `12`) finds that participant. Without
    `full_names` (a partner, who does not read last names) only the first name is searched."""
    wanted = " ".join(search.split())
    if not wanted:
        return None
    pattern = _like(wanted)
    if full_names:
        name = func.lower(col(Participant.first_name) + " " + col(Participant.last_name))
        reversed_name = func.lower(col(Participant.last_name) + " " + col(Participant.first_name))
        conditions: list[ColumnElement[bool]] = [
            name.like(pattern, escape="\\"),
            reversed_name.like(pattern, escape="\\"),
        ]
    else:
        conditions = [func.lower(col(Participant.first_name)).like(pattern, escape="\\")]
    reference = _REFERENCE.fullmatch(wanted) or (re.fullmatch(r"\d{1,9}", wanted) and wanted)
    if reference:
        number = int(reference.group(1) if isinstance(reference, re.Match) else reference)
        conditions.append(col(Participant.id) == number)
    return or_(*conditions)


def _worklist_scope(user: User) -> ColumnElement[bool] | None:
    """The steps of a user's worklist (`steps._may_see` with `mine`, as SQL)."""
    return policy.step_scope(user)


def _worklist_conditions(
    user: User, filters: WorklistFilters, statuses: Sequence[StepStatus]
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(StepRun.status).in_(list(statuses))]
    scope = _worklist_scope(user)
    if scope is not None:
        conditions.append(scope)
    if filters.step_key:
        conditions.append(col(StepRun.step_key) == filters.step_key)
    if filters.organisation_id is not None:
        conditions.append(col(StepRun.organisation_id) == filters.organisation_id)
    search = participant_matches(
        filters.participant, full_names=policy.can(user, policy.Action.READ_IDENTITY)
    )
    if search is not None:
        conditions.append(search)
    return conditions


def worklist(
    *,
    session: Session,
    rules: Rules,
    user: User,
    now: datetime,
    filters: WorklistFilters = WorklistFilters(),
    page: int = 1,
    per_page: int = PER_PAGE,
    statuses: Sequence[StepStatus] = (StepStatus.OPEN,),
) -> Page[WorklistRow]:
    """Return a page of a user's open steps, soonest due first (those without a due date last),
    with how many match in all, and how many of those are overdue and due within three days."""
    number, per_page = _page_bounds(page, per_page)
    conditions = _worklist_conditions(user, filters, statuses)
    needs_participant = bool(filters.participant.strip())
    counted = select(
        func.count(),
        func.coalesce(func.sum(case((col(StepRun.due_at) < now, 1), else_=0)), 0),
        func.coalesce(
            func.sum(
                case(
                    (
                        and_(col(StepRun.due_at) >= now, col(StepRun.due_at) <= now + DUE_SOON),
                        1,
                    ),
                    else_=0,
                )
            ),
            0,
        ),
    ).select_from(StepRun)
    if needs_participant:
        counted = counted.join(PathwayRun, col(StepRun.pathway_run_id) == col(PathwayRun.id)).join(
            Participant, col(PathwayRun.participant_id) == col(Participant.id)
        )
    total, overdue, due_soon = session.exec(counted.where(*conditions)).one()
    # The page's ids first, from the step table alone (and the participant's when searching),
    # then the rows of those ids only: a far page does not join every step before it.
    order = (col(StepRun.due_at).is_(None), col(StepRun.due_at), col(StepRun.id))
    ids = select(col(StepRun.id))
    if needs_participant:
        ids = ids.join(PathwayRun, col(StepRun.pathway_run_id) == col(PathwayRun.id)).join(
            Participant, col(PathwayRun.participant_id) == col(Participant.id)
        )
    page_ids = list(
        session.exec(
            ids.where(*conditions).order_by(*order).offset((number - 1) * per_page).limit(per_page)
        ).all()
    )
    query = (
        select(StepRun, PathwayRun, Participant, Organisation)
        .join(PathwayRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
        .join(Participant, col(PathwayRun.participant_id) == col(Participant.id))
        .join(Organisation, col(StepRun.organisation_id) == col(Organisation.id))
        .where(col(StepRun.id).in_(page_ids))
        .order_by(*order)
    )
    found = list(session.exec(query).all()) if page_ids else []
    names = _display_names(session, {step.assignee_id for step, *_ in found if step.assignee_id})
    rows = [
        WorklistRow(
            step_id=step.id or 0,
            participant_id=participant.id or 0,
            participant_reference=participant.reference,
            participant_name=policy.shown_name(user, participant),
            step_key=step.step_key,
            title=step_title(rules, run.pathway_key, run.pathway_version, step.step_key),
            status=step.status,
            due_at=step.due_at,
            opened_at=step.opened_at,
            organisation=organisation.name,
            optional=step.optional,
            assignee=names.get(step.assignee_id) if step.assignee_id else None,
            urgency=urgency(step.due_at, now),
        )
        for step, run, participant, organisation in found
    ]
    return Page(
        rows=rows,
        total=int(total),
        number=number,
        per_page=per_page,
        counts={"overdue": int(overdue), "due_soon": int(due_soon)},
    )


def _display_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.exec(
        select(col(User.id), col(User.display_name)).where(col(User.id).in_(user_ids))
    ).all()
    return {int(user_id or 0): name for user_id, name in rows}


def worklist_step_choices(*, rules: Rules) -> list[tuple[str, str]]:
    """Return the steps a worklist can be filtered by, (key, title), in the newest versions'
    order then the older versions' steps, the optional steps last."""
    choices: dict[str, str] = {}
    specs = [rules.pathways[key] for key in rules.pathways]
    specs += [spec for versions in rules.versions.values() for spec in versions.values()]
    for spec in specs:
        for key, step in spec.steps.items():
            choices.setdefault(key, step.title)
    for spec in specs:
        for key, step in spec.optional.items():
            choices.setdefault(key, step.title)
    return list(choices.items())


def organisation_choices(*, session: Session) -> list[tuple[int, str]]:
    """Return the organisations by name: what the coordinator filters the worklist by."""
    rows = session.exec(
        select(Organisation.id, Organisation.name).order_by(col(Organisation.name))
    ).all()
    return [(int(org_id or 0), name) for org_id, name in rows]


def _participant_scope(user: User) -> ColumnElement[bool] | None:
    """The participants a user follows (`participants.list_participants`, as SQL)."""
    return policy.participant_scope(user)


def participants_page(
    *,
    session: Session,
    rules: Rules,
    user: User,
    search: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[ParticipantRow]:
    """Return a page of the participants a user follows, by name, with each one's advisor,
    current step and latest event."""
    number, per_page = _page_bounds(page, per_page)
    conditions: list[ColumnElement[bool]] = []
    full_names = policy.can(user, policy.Action.READ_IDENTITY)
    for condition in (_participant_scope(user), participant_matches(search, full_names=full_names)):
        if condition is not None:
            conditions.append(condition)
    total = session.exec(select(func.count()).select_from(Participant).where(*conditions)).one()
    query = (
        select(Participant, User.display_name)
        .join(User, col(Participant.advisor_id) == col(User.id))
        .where(*conditions)
        .order_by(col(Participant.last_name), col(Participant.first_name), col(Participant.id))
        .offset((number - 1) * per_page)
        .limit(per_page)
    )
    found = list(session.exec(query).all())
    ids = [participant.id or 0 for participant, _ in found]
    latest_runs = _latest_runs(session, ids)
    current = _current_steps(session, rules, [run.id or 0 for run in latest_runs.values()])
    last_events = _last_events(session, ids)
    rows = []
    for participant, advisor in found:
        run = latest_runs.get(participant.id or 0)
        rows.append(
            ParticipantRow(
                participant_id=participant.id or 0,
                reference=participant.reference,
                full_name=policy.shown_name(user, participant),
                gender=participant.gender,
                municipality=(
                    participant.municipality
                    if policy.can(user, policy.Action.READ_IDENTITY, participant)
                    else None
                ),
                enrolled_at=participant.enrolled_at,
                advisor=advisor,
                current_step=current.get(run.id or 0) if run else None,
                pathway_completed=run is not None and run.status is PathwayStatus.COMPLETED,
                last_event_at=last_events.get(participant.id or 0),
            )
        )
    return Page(rows=rows, total=int(total), number=number, per_page=per_page)


def _latest_runs(session: Session, participant_ids: list[int]) -> dict[int, PathwayRun]:
    """Return each participant's latest pathway run (the one that shows where they are)."""
    if not participant_ids:
        return {}
    runs = session.exec(
        select(PathwayRun)
        .where(col(PathwayRun.participant_id).in_(participant_ids))
        .order_by(col(PathwayRun.id))
    ).all()
    return {run.participant_id: run for run in runs}  # the latest id wins


def _current_steps(session: Session, rules: Rules, run_ids: list[int]) -> dict[int, str]:
    """Return the title of each run's current step: its open or scheduled step of the pathway
    itself (not an optional one), the furthest one."""
    if not run_ids:
        return {}
    rows = session.exec(
        select(
            col(StepRun.pathway_run_id),
            col(StepRun.step_key),
            col(PathwayRun.pathway_key),
            col(PathwayRun.pathway_version),
        )
        .join(PathwayRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
        .where(
            col(StepRun.pathway_run_id).in_(run_ids),
            col(StepRun.status).in_(list(CURRENT_STEP_STATUSES)),
            col(StepRun.optional).is_(False),
        )
        .order_by(col(StepRun.seq))
    ).all()
    return {
        run_id: step_title(rules, pathway_key, version, step_key)
        for run_id, step_key, pathway_key, version in rows  # the highest seq wins
    }


def _last_events(session: Session, participant_ids: list[int]) -> dict[int, datetime]:
    if not participant_ids:
        return {}
    rows: Sequence[Any] = session.exec(
        select(PathwayRun.participant_id, func.max(PathwayEvent.occurred_at))
        .join(PathwayEvent, col(PathwayEvent.pathway_run_id) == col(PathwayRun.id))
        .where(col(PathwayRun.participant_id).in_(participant_ids))
        .group_by(col(PathwayRun.participant_id))
    ).all()
    return {participant_id: occurred_at for participant_id, occurred_at in rows if occurred_at}
