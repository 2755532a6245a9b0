"""How a pathway moves on: the next step after an outcome, and when a step opens and falls due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crealux_core.rules.conditions import condition_holds
from crealux_core.rules.specs import Anchored, PathwaySpec, StepSpec

# A date answered in a form (a start date) counts from the morning of that day, Brussels time.
ANCHOR_HOUR = dt.time(8, 0, tzinfo=dt.UTC)

Answers = Mapping[str, Mapping[str, Any]]
"""The latest outcome of each step of a pathway run, by step key (JSON values)."""


def next_step(pathway: PathwaySpec, step: StepSpec, outcome: Mapping[str, Any]) -> StepSpec | None:
    """Return the step that follows `step` given its outcome, or None when the pathway ends."""
    for transition in step.next:
        if transition.when is None or condition_holds(transition.when, step.form, outcome):
            return pathway.step(transition.to) if transition.to else None
    return None


def default_next(pathway: PathwaySpec, step: StepSpec) -> StepSpec | None:
    """Return where a skipped step leads: its first transition without a condition."""
    for transition in step.next:
        if transition.when is None:
            return pathway.step(transition.to) if transition.to else None
    return None


def _anchor_date(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, ANCHOR_HOUR)
    if isinstance(value, str):
        try:
            return dt.datetime.combine(dt.date.fromisoformat(value), ANCHOR_HOUR)
        except ValueError:
            return None
    return None


def anchored_time(anchored: Anchored, base: dt.datetime, answers: Answers) -> dt.datetime:
    """Return `anchored.span` after its anchor: the date answered in an earlier step, or `base`
    (the step's opening) when the anchor is the opening or the date was not answered."""
    start = base
    if anchored.step is not None and anchored.field is not None:
        start = _anchor_date(answers.get(anchored.step, {}).get(anchored.field)) or base
    return anchored.span.after(start)


def opening_time(step: StepSpec, now: dt.datetime, answers: Answers) -> dt.datetime:
    """Return when a step reached at `now` opens: at once, or later (`opens`)."""
    if step.opens is None:
        return now
    return max(now, anchored_time(step.opens, now, answers))


@dataclass(frozen=True)
class StepTimes:
    due_at: dt.datetime
    remind_at: dt.datetime | None
    escalate_at: dt.datetime | None
    overdue_at: dt.datetime | None


def step_times(step: StepSpec, opened_at: dt.datetime, answers: Answers) -> StepTimes:
    """Return a step's deadlines, computed once when it opens and stored with it."""
    due = anchored_time(step.due, opened_at, answers)
    return StepTimes(
        due_at=due,
        remind_at=max(opened_at, step.remind.before(due)) if step.remind else None,
        escalate_at=step.escalate.after(due) if step.escalate else None,
        overdue_at=step.on_overdue.after.after(due) if step.on_overdue else None,
    )


def due_at(step: StepSpec, opened_at: dt.datetime) -> dt.datetime:
    """Return when a step opened at `opened_at` falls due, counting from its opening."""
    return step_times(step, opened_at, {}).due_at
