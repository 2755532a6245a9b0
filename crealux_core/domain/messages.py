"""What notifications say (in French). They name the participant by reference only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crealux_core.rules.specs import StepSpec


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _link(dashboard_url: str, step_run_id: int | None) -> str:
    return f"{dashboard_url}/etape?step={step_run_id}" if step_run_id else dashboard_url


def _date(moment: datetime | None) -> str:
    return moment.strftime("%d/%m/%Y") if moment else "-"


def step_opened(
    *,
    step: StepSpec,
    participant_reference: str,
    due_at: datetime | None,
    dashboard_url: str,
    step_run_id: int | None = None,
) -> Message:
    """Tell an organisation that a step it is concerned by has opened."""
    return Message(
        title=f"CREALux - {step.title} - {participant_reference}",
        body=(
            f"Une nouvelle étape « {step.title} » est ouverte pour le participant "
            f"{participant_reference}.\n"
            f"Échéance : {_date(due_at)}.\n\n"
            f"Tableau de bord : {_link(dashboard_url, step_run_id)}\n"
        ),
    )


def step_reminder(
    *,
    step: StepSpec,
    participant_reference: str,
    due_at: datetime | None,
    dashboard_url: str,
    step_run_id: int,
) -> Message:
    """Remind the owner of a step that it falls due soon."""
    return Message(
        title=f"CREALux - rappel : {step.title} - {participant_reference}",
        body=(
            f"L'étape « {step.title} » du participant {participant_reference} arrive à échéance"
            f" le {_date(due_at)}.\n\n"
            f"Tableau de bord : {_link(dashboard_url, step_run_id)}\n"
        ),
    )


def step_escalated(
    *,
    step: StepSpec,
    participant_reference: str,
    due_at: datetime | None,
    dashboard_url: str,
    step_run_id: int,
) -> Message:
    """Tell the coordination that a step is overdue."""
    return Message(
        title=f"CREALux - en retard : {step.title} - {participant_reference}",
        body=(
            f"L'étape « {step.title} » du participant {participant_reference} devait être faite"
            f" pour le {_date(due_at)} et est toujours ouverte.\n\n"
            f"Tableau de bord : {_link(dashboard_url, step_run_id)}\n"
        ),
    )
