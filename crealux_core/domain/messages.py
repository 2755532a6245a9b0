"""What notifications say (in French). They name the participant by reference only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crealux_core.rules.specs import StepSpec


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def step_opened(
    *, step: StepSpec, participant_reference: str, due_at: datetime, dashboard_url: str
) -> Message:
    """Tell an organisation that a step it is concerned by has opened."""
    due = due_at.strftime("%d/%m/%Y")
    return Message(
        title=f"CREALux - {step.title} - {participant_reference}",
        body=(
            f"Une nouvelle étape « {step.title} » est ouverte pour le participant "
            f"{participant_reference}.\n"
            f"Échéance : {due}.\n\n"
            f"Tableau de bord : {dashboard_url}\n"
        ),
    )
