"""Inscrire: enrol a participant, which starts their pathway.

The participant, their pathway and its first step are committed together; the pathway's Prefect
flow run is started in the background (`dashboards.background`), so a slow Prefect does not keep
the advisor waiting, and the reconciler starts it if that fails.

An advisor enrols the participants they will follow. The coordinator enrols and assigns: the
page suggests the advisor with room in their caseload (quota) and, when the participant's main
expectation is known, the speciality that fits (`services.caseloads.suggest_advisor`).
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from pydantic import ValidationError

from crealux_core import clock
from crealux_core.models import Gender, ParticipantCreate, Role, User
from crealux_core.services.caseloads import Caseload, caseloads, suggest_advisor
from crealux_core.services.errors import InvalidInput
from crealux_core.services.lookup import get_row
from crealux_core.services.participants import enroll_participant
from dashboards import background, context
from dashboards.display import GENDER_LABELS
from dashboards.forms import REQUIRED_HINT, french, pydantic_errors

EXPECTATIONS = {
    "creation": "Créer son activité",
    "employment": "Trouver un emploi",
    "training": "Se former",
}
SPECIALITY_LABELS = {
    "creation": "création",
    "training": "formation",
    "employment": "emploi",
    "social": "accompagnement social",
}


def advisor_label(load: Caseload) -> str:
    quota = f"/{load.quota}" if load.quota is not None else ""
    speciality = SPECIALITY_LABELS.get(load.speciality or "", "")
    return (
        f"{load.display_name} - {load.open_pathways}{quota} parcours"
        + (f", {speciality}" if speciality else "")
        + (" (complet)" if load.full else "")
    )


def choose_advisor(ctx: context.Context) -> int | None:
    """Let the coordinator choose who will follow the participant, the suggestion first."""
    expectation = st.selectbox(
        "Attente principale (pour proposer un·e accompagnateur·rice)",
        options=list(EXPECTATIONS),
        format_func=EXPECTATIONS.__getitem__,
        index=None,
        placeholder="Pas encore connue",
        key="enroll-expectation",
    )
    with ctx.runtime.session() as session:
        loads = caseloads(session=session)
        suggestion = suggest_advisor(session=session, expectation=expectation)
    if not loads:
        st.warning("Aucun·e accompagnateur·rice actif·ve : créez d'abord un compte.")
        return None
    ids = [load.advisor_id for load in loads]
    by_id = {load.advisor_id: load for load in loads}
    chosen = st.selectbox(
        "Suivi par",
        options=ids,
        index=ids.index(suggestion.caseload.advisor_id) if suggestion else 0,
        format_func=lambda advisor_id: advisor_label(by_id[advisor_id]),
        key=f"enroll-advisor-{expectation}",
    )
    if suggestion:
        st.caption(
            f"Suggestion : **{suggestion.caseload.display_name}** ({suggestion.reason})."
            " L'accompagnateur·rice choisi·e est prévenu·e."
        )
    return int(chosen) if chosen is not None else None


def enroll(ctx: context.Context, values: dict[str, Any], advisor_id: int | None) -> dict[str, str]:
    """Enroll the participant; return the errors to show (nothing is written when there are any)."""
    if advisor_id is None:
        return {"advisor": "Choisissez qui suivra le participant."}
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
                advisor=get_row(session, User, advisor_id),
                now=clock.utcnow(),
                orchestrator=None,  # started below, without making the advisor wait
                dashboard_url=ctx.runtime.settings.dashboard_url,
                actor=ctx.user,
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
        st.error("Seul·e un·e accompagnateur·rice ou la coordination inscrit un participant.")
        return
    if ctx.user.role is Role.COORDINATOR:
        advisor_id = choose_advisor(ctx)
        st.caption("Son parcours démarre dès l'inscription. " + REQUIRED_HINT)
    else:
        advisor_id = ctx.user.id
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
        values["phone"] = st.text_input("Téléphone (facultatif)", max_chars=50).strip()
        slots["phone"] = st.empty()
        values["email"] = st.text_input("E-mail (facultatif)", max_chars=200).strip()
        slots["email"] = st.empty()
        values["address"] = st.text_input("Adresse (facultatif)", max_chars=300).strip()
        slots["address"] = st.empty()
        submitted = st.form_submit_button("Inscrire", type="primary")
    if not submitted:
        return
    errors = enroll(ctx, values, advisor_id)
    for name, message in errors.items():
        if name in slots:
            slots[name].error(message, icon=":material/error:")
    general = [message for name, message in errors.items() if name not in slots]
    summary.error(" ".join(["Rien n'a été enregistré : corrigez ce qui est signalé.", *general]))


render()
