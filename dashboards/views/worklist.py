"""Mes étapes (the coordinator's: Toutes les étapes): open steps, soonest due first, a page at a
time, filtered by step, by participant and (for the coordinator) by organisation.

Only open steps: a scheduled step (one that opens later) appears here on its opening date. A step
without a due date comes after those with one. Late steps and those due within three days are
marked; an optional step (added alongside the pathway) is marked « facultative ».
"""

from __future__ import annotations

import streamlit as st

from crealux_core import clock
from crealux_core.models import Role, User
from crealux_core.services.worklist import (
    Page,
    Urgency,
    WorklistFilters,
    WorklistRow,
    organisation_choices,
    worklist,
    worklist_step_choices,
)
from dashboards import context
from dashboards.display import local_date, md

PAGE_KEY = "worklist-page"
ALL = ""  # the "no filter" choice of a selectbox


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def step_row(row: WorklistRow, *, coordinator: bool) -> None:
    with st.container(border=True):
        who, what, when, action = st.columns([3, 3, 2, 1], vertical_alignment="center")
        who.markdown(f"**{md(row.participant_name)}**  \n{row.participant_reference}")
        details = [f"**{md(row.title)}**", md(row.organisation)]
        if coordinator:
            details.append(f"suivie par {md(row.assignee)}" if row.assignee else "sans attribution")
        what.markdown("  \n".join(details))
        if row.optional:
            what.badge("facultative", icon=":material/add_circle:", color="gray")
        when.markdown(
            f"À faire pour le **{local_date(row.due_at)}**" if row.due_at else "Sans échéance"
        )
        if row.urgency is Urgency.OVERDUE:
            when.badge("en retard", icon=":material/schedule:", color="red")
        elif row.urgency is Urgency.DUE_SOON:
            when.badge("échéance dans les 3 jours", icon=":material/alarm:", color="orange")
        if action.button("Ouvrir", key=f"open-step-{row.step_id}"):
            st.switch_page(context.STEP_PAGE, query_params={"step": str(row.step_id)})


def filters(user: User) -> WorklistFilters:
    """Show the filters; return what they ask for. A change goes back to the first page."""
    runtime = context.current().runtime
    steps = dict(worklist_step_choices(rules=runtime.rules))
    columns = st.columns(3 if user.role is Role.COORDINATOR else 2)
    step_key = columns[0].selectbox(
        "Étape",
        [ALL, *steps],
        format_func=lambda key: steps.get(key, "Toutes les étapes"),
        key="worklist-step",
        on_change=_first_page,
    )
    search = columns[1].text_input(
        "Participant (nom ou référence)",
        key="worklist-participant",
        placeholder="ex. Dupont ou P-00012",
        on_change=_first_page,
    )
    organisation_id = None
    if user.role is Role.COORDINATOR:
        with runtime.session() as session:
            organisations = dict(organisation_choices(session=session))
        organisation_id = columns[2].selectbox(
            "Organisation",
            [None, *organisations],
            format_func=lambda key: organisations.get(key, "Toutes") if key else "Toutes",
            key="worklist-organisation",
            on_change=_first_page,
        )
    return WorklistFilters(
        step_key=step_key or None, participant=search, organisation_id=organisation_id
    )


def pager(page: Page[WorklistRow]) -> None:
    """Previous and next page, shown only when there is more than one page."""
    if page.pages <= 1:
        return
    previous, where, following = st.columns([1, 2, 1], vertical_alignment="center")
    where.caption(f"Page {page.number} sur {page.pages}")
    if previous.button("Page précédente", disabled=page.number <= 1, key="worklist-previous"):
        st.session_state[PAGE_KEY] = page.number - 1
        st.rerun()
    if following.button("Page suivante", disabled=page.number >= page.pages, key="worklist-next"):
        st.session_state[PAGE_KEY] = page.number + 1
        st.rerun()


def caption(page: Page[WorklistRow], user: User) -> str:
    scope = "toutes équipes confondues" if user.role is Role.COORDINATOR else "à traiter"
    return (
        f"{page.total} étape(s) ouverte(s) {scope}, dont {page.counts['overdue']} en retard"
        f" et {page.counts['due_soon']} à échéance dans les 3 jours ; la plus urgente d'abord."
    )


def render() -> None:
    ctx = context.current()
    coordinator = ctx.user.role is Role.COORDINATOR
    st.title("Toutes les étapes" if coordinator else "Mes étapes")
    wanted = filters(ctx.user)
    with ctx.runtime.session() as session:
        page = worklist(
            session=session,
            rules=ctx.runtime.rules,
            user=ctx.user,
            now=clock.utcnow(),
            filters=wanted,
            page=int(st.session_state.get(PAGE_KEY, 1)),
        )
    if page.total and not page.rows:  # the list shrank under a far page: back to the first
        _first_page()
        st.rerun()
    if not page.total:
        if wanted == WorklistFilters():
            st.info("Aucune étape ouverte pour vous en ce moment. Rien ne presse !")
        else:
            st.info("Aucune étape ouverte ne correspond à ces filtres.")
        return
    st.caption(caption(page, ctx.user))
    for row in page.rows:
        step_row(row, coordinator=coordinator)
    pager(page)


render()
