"""A decision shown read-only, with the labels of its step's form (step page and timeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from crealux_core.rules.specs import StepSpec
from dashboards.display import local_datetime, md, outcome_lines

NOTE_LABEL = "Note (confidentielle, reste dans la base de données)"


def show_decision(
    *,
    step: StepSpec | None,
    outcome: dict[str, Any],
    note: str | None,
    decided_by: str | None,
    decided_at: datetime | None,
    delivered: bool,
) -> None:
    by = f" par {md(decided_by)}" if decided_by else ""
    st.markdown(f"**Décision du {local_datetime(decided_at)}**{by}")
    lines = outcome_lines(step, outcome)
    if lines:
        st.markdown("\n".join(f"- {md(line.label)} : **{md(line.value)}**" for line in lines))
    if note:
        st.markdown(f"*{NOTE_LABEL}* :")
        st.text(note)
    if not delivered:
        st.caption("En attente de transmission au parcours (elle se fera automatiquement).")
