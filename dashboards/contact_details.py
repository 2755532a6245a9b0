"""A participant's contact details on their page: shown to those who follow them, with a form to
record or correct them. Whoever else opens the page sees nothing of them (the service refuses)."""

from __future__ import annotations

import streamlit as st

from crealux_core import clock
from crealux_core.services.contacts import (
    ADDRESS_MAX,
    EMAIL_MAX,
    FIELDS,
    MUNICIPALITY_MAX,
    PHONE_MAX,
    ContactCard,
    contact_details,
    update_contact_details,
)
from crealux_core.services.errors import Forbidden, InvalidInput
from dashboards.context import Context, flash
from dashboards.display import EMPTY, md

LABELS = {
    "phone": "Téléphone",
    "email": "Adresse e-mail",
    "address": "Adresse postale",
    "municipality": "Commune",
}
LIMITS = {
    "phone": PHONE_MAX,
    "email": EMAIL_MAX,
    "address": ADDRESS_MAX,
    "municipality": MUNICIPALITY_MAX,
}
_ERRORS = "_crealux_contact_errors"


def _key(participant_id: int, name: str) -> str:
    return f"contact-{participant_id}-{name}"


def _shown(card: ContactCard) -> None:
    details = card.details
    lines = [f"**{LABELS[name]}** : {md(getattr(details, name) or EMPTY)}" for name in FIELDS]
    st.markdown("  \n".join(lines))


def _form(ctx: Context, card: ContactCard) -> None:
    errors: dict[str, str] = st.session_state.get(_ERRORS, {}).get(card.participant_id, {})
    with st.form(f"contact-{card.participant_id}"):
        values = {}
        for name in FIELDS:
            current = getattr(card.details, name) or ""
            label = LABELS[name]
            if name == "address":
                values[name] = st.text_area(
                    label,
                    value=current,
                    max_chars=LIMITS[name],
                    key=_key(card.participant_id, name),
                    height=80,
                )
            else:
                values[name] = st.text_input(
                    label,
                    value=current,
                    max_chars=LIMITS[name],
                    key=_key(card.participant_id, name),
                    placeholder="+32 470 12 34 56" if name == "phone" else None,
                )
            if name in errors:
                st.error(errors[name])
        submitted = st.form_submit_button("Enregistrer les coordonnées")
    if not submitted:
        return
    try:
        with ctx.runtime.session() as session:
            update_contact_details(
                session=session,
                user=ctx.user,
                participant_id=card.participant_id,
                data=values,
                now=clock.utcnow(),
            )
    except InvalidInput as error:
        st.session_state.setdefault(_ERRORS, {})[card.participant_id] = error.field_errors
        st.rerun()
    st.session_state.get(_ERRORS, {}).pop(card.participant_id, None)
    flash("success", "Coordonnées enregistrées.")
    st.rerun()


def render(ctx: Context, participant_id: int) -> None:
    """Show a participant's contact details and a form to correct them, to those who follow
    them; show nothing to anyone else."""
    try:
        with ctx.runtime.session() as session:
            card = contact_details(session=session, user=ctx.user, participant_id=participant_id)
    except Forbidden:
        return
    st.subheader("Coordonnées")
    _shown(card)
    with st.expander("Corriger les coordonnées", expanded=False):
        _form(ctx, card)
