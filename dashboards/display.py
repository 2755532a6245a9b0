"""French wording of what the dashboard shows: dates, statuses, genders, decisions' outcomes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from crealux_core.clock import LOCAL_TIME
from crealux_core.models import EventKind, Gender, PathwayStatus, Role, StepStatus
from crealux_core.rules.specs import FieldType, Rules, StepSpec
from crealux_core.services.processes import ProcessState

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
    StepStatus.SCHEDULED: "prévue",
    StepStatus.OPEN: "ouverte",
    StepStatus.COMPLETED: "complétée",
    StepStatus.SKIPPED: "passée",
    StepStatus.EXPIRED: "close à son échéance",
    StepStatus.CANCELLED: "annulée",
}

EVENT_LABELS: dict[EventKind, str] = {
    EventKind.DECISION: "Décision",
    EventKind.SKIP: "Étape passée",
    EventKind.REASSIGN: "Réassignation",
    EventKind.DEADLINE: "Échéance dépassée",
    EventKind.OPENED: "Ouverture à la date prévue",
    EventKind.COMMENT: "Commentaire",
    EventKind.MIGRATION: "Changement de version du parcours",
    EventKind.CORRECTION: "Correction de la décision",
    EventKind.ADDED: "Étape facultative ajoutée",
    EventKind.TRANSFER: "Changement d'accompagnateur·rice",
    EventKind.GOAL: "Objectif du plan",
    EventKind.REFERRAL: "Orientation vers un partenaire",
    EventKind.REFERRAL_ACCEPTED: "Orientation acceptée",
    EventKind.REFERRAL_DECLINED: "Orientation refusée",
    EventKind.TRAINING: "Formation",
}

EVENT_ICONS: dict[EventKind, str] = {
    EventKind.DECISION: ":material/task_alt:",
    EventKind.SKIP: ":material/skip_next:",
    EventKind.REASSIGN: ":material/swap_horiz:",
    EventKind.DEADLINE: ":material/schedule:",
    EventKind.OPENED: ":material/event_available:",
    EventKind.COMMENT: ":material/chat:",
    EventKind.MIGRATION: ":material/upgrade:",
    EventKind.CORRECTION: ":material/edit_note:",
    EventKind.ADDED: ":material/add_task:",
    EventKind.TRANSFER: ":material/group:",
    EventKind.GOAL: ":material/flag:",
    EventKind.REFERRAL: ":material/send:",
    EventKind.REFERRAL_ACCEPTED: ":material/handshake:",
    EventKind.REFERRAL_DECLINED: ":material/block:",
    EventKind.TRAINING: ":material/school:",
}

# Why a deadline closed a step, or why a pathway ended (`on_overdue.reason` in the rules).
END_REASON_LABELS: dict[str, str] = {
    "lost_to_follow_up": "perte de contact",
    "self_evaluation_missed": "auto-évaluation de fin non faite",
}

PROCESS_STATE_LABELS: dict[ProcessState, str] = {
    ProcessState.STARTING: "démarrage",
    ProcessState.RUNNING: "en marche",
    ProcessState.RESTARTING: "redémarrage",
    ProcessState.FAILED: "en échec",
    ProcessState.STOPPED: "arrêté",
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


def local_day_and_time(moment: dt.datetime) -> str:
    """Return "le 02/11/2026 à 10:00" (Belgian time), for a sentence."""
    local = moment.astimezone(LOCAL_TIME)
    return f"le {local:%d/%m/%Y} à {local:%H:%M}"


def is_overdue(due_at: dt.datetime | None, now: dt.datetime) -> bool:
    """A step without a due date is never late."""
    return due_at is not None and due_at < now


def end_reason_label(reason: str | None) -> str | None:
    """Return why a pathway ended in French, for the reasons the rules name; None otherwise
    (a pathway that ended by a decision or a skip needs no reason shown)."""
    return END_REASON_LABELS.get(reason or "")


# What the reconciler says of a pathway it could not heal, in French. Its reasons are English
# sentences of crealux_core.domain.healing and services.reconcile; one not listed is shown as is.
_HEAL_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern), french)
    for pattern, french in [
        (r"no flow run", "aucune exécution Prefect n'a encore été créée"),
        (r"flow run missing from Prefect", "son exécution a disparu de Prefect"),
        (r"flow run (?P<state>\w+)", "son exécution Prefect est dans l'état {state}"),
        (
            r"suspended on (?P<got>\S+), not (?P<want>\S+)",
            "son exécution attend sur {got} au lieu de {want}",
        ),
        (r"an event was not delivered", "un événement n'a pas encore été transmis"),
        (
            r"the waiting run could not be resumed",
            "l'exécution en attente n'a pas pu être réveillée",
        ),
        (
            r"Prefect unreachable or the pathway deployment is missing",
            "Prefect ne répond pas, ou le déploiement des parcours manque (runner arrêté ?)",
        ),
        (r"(?P<state>\w+) since (?P<since>.+)", "son exécution est bloquée dans l'état {state}"),
    ]
]


def heal_reason(reason: str) -> str:
    """Return a reconciler's reason in French, its own part included in « N tentatives ... :
    <reason> »."""
    head, sep, tail = reason.partition(" : ")
    if sep:
        return f"{head} : {heal_reason(tail)}"
    for pattern, french in _HEAL_REASONS:
        match = pattern.fullmatch(reason.strip())
        if match:
            return french.format(**match.groupdict())
    return reason


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
    if pathway is None:
        return None
    return pathway.steps.get(step_key) or pathway.optional.get(step_key)


def time_ago(moment: dt.datetime | None, now: dt.datetime) -> str:
    """Return how long ago something happened, in French: « il y a 3 jours »."""
    if moment is None:
        return EMPTY
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, singular, plural in (
        (30 * 86400, "mois", "mois"),
        (86400, "jour", "jours"),
        (3600, "heure", "heures"),
        (60, "minute", "minutes"),
    ):
        count = seconds // unit
        if count:
            return f"il y a {count} {singular if count == 1 else plural}"
    return "à l'instant"
