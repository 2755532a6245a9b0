"""Training sessions (cohorts): the catalogue, sessions, enrolment from a pathway's training
step with a waiting list, attendance per day, and closing, which moves each enrolled
participant's pathway on through its own decision.

The catalogue is read from the rules: every offer of kind `training` of an organisation
(rules/organisations.yaml), given by that organisation. Who may do what is policy.py's:
MANAGE_TRAINING and RECORD_ATTENDANCE (subject: the id of the organisation giving the module),
ENROL_IN_TRAINING (subject: the participant).

Hours of support: attendance is kept per day here, and counts as `training` support once, through
the decision that closing the session commits on each training step: its `hours` answer is the
hours attended, recorded as TrainingRecord.hours (rules: `records: training.hours`), which
services/support.py sums. Nothing else is written for attendance, so nothing is counted twice;
hours attended in a session not yet closed are not in the totals yet.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from crealux_core.clock import local_today
from crealux_core.models import (
    EnrolmentStatus,
    EventKind,
    Organisation,
    Participant,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    Presence,
    Role,
    SessionStatus,
    StepRun,
    StepStatus,
    TrainingAttendance,
    TrainingDay,
    TrainingEnrolment,
    TrainingRecord,
    TrainingSession,
    User,
)
from crealux_core.rules.forms import validate_outcome
from crealux_core.rules.specs import (
    OfferKind,
    OfferSpec,
    OrganisationKind,
    OrganisationSpec,
    PathwaySpec,
    Rules,
)
from crealux_core.services import events
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from crealux_core.services.lookup import get_row
from crealux_core.services.policy import Action, can, require
from crealux_core.services.ports import Orchestrator
from crealux_core.services.steps import after_commit

# isort: split
# After the models: imported first, domain.messages runs into the cycle rules.specs -> rules ->
# loader -> rules.notifications -> domain.templates -> domain.messages (`python -m crealux.cli
# training close` failed so).
from crealux_core.domain import messages

log = logging.getLogger(__name__)

TRAINING_STEP = "training"  # the pathway's step a participant is enrolled from
PLACE_MAX = 200
MAX_CAPACITY = 200
MAX_DAYS = 400

STATUS_LABELS = {
    SessionStatus.PLANNED: "Prévue",
    SessionStatus.OPEN: "En cours",
    SessionStatus.CLOSED: "Clôturée",
}
ENROLMENT_LABELS = {
    EnrolmentStatus.ENROLLED: "Inscrit·e",
    EnrolmentStatus.WAITING: "En liste d'attente",
    EnrolmentStatus.WITHDRAWN: "Désinscrit·e",
}
PRESENCE_LABELS = {
    Presence.PRESENT: "Présent·e",
    Presence.ABSENT: "Absent·e",
    Presence.EXCUSED: "Excusé·e",
}


# -- the catalogue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    """A training module of the catalogue and the organisation that gives it."""

    organisation_key: str
    organisation_name: str
    offer_key: str
    title: str
    hours: float | None
    qualifying: bool
    training_kind: str  # the training step's `training_kind` a session of it records

    @property
    def key(self) -> str:
        return f"{self.organisation_key}/{self.offer_key}"


def training_kind(organisation: OrganisationSpec, offer: OfferSpec) -> str:
    """Return the training step's `training_kind` for a module: `qualifying` when it can give
    a qualification; the other modules of a training centre are social training (life
    project, self-confidence: as the form's label says); any other module (the Village des
    créateurs, a work-integration enterprise's introduction) is pre-qualifying."""
    if offer.qualifying:
        return "qualifying"
    if organisation.kind is OrganisationKind.TRAINING_CENTRE:
        return "social"
    return "pre_qualifying"


def catalogue(*, rules: Rules) -> list[Module]:
    """Return every training module of the rules, by organisation then title."""
    modules = [
        Module(
            organisation_key=org_key,
            organisation_name=org.name,
            offer_key=offer.key,
            title=offer.title,
            hours=offer.hours,
            qualifying=offer.qualifying,
            training_kind=training_kind(org, offer),
        )
        for org_key, org in rules.organisations.items()
        for offer in org.offers.values()
        if offer.kind is OfferKind.TRAINING
    ]
    return sorted(modules, key=lambda m: (m.organisation_name, m.title))


def module(*, rules: Rules, organisation_key: str, offer_key: str) -> Module:
    for item in catalogue(rules=rules):
        if (item.organisation_key, item.offer_key) == (organisation_key, offer_key):
            return item
    raise NotFound(f"no training module {organisation_key}/{offer_key} in the rules")


# -- views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    id: int
    organisation_id: int
    module: Module
    starts_on: date
    ends_on: date
    days: list[tuple[int, date, float]]  # (day id, date, hours)
    capacity: int
    place: str
    status: SessionStatus
    enrolled: int
    waiting: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.enrolled)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "module": self.module.key,
            "title": self.module.title,
            "organisation": self.module.organisation_key,
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "days": [{"id": i, "date": d.isoformat(), "hours": h} for i, d, h in self.days],
            "capacity": self.capacity,
            "place": self.place,
            "status": self.status.value,
            "enrolled": self.enrolled,
            "waiting": self.waiting,
        }


@dataclass(frozen=True)
class RosterEntry:
    """A participant of a session as its roster shows them: first name and reference only."""

    enrolment_id: int
    participant_id: int
    reference: str
    first_name: str
    status: EnrolmentStatus
    position: int | None  # on the waiting list: 1 is next
    hours_attended: float
    completed: bool | None
    qualification: bool | None
    decided: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "enrolment_id": self.enrolment_id,
            "participant_id": self.participant_id,
            "reference": self.reference,
            "first_name": self.first_name,
            "status": self.status.value,
            "position": self.position,
            "hours_attended": self.hours_attended,
            "completed": self.completed,
            "qualification": self.qualification,
            "decided": self.decided,
        }


@dataclass(frozen=True)
class Roster:
    session: SessionView
    entries: list[RosterEntry]
    # (enrolment id, day id) -> (presence, hours)
    attendance: dict[tuple[int, int], tuple[Presence, float]]
    may_manage: bool


def _organisation_key(session: Session, organisation_id: int) -> str:
    return get_row(session, Organisation, organisation_id).key


def _view(session: Session, rules: Rules, row: TrainingSession) -> SessionView:
    counts = dict(
        session.exec(
            select(TrainingEnrolment.status, func.count())
            .where(TrainingEnrolment.training_session_id == row.id)
            .group_by(col(TrainingEnrolment.status))
        ).all()
    )
    days = session.exec(
        select(TrainingDay)
        .where(TrainingDay.training_session_id == row.id)
        .order_by(col(TrainingDay.held_on))
    ).all()
    return SessionView(
        id=row.id or 0,
        organisation_id=row.organisation_id,
        module=module(
            rules=rules,
            organisation_key=_organisation_key(session, row.organisation_id),
            offer_key=row.offer_key,
        ),
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        days=[(day.id or 0, day.held_on, day.hours) for day in days],
        capacity=row.capacity,
        place=row.place,
        status=row.status,
        enrolled=int(counts.get(EnrolmentStatus.ENROLLED, 0)),
        waiting=int(counts.get(EnrolmentStatus.WAITING, 0)),
    )


def may_manage(user: User | None, training_session: TrainingSession) -> bool:
    return can(user, Action.MANAGE_TRAINING, training_session.organisation_id)


def _may_see_session(user: User, row: TrainingSession) -> bool:
    """Partners see their organisation's sessions; advisors every session (to enrol)."""
    if not user.active:
        return False
    return user.role is not Role.PARTNER or row.organisation_id == user.organisation_id


def list_sessions(
    *, session: Session, rules: Rules, user: User, include_closed: bool = True
) -> list[SessionView]:
    """Return the sessions a user may see, soonest first: a partner's staff their
    organisation's only."""
    if not user.active:
        raise Forbidden(f"the account {user.username!r} is deactivated")
    query = select(TrainingSession).order_by(
        col(TrainingSession.starts_on), col(TrainingSession.id)
    )
    if user.role is Role.PARTNER:
        query = query.where(TrainingSession.organisation_id == user.organisation_id)
    if not include_closed:
        query = query.where(TrainingSession.status != SessionStatus.CLOSED)
    return [_view(session, rules, row) for row in session.exec(query).all()]


def _session_row(session: Session, user: User, training_session_id: int) -> TrainingSession:
    row = session.get(TrainingSession, training_session_id, populate_existing=True)
    if row is None or not _may_see_session(user, row):
        # A partner of another organisation is told it does not exist for them.
        raise NotFound(f"training session {training_session_id} does not exist")
    return row


def get_session(
    *, session: Session, rules: Rules, user: User, training_session_id: int
) -> SessionView:
    return _view(session, rules, _session_row(session, user, training_session_id))


def _attended(session: Session, enrolment_ids: Sequence[int]) -> dict[int, float]:
    if not enrolment_ids:
        return {}
    rows = session.exec(
        select(
            TrainingAttendance.enrolment_id, func.coalesce(func.sum(TrainingAttendance.hours), 0)
        )
        .where(col(TrainingAttendance.enrolment_id).in_(enrolment_ids))
        .group_by(col(TrainingAttendance.enrolment_id))
    ).all()
    return {int(enrolment_id): float(hours) for enrolment_id, hours in rows}


def roster(*, session: Session, rules: Rules, user: User, training_session_id: int) -> Roster:
    """Return a session's participants (first name and reference), waiting list in order,
    and its attendance grid. The coordinator and the staff of the organisation giving the
    module see everyone; an advisor only the participants they follow."""
    row = _session_row(session, user, training_session_id)
    manager = may_manage(user, row)
    if user.role is Role.PARTNER and not manager:
        raise Forbidden(f"{user.username} may not see this session's participants")
    query = (
        select(TrainingEnrolment, Participant)
        .join(Participant, col(Participant.id) == col(TrainingEnrolment.participant_id))
        .where(TrainingEnrolment.training_session_id == training_session_id)
        .order_by(col(TrainingEnrolment.queued_at), col(TrainingEnrolment.id))
    )
    if not manager:
        query = query.where(Participant.advisor_id == user.id)
    rows = session.exec(query).all()
    hours = _attended(session, [e.id or 0 for e, _ in rows])
    # Positions count everyone waiting, whoever may see them.
    waiting_ids = session.exec(
        select(TrainingEnrolment.id)
        .where(
            TrainingEnrolment.training_session_id == training_session_id,
            TrainingEnrolment.status == EnrolmentStatus.WAITING,
        )
        .order_by(col(TrainingEnrolment.queued_at), col(TrainingEnrolment.id))
    ).all()
    positions = {enrolment_id: index + 1 for index, enrolment_id in enumerate(waiting_ids)}
    entries = [
        RosterEntry(
            enrolment_id=enrolment.id or 0,
            participant_id=participant.id or 0,
            reference=participant.reference,
            first_name=participant.first_name,
            status=enrolment.status,
            position=positions.get(enrolment.id or 0),
            hours_attended=round(hours.get(enrolment.id or 0, 0.0), 2),
            completed=enrolment.completed,
            qualification=enrolment.qualification,
            decided=enrolment.decision_event_id is not None,
        )
        for enrolment, participant in rows
    ]
    attendance: dict[tuple[int, int], tuple[Presence, float]] = {}
    if entries:
        marks = session.exec(
            select(TrainingAttendance).where(
                col(TrainingAttendance.enrolment_id).in_([e.enrolment_id for e in entries])
            )
        ).all()
        attendance = {
            (mark.enrolment_id, mark.training_day_id): (mark.presence, mark.hours) for mark in marks
        }
    return Roster(
        session=_view(session, rules, row),
        entries=entries,
        attendance=attendance,
        may_manage=manager,
    )


# -- sessions -----------------------------------------------------------------------------------


def _weekdays(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def create_session(
    *,
    session: Session,
    rules: Rules,
    user: User,
    organisation_key: str,
    offer_key: str,
    starts_on: date,
    ends_on: date,
    capacity: int,
    place: str,
    now: datetime,
    days: Sequence[date] | None = None,
    hours_per_day: float = 6.0,
) -> SessionView:
    """Plan a session of a module (the coordinator, or the staff of the organisation giving
    it); its days default to the weekdays from start to end. Commits."""
    item = module(rules=rules, organisation_key=organisation_key, offer_key=offer_key)
    organisation = session.exec(
        select(Organisation).where(Organisation.key == organisation_key)
    ).first()
    if organisation is None:
        raise NotFound(f"organisation {organisation_key!r} is not in the database")
    require(user, Action.MANAGE_TRAINING, organisation.id)
    errors: dict[str, str] = {}
    if ends_on < starts_on:
        errors["ends_on"] = "La fin de la session précède son début."
    if not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = f"Un nombre de places entre 1 et {MAX_CAPACITY}."
    text = " ".join(place.split())
    if not text:
        errors["place"] = "Dites où la session a lieu."
    elif len(text) > PLACE_MAX:
        errors["place"] = f"Trop long : {len(text)} caractères, {PLACE_MAX} au plus."
    if not 0 < hours_per_day <= 12:
        errors["hours_per_day"] = "Un nombre d'heures par jour entre 0 et 12."
    chosen = sorted(set(days)) if days else _weekdays(starts_on, ends_on)
    if not errors:
        outside = [d for d in chosen if not starts_on <= d <= ends_on]
        if outside:
            errors["days"] = "Ces jours sont hors de la session : " + ", ".join(
                d.strftime("%d/%m/%Y") for d in outside
            )
        elif not chosen:
            errors["days"] = "La session n'a aucun jour."
        elif len(chosen) > MAX_DAYS:
            errors["days"] = f"{len(chosen)} jours : {MAX_DAYS} au plus."
    if errors:
        raise InvalidInput(errors)
    row = TrainingSession(
        organisation_id=organisation.id or 0,
        offer_key=item.offer_key,
        starts_on=starts_on,
        ends_on=ends_on,
        capacity=capacity,
        place=text,
        created_by=user.id,
        created_at=now,
        changed_at=now,
    )
    session.add(row)
    session.flush()
    for day in chosen:
        session.add(TrainingDay(training_session_id=row.id or 0, held_on=day, hours=hours_per_day))
    session.commit()
    return _view(session, rules, row)


def _lock(session: Session, training_session_id: int, now: datetime) -> TrainingSession:
    """Take the session's row lock (an update) before counting its places: two enrolments at
    once then count one after the other (PostgreSQL's row lock, SQLite's write lock)."""
    session.execute(
        update(TrainingSession)
        .where(col(TrainingSession.id) == training_session_id)
        .values(changed_at=now)
        .execution_options(synchronize_session=False)
    )
    row = session.get(TrainingSession, training_session_id, populate_existing=True)
    if row is None:
        raise NotFound(f"training session {training_session_id} does not exist")
    return row


def _enrolled_count(session: Session, training_session_id: int) -> int:
    return int(
        session.exec(
            select(func.count()).where(
                TrainingEnrolment.training_session_id == training_session_id,
                TrainingEnrolment.status == EnrolmentStatus.ENROLLED,
            )
        ).one()
    )


def session_full_message(*, view: SessionView, dashboard_url: str) -> messages.Message:
    """Tell the coordination that a session's last place was taken."""
    link = f"{dashboard_url}/formations?session={view.id}"
    title = f"CREALux - session complète : {view.module.title}"
    intro = (
        f"La session « {view.module.title} » ({view.module.organisation_name}) du"
        f" {view.starts_on.strftime('%d/%m/%Y')} est complète : {view.capacity} places"
        " occupées. Les inscriptions suivantes vont en liste d'attente."
    )
    facts = [
        ("Module", view.module.title),
        ("Organisme", view.module.organisation_name),
        ("Dates", f"{view.starts_on.strftime('%d/%m/%Y')} - {view.ends_on.strftime('%d/%m/%Y')}"),
        ("Lieu", view.place),
        ("Places", str(view.capacity)),
    ]
    body = intro + "\n\n" + "".join(f"{k} : {v}\n" for k, v in facts)
    body += f"\nTableau de bord : {link}\n"
    rows = "".join(
        f'<tr><th align="left">{escape(k)} :</th><td>{escape(v)}</td></tr>' for k, v in facts
    )
    address = escape(link, quote=True)
    html = (
        f'<html><body><p>{escape(intro)}</p><table cellpadding="4">{rows}</table>'
        f'<p>Tableau de bord : <a href="{address}">{address}</a></p></body></html>'
    )
    return messages.Message(title=title, body=body, html=html, link=link)


def _training_step(session: Session, participant: Participant) -> tuple[PathwayRun, StepRun]:
    """The participant's active pathway and its current step, which must be the open
    training step."""
    run = session.exec(
        select(PathwayRun)
        .where(
            PathwayRun.participant_id == participant.id,
            PathwayRun.status == PathwayStatus.ACTIVE,
        )
        .order_by(col(PathwayRun.id).desc())
    ).first()
    step = events.current_step(session, run.id or 0) if run is not None else None
    if (
        run is None
        or step is None
        or step.step_key != TRAINING_STEP
        or step.status is not StepStatus.OPEN
    ):
        raise InvalidInput(
            {
                "participant": f"{participant.reference} n'est pas à l'étape « Formation » de"
                " son parcours : on inscrit à une session depuis cette étape."
            }
        )
    return run, step


@dataclass(frozen=True)
class Enrolled:
    enrolment_id: int
    status: EnrolmentStatus
    position: int | None
    session_full: bool  # this enrolment took the last place


def enrol(
    *,
    session: Session,
    rules: Rules,
    user: User,
    training_session_id: int,
    participant_id: int,
    now: datetime,
    dashboard_url: str,
) -> Enrolled:
    """Enrol a participant whose pathway is on its training step (their advisor, or the
    coordinator): a place if one is free, else the waiting list. A silent TRAINING event
    records it on the pathway; the last place taken queues « session complète » to the
    coordination. One transaction."""
    participant = get_row(session, Participant, participant_id)
    require(user, Action.ENROL_IN_TRAINING, participant)
    row = _session_row(session, user, training_session_id)
    if row.status is SessionStatus.CLOSED:
        raise Conflict(f"training session {training_session_id} is closed")
    run, step = _training_step(session, participant)
    row = _lock(session, training_session_id, now)
    existing = session.exec(
        select(TrainingEnrolment, TrainingSession)
        .join(
            TrainingSession, col(TrainingSession.id) == col(TrainingEnrolment.training_session_id)
        )
        .where(
            TrainingEnrolment.participant_id == participant_id,
            col(TrainingEnrolment.status).in_([EnrolmentStatus.ENROLLED, EnrolmentStatus.WAITING]),
            TrainingSession.status != SessionStatus.CLOSED,
        )
    ).first()
    if existing is not None:
        session.rollback()
        already, where = existing
        raise Conflict(
            f"{participant.reference} is already {already.status.value} in training session"
            f" {where.id}"
        )
    taken = _enrolled_count(session, training_session_id)
    status = EnrolmentStatus.ENROLLED if taken < row.capacity else EnrolmentStatus.WAITING
    enrolment = session.exec(
        select(TrainingEnrolment).where(
            TrainingEnrolment.training_session_id == training_session_id,
            TrainingEnrolment.participant_id == participant_id,
        )
    ).first() or TrainingEnrolment(
        training_session_id=training_session_id,
        participant_id=participant_id,
        pathway_run_id=run.id or 0,
        step_run_id=step.id or 0,
        status=status,
        queued_at=now,
    )
    # Enrolled again after a withdrawal: at the end of the queue, from today's step.
    enrolment.status, enrolment.queued_at, enrolment.withdrawn_at = status, now, None
    enrolment.pathway_run_id, enrolment.step_run_id = run.id or 0, step.id or 0
    enrolment.enrolled_by = user.id
    session.add(enrolment)
    session.flush()
    view = _view(session, rules, row)
    events.record(
        session,
        run,
        kind=EventKind.TRAINING,
        now=now,
        step_run_id=step.id,
        actor_id=user.id,
        payload={
            "action": "enrolled" if status is EnrolmentStatus.ENROLLED else "waiting",
            "training_session_id": training_session_id,
            "module": view.module.key,
            "title": view.module.title,
            "starts_on": row.starts_on.isoformat(),
        },
    )
    full = status is EnrolmentStatus.ENROLLED and taken + 1 == row.capacity
    if full:
        _queue_full(session, rules, view, enrolment, now, dashboard_url)
    session.commit()
    return Enrolled(
        enrolment_id=enrolment.id or 0,
        status=status,
        position=view.waiting if status is EnrolmentStatus.WAITING else None,
        session_full=full,
    )


def _queue_full(
    session: Session,
    rules: Rules,
    view: SessionView,
    enrolment: TrainingEnrolment,
    now: datetime,
    dashboard_url: str,
) -> None:
    """Queue session_full (services/routing.py; the coordination by default), in this
    transaction."""
    from crealux_core.services import routing

    routing.queue_session_full(
        session,
        rules=rules,
        ident=enrolment.id or 0,
        organisation_id=view.organisation_id,
        facts=routing.SessionFacts(
            module_title=view.module.title,
            organisation_name=view.module.organisation_name,
            starts_on=view.starts_on.strftime("%d/%m/%Y"),
            ends_on=view.ends_on.strftime("%d/%m/%Y"),
            place=view.place,
            capacity=str(view.capacity),
            link=f"{dashboard_url}/formations?session={view.id}",
        ),
        fallback=session_full_message(view=view, dashboard_url=dashboard_url),
        now=now,
        dashboard_url=dashboard_url,
    )


def withdraw(
    *, session: Session, rules: Rules, user: User, enrolment_id: int, now: datetime
) -> int | None:
    """Take a participant out of a session (their advisor, the coordinator, or the staff of
    the organisation giving it); a place freed goes to the first on the waiting list, whose
    id is returned. One transaction."""
    enrolment = get_row(session, TrainingEnrolment, enrolment_id)
    participant = get_row(session, Participant, enrolment.participant_id)
    row = _session_row(session, user, enrolment.training_session_id)
    if not (can(user, Action.ENROL_IN_TRAINING, participant) or may_manage(user, row)):
        raise Forbidden(f"{user.username} may not withdraw {participant.reference}")
    if row.status is SessionStatus.CLOSED:
        raise Conflict(f"training session {row.id} is closed")
    row = _lock(session, row.id or 0, now)
    session.refresh(enrolment)
    if enrolment.status is EnrolmentStatus.WITHDRAWN:
        session.rollback()
        return None
    freed = enrolment.status is EnrolmentStatus.ENROLLED
    enrolment.status, enrolment.withdrawn_at = EnrolmentStatus.WITHDRAWN, now
    session.add(enrolment)
    _note(session, enrolment, "withdrawn", user, now)
    promoted: int | None = None
    if freed and _enrolled_count(session, row.id or 0) < row.capacity:
        first = session.exec(
            select(TrainingEnrolment)
            .where(
                TrainingEnrolment.training_session_id == row.id,
                TrainingEnrolment.status == EnrolmentStatus.WAITING,
            )
            .order_by(col(TrainingEnrolment.queued_at), col(TrainingEnrolment.id))
        ).first()
        if first is not None:
            first.status = EnrolmentStatus.ENROLLED
            session.add(first)
            _note(session, first, "promoted", user, now)
            promoted = first.id
    session.commit()
    return promoted


def _note(
    session: Session, enrolment: TrainingEnrolment, action: str, user: User, now: datetime
) -> None:
    """A silent TRAINING event on the participant's pathway, for its timeline."""
    run = session.get(PathwayRun, enrolment.pathway_run_id)
    if run is None:
        return
    events.record(
        session,
        run,
        kind=EventKind.TRAINING,
        now=now,
        step_run_id=enrolment.step_run_id,
        actor_id=user.id,
        payload={"action": action, "training_session_id": enrolment.training_session_id},
    )


# -- attendance ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One participant on one day: present (the day's hours unless fewer are given), absent or
    excused (no hours)."""

    enrolment_id: int
    presence: Presence
    hours: float | None = None


def record_attendance(
    *,
    session: Session,
    user: User,
    training_session_id: int,
    held_on: date,
    marks: Sequence[Mark],
    now: datetime,
) -> int:
    """Record who came on a session day (the partner giving it, or the coordinator); a mark
    given again replaces the earlier one. The first attendance opens a planned session.
    Commits; return how many marks were written."""
    row = _session_row(session, user, training_session_id)
    require(user, Action.RECORD_ATTENDANCE, row.organisation_id)
    if row.status is SessionStatus.CLOSED:
        raise Conflict(f"training session {training_session_id} is closed")
    day = session.exec(
        select(TrainingDay).where(
            TrainingDay.training_session_id == training_session_id, TrainingDay.held_on == held_on
        )
    ).first()
    if day is None:
        raise InvalidInput(
            {"day": f"Le {held_on.strftime('%d/%m/%Y')} n'est pas un jour de la session."}
        )
    enrolled = {
        e.id: e
        for e in session.exec(
            select(TrainingEnrolment).where(
                TrainingEnrolment.training_session_id == training_session_id,
                TrainingEnrolment.status == EnrolmentStatus.ENROLLED,
            )
        ).all()
    }
    errors: dict[str, str] = {}
    for mark in marks:
        if mark.enrolment_id not in enrolled:
            errors[f"enrolment {mark.enrolment_id}"] = "Pas inscrit·e à cette session."
        elif mark.hours is not None and not 0 <= mark.hours <= day.hours:
            errors[f"enrolment {mark.enrolment_id}"] = (
                f"Des heures entre 0 et {day.hours:g} (la durée du jour)."
            )
    if errors:
        raise InvalidInput(errors)
    existing = {
        a.enrolment_id: a
        for a in session.exec(
            select(TrainingAttendance).where(TrainingAttendance.training_day_id == day.id)
        ).all()
    }
    for mark in marks:
        hours = (
            (day.hours if mark.hours is None else mark.hours)
            if mark.presence is Presence.PRESENT
            else 0.0
        )
        attendance = existing.get(mark.enrolment_id) or TrainingAttendance(
            enrolment_id=mark.enrolment_id,
            training_day_id=day.id or 0,
            presence=mark.presence,
            hours=hours,
            recorded_at=now,
        )
        attendance.presence, attendance.hours = mark.presence, round(hours, 2)
        attendance.recorded_by, attendance.recorded_at = user.id, now
        session.add(attendance)
    if row.status is SessionStatus.PLANNED:
        row.status = SessionStatus.OPEN
        session.add(row)
    session.commit()
    return len(marks)


# -- closing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    """What came of a session for one participant."""

    completed: bool
    qualification: bool = False


@dataclass
class Closed:
    """What closing a session did, participant by participant."""

    training_session_id: int
    decided: list[int] = field(default_factory=list)  # enrolment ids moved on now
    already: list[int] = field(default_factory=list)  # moved on by an earlier closing
    not_on_step: dict[int, str] = field(default_factory=dict)  # enrolment id -> where they are
    failed: dict[int, str] = field(default_factory=dict)  # enrolment id -> error
    woken: int = 0
    # (pathway run id, decision event id) of each pathway moved on now, to wake its flow run
    # later when no orchestrator was given (the dashboard wakes them from a thread).
    moved: list[tuple[int, int]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "training_session_id": self.training_session_id,
            "decided": self.decided,
            "already": self.already,
            "not_on_step": {str(k): v for k, v in self.not_on_step.items()},
            "failed": {str(k): v for k, v in self.failed.items()},
            "woken": self.woken,
        }


def _outcome_data(item: Module, completion: Completion, hours: float) -> dict[str, Any]:
    return {
        "training_kind": item.training_kind,
        "completed": completion.completed,
        "hours": min(2000, round(hours)),
        "qualification_obtained": bool(item.qualifying and completion.qualification),
    }


def close_session(
    *,
    session: Session,
    rules: Rules,
    user: User,
    training_session_id: int,
    completions: Mapping[int, Completion],
    now: datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
) -> Closed:
    """Close a session (the coordinator, or the staff of the organisation giving it) and move
    each enrolled participant's pathway on from its training step.

    `completions` gives, by enrolment id, whether the participant completed the training and
    obtained its qualification; an enrolment left out completed it if they attended at all.
    The session is closed and the completions kept in a first transaction. Then each
    participant's training step is decided in a transaction of its own (one failure does not
    stop the others), with the training kind of the module and the hours attended, through
    the engine (`events.decide`, which records the training's facts as any decision); the
    decision event's id is kept on the enrolment in that transaction, so closing again
    decides only what was not decided yet. Each commit wakes the participant's flow run. A
    participant whose pathway left its training step meanwhile is reported, not decided.
    """
    row = _session_row(session, user, training_session_id)
    require(user, Action.MANAGE_TRAINING, row.organisation_id)
    item = _view(session, rules, row).module
    enrolled = session.exec(
        select(TrainingEnrolment)
        .where(
            TrainingEnrolment.training_session_id == training_session_id,
            TrainingEnrolment.status == EnrolmentStatus.ENROLLED,
        )
        .order_by(col(TrainingEnrolment.id))
    ).all()
    unknown = set(completions) - {e.id for e in enrolled}
    if unknown:
        raise InvalidInput(
            {f"enrolment {i}": "Pas inscrit·e à cette session." for i in sorted(unknown)}
        )
    hours = _attended(session, [e.id or 0 for e in enrolled])
    for enrolment in enrolled:
        if enrolment.decision_event_id is not None:
            continue  # its outcome went with its decision: it stays as decided
        given = completions.get(enrolment.id or 0)
        if given is not None:
            enrolment.completed, enrolment.qualification = given.completed, given.qualification
        elif enrolment.completed is None:
            enrolment.completed = hours.get(enrolment.id or 0, 0.0) > 0
            enrolment.qualification = False
        session.add(enrolment)
    if row.status is not SessionStatus.CLOSED:
        row.status, row.closed_at, row.closed_by = SessionStatus.CLOSED, now, user.id
        session.add(row)
    session.commit()
    result = Closed(training_session_id=training_session_id)
    for enrolment in enrolled:
        _move_on(
            session,
            rules=rules,
            user=user,
            item=item,
            enrolment_id=enrolment.id or 0,
            hours=hours.get(enrolment.id or 0, 0.0),
            now=now,
            orchestrator=orchestrator,
            dashboard_url=dashboard_url,
            result=result,
        )
    return result


def _move_on(
    session: Session,
    *,
    rules: Rules,
    user: User,
    item: Module,
    enrolment_id: int,
    hours: float,
    now: datetime,
    orchestrator: Orchestrator | None,
    dashboard_url: str,
    result: Closed,
) -> None:
    """Decide one participant's training step from the session's outcome; own transaction."""
    try:
        enrolment = get_row(session, TrainingEnrolment, enrolment_id)
        session.refresh(enrolment)
        if enrolment.decision_event_id is not None:
            result.already.append(enrolment_id)
            return
        participant = get_row(session, Participant, enrolment.participant_id)
        run = get_row(session, PathwayRun, enrolment.pathway_run_id)
        session.refresh(run)
        step = events.current_step(session, run.id or 0)
        if (
            run.status is not PathwayStatus.ACTIVE
            or step is None
            or step.id != enrolment.step_run_id
            or step.status is not StepStatus.OPEN
        ):
            where = "ended" if step is None else f"on {step.step_key} ({step.status.value})"
            result.not_on_step[enrolment_id] = f"{participant.reference}: pathway {where}"
            session.rollback()
            return
        pathway: PathwaySpec = definition_of(session=session, rules=rules, run=run)
        spec = pathway.step(step.step_key)
        completion = Completion(
            completed=bool(enrolment.completed), qualification=bool(enrolment.qualification)
        )
        try:
            outcome = validate_outcome(
                spec,
                _outcome_data(item, completion, hours),
                enrolled_on=local_today(participant.enrolled_at),
                today=local_today(now),
            )
        except ValidationError as error:
            raise InvalidInput(
                {".".join(map(str, e["loc"])) or "form": str(e["msg"]) for e in error.errors()}
            ) from None

        held = get_row(session, TrainingSession, enrolment.training_session_id)

        def keep(tx: Session, _pathway: PathwaySpec, step: StepRun, event: PathwayEvent) -> None:
            # The training fact the decision recorded is the session's: given by its
            # organisation (not the step's), ended on its last day (not the closing day).
            tx.execute(
                update(TrainingRecord)
                .where(col(TrainingRecord.step_run_id) == step.id)
                .values(
                    organisation_id=held.organisation_id,
                    ended_on=min(held.ends_on, local_today(now)),
                )
                .execution_options(synchronize_session=False)
            )
            tx.execute(
                update(TrainingEnrolment)
                .where(
                    col(TrainingEnrolment.id) == enrolment_id,
                    col(TrainingEnrolment.decision_event_id).is_(None),
                )
                .values(decision_event_id=event.id)
                .execution_options(synchronize_session=False)
            )

        recorded = events.decide(
            session=session,
            rules=rules,
            step_run_id=step.id or 0,
            actor_id=user.id or 0,
            outcome=outcome,
            note=None,
            now=now,
            dashboard_url=dashboard_url,
            on_decision=keep,
        )
        events.forget(session, TrainingEnrolment, enrolment_id)
    except Conflict as error:  # the step was closed meanwhile: by another closing, or its page
        session.rollback()
        again = session.get(TrainingEnrolment, enrolment_id, populate_existing=True)
        if again is not None and again.decision_event_id is not None:
            result.already.append(enrolment_id)
        else:
            result.not_on_step[enrolment_id] = str(error)
        return
    except Exception as error:  # one participant's failure stops no other
        session.rollback()
        log.exception("training enrolment %s not moved on", enrolment_id)
        result.failed[enrolment_id] = str(error) or type(error).__name__
        return
    result.decided.append(enrolment_id)
    result.moved.append((recorded.event.pathway_run_id, recorded.event.id or 0))
    if after_commit(session, recorded, orchestrator).woken:
        result.woken += 1


def enrollable(*, session: Session, user: User) -> list[Participant]:
    """Return the participants a user may enrol now: on the open training step of their
    pathway, not already in a session that is not closed (an advisor: their caseload)."""
    if user.role not in (Role.ADVISOR, Role.COORDINATOR) or not user.active:
        return []
    busy = (
        select(TrainingEnrolment.participant_id)
        .join(
            TrainingSession, col(TrainingSession.id) == col(TrainingEnrolment.training_session_id)
        )
        .where(
            col(TrainingEnrolment.status).in_([EnrolmentStatus.ENROLLED, EnrolmentStatus.WAITING]),
            TrainingSession.status != SessionStatus.CLOSED,
        )
    )
    query = (
        select(Participant)
        .join(PathwayRun, col(PathwayRun.participant_id) == col(Participant.id))
        .join(StepRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
        .where(
            PathwayRun.status == PathwayStatus.ACTIVE,
            StepRun.step_key == TRAINING_STEP,
            StepRun.status == StepStatus.OPEN,
            col(StepRun.optional).is_(False),
            col(Participant.id).not_in(busy),
        )
        .order_by(col(Participant.id))
    )
    if user.role is Role.ADVISOR:
        query = query.where(Participant.advisor_id == user.id)
    return list(session.exec(query).unique().all())
