"""Facts for reports, written by the events that establish them, in their transaction.

A pathway run opens a stay (and the participant's entry situation, once: the first entry) when
it starts; a decision writes the facts its form fields record (`records:` in the rules) and the
support its step gives (`support:`); a correction rewrites them from the corrected answers; the
end of a pathway closes its stay. Every write is keyed by database ids (the step run, the stay),
so writing twice changes nothing. `backfill_facts` writes them from the events alone.

These functions check no permission and do not commit: their callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from crealux_core.models import (
    BusinessCreation,
    EntrySituation,
    EventKind,
    ExitSituation,
    Moment,
    Participant,
    PathwayEvent,
    PathwayRun,
    Placement,
    Stay,
    StepRun,
    SupportTime,
    TrainingRecord,
)
from crealux_core.rules.facts import FACTS, FactKind, fact_group, fact_name
from crealux_core.rules.specs import Rules, StepSpec

# Groups of facts written against one step run (a business, a training, a placement).
_PER_STEP: dict[str, type[BusinessCreation] | type[TrainingRecord] | type[Placement]] = {
    "business": BusinessCreation,
    "training": TrainingRecord,
    "placement": Placement,
}


def age_at(birth_year: int | None, on: date) -> int | None:
    """Return the age in whole years a person born in `birth_year` has on `on`, at the start
    of that year's birthday season: the year difference (only the year of birth is known)."""
    if birth_year is None:
        return None
    return max(0, on.year - birth_year)


def stay_of(session: Session, pathway_run_id: int) -> Stay | None:
    return session.exec(select(Stay).where(Stay.pathway_run_id == pathway_run_id)).first()


def open_stay(session: Session, *, run: PathwayRun, participant: Participant) -> Stay:
    """Open the stay of a pathway run that starts, and the participant's entry situation when
    this is their first entry. A first stay starts on the enrolment date."""
    stay = stay_of(session, run.id or 0)
    if stay is not None:
        return stay
    first = session.exec(
        select(EntrySituation).where(EntrySituation.participant_id == participant.id)
    ).first()
    started_on = (participant.enrolled_at if first is None else run.started_at).date()
    stay = Stay(participant_id=participant.id or 0, pathway_run_id=run.id, started_on=started_on)
    session.add(stay)
    if first is None:
        session.add(
            EntrySituation(
                participant_id=participant.id or 0,
                pathway_run_id=run.id,
                entered_on=started_on,
                age_at_entry=age_at(participant.birth_year, started_on),
            )
        )
    session.flush()
    return stay


def close_stay(session: Session, *, run: PathwayRun, on: date) -> None:
    """Close a pathway run's stay on `on` unless its exit already dated it."""
    stay = stay_of(session, run.id or 0)
    if stay is not None and stay.ended_on is None:
        stay.ended_on = on
        session.add(stay)


def forget_stay_if_never_entered(session: Session, *, run: PathwayRun, first_step: str) -> bool:
    """Remove the stay (and the first entry) of a pathway that ended on its first step, the
    only one it took: the person refused consent at the first reception, or never came to it,
    and so never entered the programme; they count in no indicator. (A pathway imported at a
    later step took one step too, but not the first.) Return True when it did."""
    taken = session.exec(
        select(col(StepRun.step_key)).where(
            StepRun.pathway_run_id == run.id, col(StepRun.optional).is_(False)
        )
    ).all()
    if list(taken) != [first_step]:
        return False
    session.execute(delete(EntrySituation).where(col(EntrySituation.pathway_run_id) == run.id))
    session.execute(delete(Stay).where(col(Stay.pathway_run_id) == run.id))
    return True


def _recorded(step: StepSpec, answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the facts a step's answers record, by group: {'entry': {'labour_status': ...}}."""
    groups: dict[str, dict[str, Any]] = {}
    for name, spec in step.form.items():
        if spec.records is not None:
            value = answers.get(name)
            if FACTS[spec.records].kind is FactKind.DATE and isinstance(value, str):
                value = date.fromisoformat(value)  # answers are stored as JSON
            groups.setdefault(fact_group(spec.records), {})[fact_name(spec.records)] = value
    return groups


def _exit_row(session: Session, stay: Stay, moment: str) -> ExitSituation:
    row = session.exec(
        select(ExitSituation).where(
            ExitSituation.stay_id == stay.id, ExitSituation.moment == moment
        )
    ).first()
    if row is None:
        row = ExitSituation(participant_id=stay.participant_id, stay_id=stay.id or 0, moment=moment)
    return row


def record_step_facts(
    session: Session,
    *,
    run: PathwayRun,
    step_run: StepRun,
    step: StepSpec,
    answers: Mapping[str, Any],
    decided_at: datetime,
) -> None:
    """Write (or rewrite) the facts a decided step records, and the support it counts."""
    participant_id = run.participant_id
    # A correction keeps the day the step was decided.
    decided_on = (step_run.closed_at or decided_at).date()
    for group, values in _recorded(step, answers).items():
        if group == "entry":
            entry = session.exec(
                select(EntrySituation).where(EntrySituation.participant_id == participant_id)
            ).first()
            # The first entry counts: a re-entry's assessment leaves it as it was.
            if entry is not None and entry.pathway_run_id in (run.id, None):
                for name, value in values.items():
                    setattr(entry, name, value)
                session.add(entry)
        elif group in ("exit", "leaving", "six_months"):
            stay = stay_of(session, run.id or 0)
            if stay is None:
                continue
            moment = Moment.SIX_MONTHS if group == "six_months" else Moment.LEAVING
            row = _exit_row(session, stay, moment)
            for name, value in values.items():
                setattr(row, name, value)
            if group == "exit" and row.left_on is not None:
                stay.ended_on = row.left_on
                session.add(stay)
            if moment == Moment.SIX_MONTHS or row.left_on is None:
                leaving = _exit_row(session, stay, Moment.LEAVING)
                row.left_on = row.left_on or leaving.left_on or stay.ended_on
            session.add(row)
        else:
            model = _PER_STEP[group]
            fact: Any = session.exec(select(model).where(model.step_run_id == step_run.id)).first()
            if fact is None:
                fact = model.model_validate(
                    {"participant_id": participant_id, "step_run_id": step_run.id}
                    | ({"ended_on": decided_on} if model is TrainingRecord else {})
                )
            fact.organisation_id = step_run.organisation_id
            for name, value in values.items():
                setattr(fact, name, value)
            if isinstance(fact, TrainingRecord):
                fact.ended_on = decided_on
            # A creation or a job without its start date counts from the day it was recorded.
            started = (
                isinstance(fact, BusinessCreation) and fact.status in ("principal", "complementary")
            ) or (isinstance(fact, Placement) and fact.employed)
            if started and fact.started_on is None:
                fact.started_on = decided_on
            session.add(fact)
    if step.support is not None:
        support = session.exec(
            select(SupportTime).where(SupportTime.step_run_id == step_run.id)
        ).first() or SupportTime(
            participant_id=participant_id,
            step_run_id=step_run.id,
            kind=step.support.kind,
            hours=step.support.hours,
            given_on=decided_on,
            recorded_at=decided_at,
        )
        session.add(support)
    session.flush()


def backfill_facts(session: Session, *, rules: Rules, every_run: bool = False) -> int:
    """Write the facts of pathway runs that have none yet, from their events alone (an install
    that ran before facts existed); with `every_run`, write every run's facts again (they are
    keyed by ids: what the events say is written, nothing is added twice). Commit, and return
    the number of runs written."""
    from crealux_core.services.definitions import definition_of
    from crealux_core.services.events import outcome_of

    query = select(PathwayRun).order_by(col(PathwayRun.id))
    if not every_run:
        query = query.outerjoin(Stay, col(Stay.pathway_run_id) == col(PathwayRun.id)).where(
            col(Stay.id).is_(None)
        )
    runs = session.exec(query).all()
    for run in runs:
        participant = session.get(Participant, run.participant_id)
        if participant is None:
            continue
        open_stay(session, run=run, participant=participant)
        pathway = definition_of(session=session, rules=rules, run=run)
        rows = session.exec(
            select(StepRun, PathwayEvent)
            .join(PathwayEvent, col(PathwayEvent.step_run_id) == col(StepRun.id))
            .where(
                StepRun.pathway_run_id == run.id,
                col(PathwayEvent.kind).in_([EventKind.DECISION, EventKind.CORRECTION]),
            )
            .order_by(col(PathwayEvent.id))
        ).all()
        for step_run, event in rows:
            record_step_facts(
                session,
                run=run,
                step_run=step_run,
                step=pathway.step(step_run.step_key),
                answers=outcome_of(event),
                decided_at=event.occurred_at,
            )
        if run.completed_at is not None:
            close_stay(session, run=run, on=run.completed_at.date())
            session.flush()
            forget_stay_if_never_entered(session, run=run, first_step=pathway.start)
    session.commit()
    return len(runs)
