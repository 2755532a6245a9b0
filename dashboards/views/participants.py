"""Participants: the people the signed-in user follows, a page at a time, each with their current
step, their advisor and when something last happened; each opens their pathway."""

from __future__ import annotations

import streamlit as st

from crealux_core import clock
from crealux_core.services.worklist import Page, ParticipantRow, participants_page
from dashboards import context
from dashboards.display import GENDER_LABELS, local_date, md, time_ago

PAGE_KEY = "participants-page"


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def where_they_are(row: ParticipantRow) -> str:
    if row.current_step:
        return f"Étape en cours : **{md(row.current_step)}**"
    if row.pathway_completed:
        return "**Parcours terminé**"
    return "Aucune étape en cours"


def participant_row(row: ParticipantRow) -> None:
    now = clock.utcnow()
    with st.container(border=True):
        who, where, when, action = st.columns([3, 3, 2, 2], vertical_alignment="center")
        who.markdown(
            f"**{md(row.full_name)}**  \n{row.reference} · "
            f"{GENDER_LABELS.get(row.gender, row.gender)}  \n"
            f"{md(row.municipality or 'commune non renseignée')}"
        )
        where.markdown(f"{where_they_are(row)}  \nSuivi·e par {md(row.advisor)}")
        when.markdown(
            f"Dernier événement {time_ago(row.last_event_at, now)}"
            if row.last_event_at
            else f"Inscrit·e le {local_date(row.enrolled_at)}, aucun événement depuis"
        )
        if action.button("Voir le parcours", key=f"open-participant-{row.participant_id}"):
            st.switch_page(
                context.TIMELINE_PAGE, query_params={"participant": str(row.participant_id)}
            )


def pager(page: Page[ParticipantRow]) -> None:
    if page.pages <= 1:
        return
    previous, where, following = st.columns([1, 2, 1], vertical_alignment="center")
    where.caption(f"Page {page.number} sur {page.pages}")
    if previous.button("Page précédente", disabled=page.number <= 1, key="participants-previous"):
        st.session_state[PAGE_KEY] = page.number - 1
        st.rerun()
    if following.button(
        "Page suivante", disabled=page.number >= page.pages, key="participants-next"
    ):
        st.session_state[PAGE_KEY] = page.number + 1
        st.rerun()


def render() -> None:
    ctx = context.current()
    st.title("Participants")
    search = st.text_input(
        "Rechercher (nom ou référence)", key="participants-search", on_change=_first_page
    )
    with ctx.runtime.session() as session:
        page = participants_page(
            session=session,
            rules=ctx.runtime.rules,
            user=ctx.user,
            search=search,
            page=int(st.session_state.get(PAGE_KEY, 1)),
        )
    if page.total and not page.rows:
        _first_page()
        st.rerun()
    if not page.total:
        if search.strip():
            st.info("Aucun participant ne correspond à cette recherche.")
        else:
            st.info("Aucun participant ne vous est confié pour l'instant.")
        return
    st.caption(f"{page.total} participant(s), par nom.")
    for row in page.rows:
        participant_row(row)
    pager(page)


render()
