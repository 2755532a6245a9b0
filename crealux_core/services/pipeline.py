"""The coordinator's pipeline board: where the active pathways are, which are late or stalled,
the list behind each count, and the programme's flows month by month.

Every count is one grouped SQL query over one row per active pathway (its current step, its
route, its latest event), so the board costs the same few queries with 50 pathways or 10,000;
the lists behind the counts are paged in SQL.

- A pathway's *step* is its current step (open or scheduled, not an optional one; the furthest
  if there were several), grouped by step key across the pathway's versions and titled as the
  newest version that has it.
- Its *route* is what the latest orientation decided (`OrientationAdvice.decided_route`); a run
  with no recorded orientation (an older version of the pathway) takes the route its current
  step belongs to (ROUTE_OF_STEP); one not yet oriented is NOT_ORIENTED.
- *Overdue*: its open step is past its due date (or its overdue deadline).
- *Stalled*: no event moved it for `pipeline.stalled_after` (rules/indicators.yaml, 30 days
  when there is no such file): the latest event the flow sees (`PathwayRun.last_event_id`, a
  comment does not count), or its start when it has none. A pathway waiting for a later date is
  not stalled.
- *Scheduled*: its step opens at a later date (post-creation checkpoints, six-month follow-up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, and_, case, extract, func, literal, or_, union
from sqlalchemy import select as select_rows
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from crealux_core.domain.indicators import Funnel, MonthFlow, ReportCharts
from crealux_core.models import (
    CURRENT_STEP_STATUSES,
    BusinessCreation,
    OrientationAdvice,
    OutreachAction,
    OutreachCategory,
    Participant,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    Placement,
    Stay,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.rules.specs import Rules
from crealux_core.services import policy
from crealux_core.services.errors import Forbidden
from crealux_core.services.policy import Action
from crealux_core.services.reconcile import stuck_pathways
from crealux_core.services.reports import stay_overlaps

DEFAULT_STALLED_AFTER = timedelta(days=30)
NO_STEP = "-"  # the step key of active pathways that wait on no step (between two steps)
NOT_ORIENTED = "none"  # the route of a pathway no orientation has decided yet
NO_STEP_TITLE = "Sans étape en cours"
NOT_ORIENTED_TITLE = "Pas encore orienté·e"
# The route a pathway is on when no orientation decision was recorded for it: the route its
# current step belongs to (the values are the orientation's `route` choices).
ROUTE_OF_STEP = {
    "social_accompaniment": "social",
    "training": "training",
    "job_search": "employment",
    "business_creation": "creation",
}
ROUTE_TITLES = {
    "creation": "Création d'activité",
    "training": "Formation",
    "employment": "Recherche active d'emploi",
    "social": "Accompagnement social",
    "exit": "Fin du parcours",
}
MAX_LIMIT = 200
CREATED_STATUSES = ("principal", "complementary")

Only = Literal["all", "overdue", "stalled", "scheduled"]
ONLY_VALUES: tuple[Only, ...] = ("all", "overdue", "stalled", "scheduled")


def _require_coordinator(user: User) -> None:
    if not policy.can(user, Action.READ_PIPELINE):
        raise Forbidden("only the coordination sees the pipeline board and the programme's flows")


def stalled_after(rules: Rules) -> timedelta:
    """Return how long without an event makes a pathway stalled (rules/indicators.yaml)."""
    return rules.indicators.pipeline.stalled_after if rules.indicators else DEFAULT_STALLED_AFTER


def flow_run_url(prefect_ui_url: str, flow_run_id: str) -> str:
    """Return the address of a flow run in the Prefect UI (`Settings.prefect_ui_url`)."""
    return f"{prefect_ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"


def step_titles(rules: Rules) -> dict[str, str]:
    """Return every step key of every version of the pathways with its title in the newest
    version that has it: the default pathway's newest version's order first, then the steps
    only older versions (or other pathways) have."""
    titles: dict[str, str] = {}
    keys = [rules.default_pathway, *(key for key in rules.pathways if key != rules.default_pathway)]
    for key in keys:
        versions = rules.versions.get(key) or {rules.pathways[key].version: rules.pathways[key]}
        for version in sorted(versions, reverse=True):
            for step_key, step in versions[version].steps.items():
                titles.setdefault(step_key, step.title)
    return titles


def route_titles(rules: Rules) -> dict[str, str]:
    """Return the routes' French titles: the orientation's choices, then the defaults."""
    titles = dict(ROUTE_TITLES)
    if rules.orientation is not None:
        titles.update(rules.orientation.routes)
    return titles


# --- one row per active pathway ------------------------------------------------------------


@dataclass(frozen=True)
class _Current:
    """The columns of the one-row-per-active-pathway query the board groups and the lists page."""

    query: Any  # a Select, joined and filtered to the active pathways
    step_key: ColumnElement[Any]
    route: ColumnElement[Any]
    overdue: ColumnElement[bool]
    stalled: ColumnElement[bool]
    scheduled: ColumnElement[bool]
    last_activity: ColumnElement[Any]
    step: Any  # the aliased current StepRun
    event: Any  # the aliased latest PathwayEvent


def _current(*, now: datetime, stalled: timedelta, columns: Sequence[Any]) -> _Current:
    """Build the query of one row per active pathway with `columns`, and the expressions the
    board counts: its current step, its route, whether it is overdue, stalled or scheduled."""
    furthest = (
        select(
            col(StepRun.pathway_run_id).label("run_id"),
            func.max(col(StepRun.seq)).label("seq"),
        )
        .join(PathwayRun, col(PathwayRun.id) == col(StepRun.pathway_run_id))
        .where(
            col(PathwayRun.status) == PathwayStatus.ACTIVE,
            col(StepRun.status).in_(list(CURRENT_STEP_STATUSES)),
            col(StepRun.optional).is_(False),
        )
        .group_by(col(StepRun.pathway_run_id))
        .subquery("furthest")
    )
    oriented_step = aliased(StepRun, name="oriented_step")
    latest_orientation = (
        select(
            col(oriented_step.pathway_run_id).label("run_id"),
            func.max(col(OrientationAdvice.id)).label("advice_id"),
        )
        .join(oriented_step, col(oriented_step.id) == col(OrientationAdvice.step_run_id))
        .group_by(col(oriented_step.pathway_run_id))
        .subquery("latest_orientation")
    )
    step = aliased(StepRun, name="current_step")
    event = aliased(PathwayEvent, name="last_event")
    advice = aliased(OrientationAdvice, name="advice")
    family = case(
        *((col(step.step_key) == key, literal(route)) for key, route in ROUTE_OF_STEP.items()),
        else_=None,
    )
    route = func.coalesce(col(advice.decided_route), family, literal(NOT_ORIENTED))
    step_key = func.coalesce(col(step.step_key), literal(NO_STEP))
    last_activity = func.coalesce(col(event.occurred_at), col(PathwayRun.started_at))
    is_open = col(step.status) == StepStatus.OPEN
    scheduled = col(step.status) == StepStatus.SCHEDULED
    overdue = and_(is_open, or_(col(step.due_at) < now, col(step.overdue_at) <= now))
    is_stalled = and_(
        or_(col(step.status).is_(None), col(step.status) != StepStatus.SCHEDULED),
        last_activity < now - stalled,
    )
    query = (
        select_rows(*columns)  # rows, never scalars: the board and lists swap the columns
        .select_from(PathwayRun)
        .outerjoin(furthest, furthest.c.run_id == col(PathwayRun.id))
        .outerjoin(
            step,
            and_(col(step.pathway_run_id) == col(PathwayRun.id), col(step.seq) == furthest.c.seq),
        )
        .outerjoin(latest_orientation, latest_orientation.c.run_id == col(PathwayRun.id))
        .outerjoin(advice, col(advice.id) == latest_orientation.c.advice_id)
        .outerjoin(event, col(event.id) == col(PathwayRun.last_event_id))
        .where(col(PathwayRun.status) == PathwayStatus.ACTIVE)
    )
    return _Current(
        query=query,
        step_key=step_key,
        route=route,
        overdue=overdue,
        stalled=is_stalled,
        scheduled=scheduled,
        last_activity=last_activity,
        step=step,
        event=event,
    )


def _flag_sum(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --- the board -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    total: int = 0
    overdue: int = 0
    stalled: int = 0
    scheduled: int = 0

    def of(self, only: Only) -> int:
        return self.total if only == "all" else int(getattr(self, only))


@dataclass(frozen=True)
class BoardRow:
    key: str  # a step key (NO_STEP), or a route (NOT_ORIENTED)
    title: str
    counts: Counts


@dataclass(frozen=True)
class Board:
    now: datetime
    stalled_after: timedelta
    totals: Counts
    steps: tuple[BoardRow, ...]
    routes: tuple[BoardRow, ...]
    could_not_heal: int  # active pathways the reconciler gave up on, or is still healing


def _grouped(session: Session, current: _Current) -> dict[tuple[str, str], Counts]:
    """Count the active pathways of each (step, route) pair: one grouped query, a few dozen
    rows whatever the number of pathways."""
    rows = session.exec(
        current.query.with_only_columns(
            current.step_key,
            current.route,
            func.count(col(PathwayRun.id)),
            _flag_sum(current.overdue),
            _flag_sum(current.stalled),
            _flag_sum(current.scheduled),
            maintain_column_froms=True,
        ).group_by(current.step_key, current.route)
    ).all()
    return {
        (str(step), str(route)): Counts(int(total), int(overdue), int(stalled), int(scheduled))
        for step, route, total, overdue, stalled, scheduled in rows
    }


def _add(counts: Sequence[Counts]) -> Counts:
    return Counts(
        total=sum(c.total for c in counts),
        overdue=sum(c.overdue for c in counts),
        stalled=sum(c.stalled for c in counts),
        scheduled=sum(c.scheduled for c in counts),
    )


def _by(pairs: dict[tuple[str, str], Counts], position: int) -> dict[str, Counts]:
    keys = dict.fromkeys(pair[position] for pair in pairs)
    return {key: _add([c for pair, c in pairs.items() if pair[position] == key]) for key in keys}


def _ordered(
    counts: dict[str, Counts], titles: dict[str, str], last: str, last_title: str
) -> tuple[BoardRow, ...]:
    keys = [key for key in titles if key in counts]
    keys += sorted(key for key in counts if key not in titles and key != last)
    if last in counts:
        keys.append(last)
    return tuple(
        BoardRow(key, last_title if key == last else titles.get(key, key), counts[key])
        for key in keys
    )


def pipeline_board(*, session: Session, rules: Rules, user: User, now: datetime) -> Board:
    """Return how many active pathways are on each step and each route, and how many of those
    are overdue, stalled or waiting for a later date; and how many the engine could not heal."""
    _require_coordinator(user)
    stalled = stalled_after(rules)
    current = _current(now=now, stalled=stalled, columns=[col(PathwayRun.id)])
    pairs = _grouped(session, current)
    by_step, by_route = _by(pairs, 0), _by(pairs, 1)
    return Board(
        now=now,
        stalled_after=stalled,
        totals=_add(list(pairs.values())),
        steps=_ordered(by_step, step_titles(rules), NO_STEP, NO_STEP_TITLE),
        routes=_ordered(by_route, route_titles(rules), NOT_ORIENTED, NOT_ORIENTED_TITLE),
        # A first attempt still under way (every pathway of a fresh instance, or after Prefect's
        # database was lost) is not a failure: counted once an attempt did not bring it back.
        could_not_heal=sum(
            1 for stuck in stuck_pathways(session=session, actor=user) if stuck.attempts >= 2
        ),
    )


# --- the list behind a count ---------------------------------------------------------------


@dataclass(frozen=True)
class PipelineRow:
    participant_id: int
    reference: str  # P-00012
    first_name: str
    advisor: str
    pathway_run_id: int
    step_key: str  # NO_STEP when it waits on none
    step_title: str
    step_status: StepStatus | None
    route: str
    route_title: str
    since: datetime | None  # when its current step opened (or was reached)
    due_at: datetime | None
    opens_at: datetime | None  # a scheduled step's opening date
    started_at: datetime  # when the pathway started
    last_event_at: datetime | None  # its latest event the flow sees; None before the first
    flow_run_id: str | None
    overdue: bool
    stalled: bool


@dataclass(frozen=True)
class PipelinePage:
    rows: list[PipelineRow]
    total: int
    offset: int
    limit: int

    @property
    def number(self) -> int:
        return self.offset // self.limit + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


def pipeline_list(
    *,
    session: Session,
    rules: Rules,
    user: User,
    now: datetime,
    step_key: str | None = None,
    route: str | None = None,
    only: Only = "all",
    offset: int = 0,
    limit: int = 50,
) -> PipelinePage:
    """Return a page of the active pathways behind a count of the board: on a step (NO_STEP
    for none) and/or a route, all of them or only the overdue, stalled or scheduled ones.

    Overdue ones come soonest due first, stalled ones longest silent first, scheduled ones
    soonest opening first, all of them longest on their step first."""
    _require_coordinator(user)
    if only not in ONLY_VALUES:
        raise ValueError(f"only: {only!r} is not one of {', '.join(ONLY_VALUES)}")
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    probe = _current(now=now, stalled=stalled_after(rules), columns=[col(PathwayRun.id)])
    step = probe.step
    conditions: list[ColumnElement[bool]] = []
    if step_key is not None:
        conditions.append(probe.step_key == step_key)
    if route is not None:
        conditions.append(probe.route == route)
    if only != "all":
        conditions.append(getattr(probe, only))
    filtered = probe.query.where(*conditions)
    total = session.scalar(
        filtered.with_only_columns(func.count(col(PathwayRun.id)), maintain_column_froms=True)
    )
    since = func.coalesce(col(step.opened_at), col(step.reached_at))
    order: dict[Only, tuple[Any, ...]] = {
        "overdue": (col(step.due_at).is_(None), col(step.due_at)),
        "stalled": (probe.last_activity,),
        "scheduled": (col(step.opens_at).is_(None), col(step.opens_at)),
        "all": (since.is_(None), since),
    }
    # The page from the pathways alone, then its participants and advisors by id: joined in the
    # page query, SQLite walked every active pathway once per advisor.
    rows = session.exec(
        filtered.with_only_columns(
            col(PathwayRun.participant_id),
            col(PathwayRun.id),
            probe.step_key,
            col(step.status),
            probe.route,
            since,
            col(step.due_at),
            col(step.opens_at),
            col(probe.event.occurred_at),
            col(PathwayRun.started_at),
            col(PathwayRun.flow_run_id),
            probe.overdue,
            probe.stalled,
            col(PathwayRun.pathway_key),
            col(PathwayRun.pathway_version),
            maintain_column_froms=True,
        )
        .order_by(*order[only], col(PathwayRun.id))
        .offset(offset)
        .limit(limit)
    ).all()
    people = _people(session, {int(row[0]) for row in rows})
    titles, routes = step_titles(rules), route_titles(rules)
    return PipelinePage(
        rows=[_row(row, people, rules, titles, routes) for row in rows],
        total=int(total),
        offset=offset,
        limit=limit,
    )


def _utc(moment: datetime) -> datetime:
    """A datetime read back without its zone is UTC (every stored datetime is)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


def _people(session: Session, participant_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Return each participant's first name and their advisor's name, in one query."""
    if not participant_ids:
        return {}
    rows = session.exec(
        select(col(Participant.id), col(Participant.first_name), col(User.display_name))
        .join(User, col(User.id) == col(Participant.advisor_id))
        .where(col(Participant.id).in_(participant_ids))
    ).all()
    return {int(pid or 0): (first_name, advisor) for pid, first_name, advisor in rows}


def _row(
    row: Any,
    people: dict[int, tuple[str, str]],
    rules: Rules,
    titles: dict[str, str],
    routes: dict[str, str],
) -> PipelineRow:
    (
        participant_id,
        run_id,
        step_key,
        status,
        route,
        since,
        due_at,
        opens_at,
        last_event_at,
        started_at,
        flow_run_id,
        overdue,
        stalled,
        pathway_key,
        version,
    ) = row
    spec = rules.pathway_version(pathway_key, version)
    own = spec.steps.get(step_key) if spec else None
    first_name, advisor = people.get(int(participant_id), ("", ""))
    return PipelineRow(
        participant_id=int(participant_id),
        reference=f"P-{int(participant_id):05d}",
        first_name=first_name,
        advisor=advisor,
        pathway_run_id=int(run_id),
        step_key=step_key,
        step_title=NO_STEP_TITLE
        if step_key == NO_STEP
        else titles.get(step_key) or (own.title if own else step_key),
        step_status=StepStatus(status) if status else None,
        route=route,
        route_title=NOT_ORIENTED_TITLE if route == NOT_ORIENTED else routes.get(route, route),
        since=_aware(since),
        due_at=_aware(due_at),
        opens_at=_aware(opens_at),
        started_at=_utc(started_at),
        last_event_at=_aware(last_event_at),
        flow_run_id=flow_run_id,
        overdue=bool(overdue),
        stalled=bool(stalled),
    )


# --- the programme's flows -----------------------------------------------------------------


def _months(start: date, end: date) -> list[date]:
    months, month = [], date(start.year, start.month, 1)
    while month <= end:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def _per_month(session: Session, day: Any, start: date, end: date) -> dict[date, int]:
    year = extract("year", day).cast(Integer)
    month = extract("month", day).cast(Integer)
    rows = session.exec(
        select(year, month, func.count(col(Stay.id)))
        .where(day >= start, day <= end)
        .group_by(year, month)
    ).all()
    return {date(int(y), int(m), 1): int(count) for y, m, count in rows}


def monthly_flows(*, session: Session, user: User, start: date, end: date) -> list[MonthFlow]:
    """Return, for each calendar month of [start, end] (both days included), how many stays
    started (enrolments, a re-entry included) and how many ended (exits), counted in SQL."""
    _require_coordinator(user)
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    started = _per_month(session, col(Stay.started_on), start, end)
    ended = _per_month(session, col(Stay.ended_on), start, end)
    return [
        MonthFlow(month, started.get(month, 0), ended.get(month, 0))
        for month in _months(start, end)
    ]


def funnel(
    *, session: Session, rules: Rules, user: User, start: date, end: date, today: date
) -> Funnel:
    """Return the funnel of [start, end] (both days included): people sensitised, participants
    accompanied (as the report counts them: still open counts up to today), participants who
    created an activity or found a job (each counted once)."""
    _require_coordinator(user)
    del rules  # the funnel's steps are fixed; kept for the signature the pages share
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    sensitised = session.exec(
        select(func.coalesce(func.sum(col(OutreachAction.people_reached)), 0)).where(
            col(OutreachAction.category) == OutreachCategory.CANDIDATES,
            col(OutreachAction.held_on) >= start,
            col(OutreachAction.held_on) <= end,
        )
    ).one()
    accompanied = session.exec(
        select(func.count(func.distinct(col(Stay.participant_id)))).where(
            stay_overlaps(start, end, today)
        )
    ).one()
    created: Any = select(col(BusinessCreation.participant_id).label("participant_id")).where(
        col(BusinessCreation.status).in_(CREATED_STATUSES),
        col(BusinessCreation.started_on) >= start,
        col(BusinessCreation.started_on) <= end,
    )
    employed: Any = select(col(Placement.participant_id).label("participant_id")).where(
        col(Placement.employed).is_(True),
        col(Placement.started_on) >= start,
        col(Placement.started_on) <= end,
    )
    either = union(created, employed).subquery("either")  # UNION removes the duplicates
    counts = session.exec(
        select(
            select(
                func.count(func.distinct(created.subquery().c.participant_id))
            ).scalar_subquery(),
            select(
                func.count(func.distinct(employed.subquery().c.participant_id))
            ).scalar_subquery(),
            select(func.count()).select_from(either).scalar_subquery(),
        )
    ).one()
    return Funnel(
        sensitised=int(sensitised),
        accompanied=int(accompanied),
        created=int(counts[0]),
        employed=int(counts[1]),
        created_or_employed=int(counts[2]),
    )


def report_charts(
    *, session: Session, rules: Rules, user: User, start: date, end: date, today: date
) -> ReportCharts:
    """Return what the report's charts draw for [start, end]: the funnel, and the enrolments
    and exits month by month up to the current one (nobody enters or leaves in the future)."""
    last_month = min(end, max(start, today))
    return ReportCharts(
        funnel=funnel(session=session, rules=rules, user=user, start=start, end=end, today=today),
        flows=tuple(monthly_flows(session=session, user=user, start=start, end=last_month)),
    )
