"""A step's events shown read-only, with who and when (step page and timeline).

A decision is shown with the labels of its step's form; a skip with its reason; a reassignment
with to whom; a deadline with what it did; a comment with its text. An event the pathway's flow
run has not acknowledged yet gets a small grey mark: the pathway has moved on already (the event
and its transition are committed together), the flow run only catches up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from crealux_core.models import EventKind
from crealux_core.rules.specs import StepSpec
from crealux_core.services.steps import EventView
from dashboards.display import (
    EVENT_ICONS,
    EVENT_LABELS,
    end_reason_label,
    local_datetime,
    md,
    outcome_lines,
)

NOTE_LABEL = "Note (confidentielle, reste dans la base de données)"
SYSTEM = "automatique"
CATCHING_UP = "en cours de prise en compte"
SOMEONE = "une autre personne"


def _bullets(lines: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"- {md(label)} : **{md(value)}**" for label, value in lines)


def _person(names: Mapping[int, str], user_id: Any) -> str:
    return names.get(user_id, SOMEONE) if isinstance(user_id, int) else SOMEONE


def _body(
    event: EventView, step: StepSpec | None, names: Mapping[int, str]
) -> tuple[str | None, str | None]:
    """Return what an event says (Markdown) and the text typed with it, shown as typed."""
    match event.kind:
        case EventKind.DECISION:
            lines = [(line.label, line.value) for line in outcome_lines(step, event.payload)]
            return _bullets(lines) or None, event.note
        case EventKind.SKIP:
            return "Raison :", event.note
        case EventKind.REASSIGN:
            to = md(_person(names, event.payload.get("to")))
            return f"Confiée à **{to}**.", event.note
        case EventKind.DEADLINE:
            reason = str(event.payload.get("reason") or "")
            label = end_reason_label(reason) or reason
            return (f"Close par son échéance : **{md(label)}**." if label else None), event.note
        case EventKind.OPENED:
            return "L'étape s'est ouverte à sa date prévue.", event.note
        case EventKind.CORRECTION:
            outcome = event.payload.get("outcome", {})
            lines = [(line.label, line.value) for line in outcome_lines(step, outcome)]
            head = "Réponses corrigées (la décision d'origine reste affichée plus haut) :"
            return "\n\n".join([head, _bullets(lines)]), event.note
        case EventKind.ADDED:
            return "Étape ajoutée au plan, à côté du parcours.", event.note
        case EventKind.TRANSFER:
            to = md(_person(names, event.payload.get("to")))
            return f"Le participant est désormais suivi par **{to}**.", event.note
        case EventKind.REFERRAL:
            return f"Vers **{md(str(event.payload.get('offer', '')))}**.", event.note
        case EventKind.REFERRAL_ACCEPTED:
            starts = str(event.payload.get("starts_on") or "")
            day = "/".join(reversed(starts.split("-"))) if starts else "-"
            return f"Début le **{day}** : l'étape revient au partenaire.", event.note
        case EventKind.REFERRAL_DECLINED:
            return "Motif du refus :", event.note
        case EventKind.COMMENT:
            return None, event.note
        case _:
            lines = [(str(key), str(value)) for key, value in event.payload.items()]
            return _bullets(lines) or None, event.note


def show_event(event: EventView, *, step: StepSpec | None, names: Mapping[int, str]) -> None:
    """One event: what, who, when; then its details."""
    label = EVENT_LABELS.get(event.kind, str(event.kind))
    icon = EVENT_ICONS.get(event.kind, ":material/circle:")
    who = md(event.actor) if event.actor else SYSTEM
    st.markdown(f"{icon} **{label}** · {who} · {local_datetime(event.occurred_at)}")
    text, typed = _body(event, step, names)
    if text:
        st.markdown(text)
    if typed:
        if event.kind is EventKind.DECISION:
            st.markdown(f"*{NOTE_LABEL}* :")
        elif event.kind is EventKind.CORRECTION:
            st.markdown("*Raison de la correction* :")
        st.text(typed)
    if not event.seen_by_flow:
        st.caption(f":material/sync: {CATCHING_UP}")


def show_events(
    events: Sequence[EventView], *, step: StepSpec | None, names: Mapping[int, str]
) -> None:
    """Every event of a step, oldest first."""
    for event in events:
        show_event(event, step=step, names=names)
