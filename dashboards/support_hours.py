"""A participant's hours of support on their page: by kind, where they come from, the corrections
with who, when and why, and a form to correct them (the participant's advisor, the coordinator).

The participant page embeds it with `support_hours.render(ctx, participant_id)`.
"""

from __future__ import annotations

import streamlit as st

from crealux_core import clock
from crealux_core.rules.facts import SUPPORT_KINDS
from crealux_core.services.errors import Forbidden, InvalidInput, NotFound
from crealux_core.services.support import SupportSummary, correct_support, support_hours
from dashboards.context import Context, flash
from dashboards.display import local_datetime

NOTHING_SAVED = "Rien n'a été enregistré : corrigez les champs signalés."


def hours(value: float) -> str:
    """Return hours the French way: « 1,5 h »."""
    return f"{value:g} h".replace(".", ",")


def _table(summary: SupportSummary) -> None:
    st.dataframe(
        [
            {
                "Type": item.label,
                "Étapes": hours(item.from_steps),
                "Formations": hours(item.from_trainings),
                "Corrections": hours(item.corrections),
                "Total": hours(item.total),
            }
            for item in summary.kinds
        ],
        hide_index=True,
    )
    st.caption(
        f"En tout : {hours(summary.total)}. Les étapes comptent selon les règles du parcours, "
        "les formations par leurs heures ; une correction s'ajoute (ou se retire) avec sa raison."
    )


def _corrections(summary: SupportSummary) -> None:
    if not summary.corrections:
        return
    st.markdown("**Corrections**")
    st.dataframe(
        [
            {
                "Type": item.label,
                "Heures": f"{item.hours:+g} h".replace(".", ","),
                "Raison": item.reason,
                "Par": item.actor or "—",
                "Le": local_datetime(item.recorded_at),
                "Pour le": item.given_on.strftime("%d/%m/%Y"),
            }
            for item in summary.corrections
        ],
        hide_index=True,
    )


def _form(ctx: Context, participant_id: int) -> None:
    prefix = f"support-{participant_id}"
    summary = st.empty()
    with st.form(prefix, clear_on_submit=False):
        kind = st.selectbox(
            "Type",
            list(SUPPORT_KINDS),
            format_func=SUPPORT_KINDS.__getitem__,
            key=f"{prefix}-kind",
        )
        kind_slot = st.empty()
        value = st.number_input(
            "Heures à ajouter (négatif pour en retirer)",
            step=0.5,
            value=None,
            key=f"{prefix}-hours",
        )
        hours_slot = st.empty()
        reason = st.text_input("Raison", max_chars=500, key=f"{prefix}-reason")
        reason_slot = st.empty()
        submitted = st.form_submit_button("Corriger les heures")
    if not submitted:
        return
    slots = {"kind": kind_slot, "hours": hours_slot, "reason": reason_slot}
    try:
        with ctx.runtime.session() as session:
            correct_support(
                session=session,
                user=ctx.user,
                participant_id=participant_id,
                kind=str(kind),
                hours=float(value) if value is not None else 0.0,
                reason=reason,
                now=clock.utcnow(),
            )
    except InvalidInput as refused:
        summary.error(NOTHING_SAVED)
        for name, message in refused.field_errors.items():
            (slots.get(name) or summary).error(message, icon=":material/error:")
        return
    signed = f"{value:+g}".replace(".", ",")
    flash("success", f"Correction enregistrée : {signed} h ({SUPPORT_KINDS[str(kind)]}).")
    for name in ("hours", "reason"):
        st.session_state.pop(f"{prefix}-{name}", None)
    st.rerun()


def render(ctx: Context, participant_id: int) -> None:
    """Show a participant's hours of support and the correction form, to those who may."""
    try:
        with ctx.runtime.session() as session:
            summary = support_hours(session=session, user=ctx.user, participant_id=participant_id)
    except Forbidden:
        st.info(
            "Les heures d'accompagnement sont visibles par l'accompagnateur·rice du participant"
            " et la coordination."
        )
        return
    except NotFound:
        st.error("Ce participant n'existe pas.")
        return
    _table(summary)
    _corrections(summary)
    with st.expander("Corriger les heures"):
        _form(ctx, participant_id)
