"""French wording of what the dashboard shows: dates, statuses, genders, decisions' outcomes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from crealux_core.models import Gender, PathwayStatus, Role, StepStatus
from crealux_core.rules.specs import FieldType, Rules, StepSpec

LOCAL_TIME = ZoneInfo("Europe/Brussels")

GENDER_LABELS: dict[Gender, str] = {
    Gender.FEMALE: "Femme",
    Gender.MALE: "Homme",
    Gender.NON_BINARY: "Non binaire",
    Gender.UNDISCLOSED: "Ne souhaite pas répondre",
}

ROLE_LABELS: dict[Role, str] = {
    Role.ADVISOR: "Accompagnement",
    Role.PARTNER: "Partenaire",
    Role.COORDINATOR: "Coordination",
}

STEP_STATUS_LABELS: dict[StepStatus, str] = {
    StepStatus.OPEN: "ouverte",
    StepStatus.COMPLETED: "complétée",
}

PATHWAY_STATUS_LABELS: dict[PathwayStatus, str] = {
    PathwayStatus.ACTIVE: "en cours",
    PathwayStatus.COMPLETED: "terminé",
}

YES_NO: dict[bool, str] = {True: "Oui", False: "Non"}
EMPTY = "—"

_MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|<>$~:"


def md(text: str) -> str:
    """Escape text (a name typed by someone) so that Markdown shows it as it is."""
    return "".join(f"\\{char}" if char in _MARKDOWN_SPECIALS else char for char in text)


def local_date(moment: dt.datetime | None) -> str:
    """Return a UTC datetime as a Belgian calendar date (DD/MM/YYYY)."""
    return moment.astimezone(LOCAL_TIME).strftime("%d/%m/%Y") if moment else EMPTY


def local_datetime(moment: dt.datetime | None) -> str:
    return moment.astimezone(LOCAL_TIME).strftime("%d/%m/%Y %H:%M") if moment else EMPTY


def is_overdue(due_at: dt.datetime, now: dt.datetime) -> bool:
    return due_at < now


@dataclass(frozen=True)
class OutcomeLine:
    label: str
    value: str


def _value_text(step: StepSpec | None, name: str, value: Any) -> str:
    spec = step.form.get(name) if step else None
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return YES_NO[value]
    if spec is not None and spec.type is FieldType.DATE and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    if spec is not None and spec.choices:
        return spec.choices.get(str(value), str(value))
    return str(value)


def outcome_lines(step: StepSpec | None, outcome: dict[str, Any]) -> list[OutcomeLine]:
    """Return a decision's answers with the labels of the step's form, in the form's order.

    A step or a field the rules no longer define is shown by its key rather than hidden.
    """
    known = list(step.form) if step else []
    names = [name for name in known if name in outcome]
    names += [name for name in outcome if name not in known]
    return [
        OutcomeLine(
            label=step.form[name].label if step and name in step.form else name,
            value=_value_text(step, name, outcome[name]),
        )
        for name in names
    ]


def find_step(rules: Rules, pathway_key: str, step_key: str) -> StepSpec | None:
    """Return the spec of a step as the current rules define it, if they still do."""
    pathway = rules.pathways.get(pathway_key)
    return pathway.steps.get(step_key) if pathway else None
