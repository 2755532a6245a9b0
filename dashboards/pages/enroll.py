"""Inscrire: enroll a participant with the signed-in advisor, which starts their pathway.

The participant, their pathway and its first step are committed together; the pathway's Prefect
flow run is started in the background (`dashboards.background`), so a slow Prefect does not keep
the advisor waiting, and the reconciler starts it if that fails.

Only advisors see this page. The coordinator does not enroll: a participant is enrolled with the
advisor who will follow them (the service refuses a non-advisor anyway).
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from pydantic import ValidationError

from crealux_core import clock
from crealux_core.models import Gender, ParticipantCreate
from crealux_core.services.errors import InvalidInput
from crealux_core.services.participants import enroll_participant
from dashboards import background, context
from dashboards.display import GENDER_LABELS
from dashboards.forms import REQUIRED_HINT, french, pydantic_errors


def enroll(ctx: context.Context, values: dict[str, Any]) -> dict[str, str]:
    """Enroll the participant; return the errors to show (nothing is written when there are any)."""
    data = {name: value for name, value in values.items() if value not in (None, "")}
    try:
        participant_data = ParticipantCreate.model_validate(data)
    except ValidationError as error:
        return pydantic_errors(error)
    try:
        with ctx.runtime.session() as session:
            participant, run = enroll_participant(
                session=session,
                rules=ctx.runtime.rules,
                data=participant_data,
                advisor=ctx.user,
                now=clock.utcnow(),
                orchestrator=None,  # started below, without making the advisor wait
                dashboard_url=ctx.runtime.settings.dashboard_url,
            )
    except InvalidInput as refused:
        return {name: french(message) for name, message in refused.field_errors.items()}
    background.start_flow_later(ctx.runtime, run.id or 0)
    context.flash("success", f"{participant.full_name} est inscrit·e ({participant.reference}).")
    st.switch_page(context.TIMELINE_PAGE, query_params={"participant": str(participant.id)})


def render() -> None:
    ctx = context.current()
    st.title("Inscrire un participant")
    if not context.may_enroll(ctx.user):
        st.error("Seul·e un·e accompagnateur·rice inscrit un participant.")
        return
    st.caption(
        "Le participant sera suivi par vous ; son parcours démarre dès l'inscription. "
        + REQUIRED_HINT
    )
    summary = st.empty()
    slots = {}
    values: dict[str, Any] = {}
    with st.form("enroll"):
        values["first_name"] = st.text_input("Prénom", max_chars=100).strip()
        slots["first_name"] = st.empty()
        values["last_name"] = st.text_input("Nom", max_chars=100).strip()
        slots["last_name"] = st.empty()
        values["gender"] = st.selectbox(
            "Genre",
            options=list(Gender),
            format_func=GENDER_LABELS.__getitem__,
            index=None,
            placeholder="Choisir…",
            help="Demandé pour les indicateurs FSE+ ; « Ne souhaite pas répondre » est possible.",
        )
        slots["gender"] = st.empty()
        values["birth_year"] = st.number_input(
            "Année de naissance (facultatif)",
            min_value=1900,
            max_value=clock.utcnow().year,
            value=None,
            step=1,
        )
        slots["birth_year"] = st.empty()
        values["municipality"] = st.text_input("Commune (facultatif)", max_chars=100).strip()
        slots["municipality"] = st.empty()
        submitted = st.form_submit_button("Inscrire", type="primary")
    if not submitted:
        return
    errors = enroll(ctx, values)
    for name, message in errors.items():
        if name in slots:
            slots[name].error(message, icon=":material/error:")
    general = [message for name, message in errors.items() if name not in slots]
    summary.error(" ".join(["Rien n'a été enregistré : corrigez ce qui est signalé.", *general]))


render()
