"""Participants: the people the signed-in user follows; each opens their pathway."""

from __future__ import annotations

import streamlit as st

from crealux_core.models import Participant
from crealux_core.services.participants import list_participants
from dashboards import context
from dashboards.display import GENDER_LABELS, local_date, md


def matches(participant: Participant, search: str) -> bool:
    wanted = search.strip().casefold()
    return not wanted or wanted in f"{participant.reference} {participant.full_name}".casefold()


def participant_row(participant: Participant) -> None:
    with st.container(border=True):
        who, where, action = st.columns([4, 4, 2], vertical_alignment="center")
        who.markdown(f"**{md(participant.full_name)}**  \n{participant.reference}")
        details = [
            GENDER_LABELS.get(participant.gender, participant.gender),
            md(participant.municipality or "commune non renseignée"),
            f"inscrit·e le {local_date(participant.enrolled_at)}",
        ]
        where.markdown("  \n".join(details))
        if action.button("Voir le parcours", key=f"open-participant-{participant.id}"):
            st.switch_page(context.TIMELINE_PAGE, query_params={"participant": str(participant.id)})


def render() -> None:
    ctx = context.current()
    st.title("Participants")
    with ctx.runtime.session() as session:
        participants = list_participants(session=session, user=ctx.user)
    if not participants:
        st.info("Aucun participant ne vous est confié pour l'instant.")
        return
    search = st.text_input("Rechercher (nom ou référence)", key="participants-search")
    shown = [participant for participant in participants if matches(participant, search)]
    st.caption(f"{len(shown)} participant(s) sur {len(participants)}.")
    for participant in shown:
        participant_row(participant)


render()
