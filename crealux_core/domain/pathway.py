"""How a pathway moves on: the next step after an outcome, and when a step falls due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crealux_core.rules.conditions import condition_holds
from crealux_core.rules.specs import PathwaySpec, StepSpec


def next_step(pathway: PathwaySpec, step: StepSpec, outcome: Mapping[str, Any]) -> StepSpec | None:
    """Return the step that follows `step` given its outcome, or None when the pathway ends."""
    for transition in step.next:
        if transition.when is None or condition_holds(transition.when, step.form, outcome):
            return pathway.step(transition.to) if transition.to else None
    return None


def due_at(step: StepSpec, opened_at: datetime) -> datetime:
    """Return when a step opened at `opened_at` falls due."""
    return opened_at + step.due
