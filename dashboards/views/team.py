"""Équipe (coordinator): each advisor's open caseload against their quota, their speciality, and
moving a whole caseload to a colleague (a leave, a departure).

Enrolment suggests the advisor with room in their quota and the speciality that fits
(`services.caseloads.suggest_advisor`); this page is where quotas and specialities are set.
"""

from __future__ import annotations

import streamlit as st

from crealux_core import clock
from crealux_core.models import Role
from crealux_core.services.caseloads import (
    SPECIALITIES,
    Caseload,
    caseloads,
    set_profile,
    transfer_participants,
)
from crealux_core.services.errors import InvalidInput, ServiceError
from dashboards import context
from dashboards.display import md

SPECIALITY_LABELS = {
    "creation": "Création d'activité",
    "training": "Formation",
    "employment": "Recherche d'emploi",
    "social": "Accompagnement social",
}
NO_SPECIALITY = "Aucune"


def profile_row(ctx: context.Context, advisor_id: int, load: Caseload) -> None:
    with st.container(border=True):
        who, quota_col, speciality_col, action = st.columns(
            [3, 2, 3, 1], vertical_alignment="bottom"
        )
        badge = " · **complet**" if load.full else ""
        who.markdown(
            f"**{md(load.display_name)}**  \n{load.open_pathways} parcours en cours"
            + (f" sur {load.quota}" if load.quota is not None else " (pas de quota)")
            + badge
        )
        quota = quota_col.number_input(
            "Quota",
            min_value=0,
            max_value=500,
            value=load.quota,
            step=1,
            placeholder="sans quota",
            key=f"quota-{advisor_id}",
        )
        options = [NO_SPECIALITY, *SPECIALITIES]
        speciality = speciality_col.selectbox(
            "Spécialité",
            options=options,
            index=options.index(load.speciality or NO_SPECIALITY),
            format_func=lambda key: SPECIALITY_LABELS.get(key, key),
            key=f"speciality-{advisor_id}",
        )
        if action.button("Enregistrer", key=f"save-{advisor_id}"):
            try:
                with ctx.runtime.session() as session:
                    set_profile(
                        session=session,
                        actor=ctx.user,
                        advisor_id=advisor_id,
                        quota=int(quota) if quota is not None else None,
                        speciality=None if speciality == NO_SPECIALITY else speciality,
                    )
            except InvalidInput:
                st.error("Quota entre 0 et 500, ou vide.")
                return
            context.flash("success", f"Profil de {load.display_name} enregistré.")
            st.rerun()


def transfer_form(ctx: context.Context, names: dict[int, str]) -> None:
    st.subheader("Confier tout un portefeuille")
    st.caption(
        "Tous les participants suivis par la personne passent à la collègue choisie, avec leurs "
        "étapes en cours ; chaque parcours garde la trace du changement."
    )
    with st.form("transfer-caseload"):
        origin = st.selectbox(
            "De",
            options=list(names),
            format_func=names.__getitem__,
            index=None,
            placeholder="Choisir…",
        )
        target = st.selectbox(
            "À",
            options=list(names),
            format_func=names.__getitem__,
            index=None,
            placeholder="Choisir…",
        )
        note = st.text_input("Raison (facultatif)", max_chars=300)
        if not st.form_submit_button("Transférer le portefeuille"):
            return
    if origin is None or target is None or origin == target:
        st.error("Choisissez deux personnes différentes.")
        return
    try:
        with ctx.runtime.session() as session:
            moved = transfer_participants(
                session=session,
                actor=ctx.user,
                from_advisor_id=int(origin),
                to_advisor_id=int(target),
                note=note,
                now=clock.utcnow(),
                dashboard_url=ctx.runtime.settings.dashboard_url,
            )
    except ServiceError:
        st.error("Ce transfert n'est pas possible : rechargez la page.")
        return
    context.flash("success", f"{moved} participant(s) confié(s) à {names[target]}.")
    st.rerun()


def render() -> None:
    ctx = context.current()
    st.title("Équipe")
    if ctx.user.role is not Role.COORDINATOR:
        st.error("Cette page est réservée à la coordination.")
        return
    with ctx.runtime.session() as session:
        loads = caseloads(session=session)
    if not loads:
        st.info("Aucun·e accompagnateur·rice actif·ve.")
        return
    st.caption(
        "Le quota est le nombre de parcours en cours qu'une personne suit au plus ; "
        "l'inscription propose d'abord quelqu'un qui a de la place, de la bonne spécialité."
    )
    for load in loads:
        profile_row(ctx, load.advisor_id, load)
    transfer_form(ctx, {load.advisor_id: load.display_name for load in loads})


render()
