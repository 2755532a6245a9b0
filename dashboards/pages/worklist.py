"""Mes étapes: the open steps of the signed-in user, soonest due first.

Only open steps: a scheduled step (one that opens later) appears here on its opening date. A step
without a due date comes after those with one.
"""

from __future__ import annotations

import streamlit as st

from crealux_core import clock
from crealux_core.models import Role, StepStatus
from crealux_core.services.steps import StepView, list_steps
from dashboards import context
from dashboards.display import is_overdue, local_date, md


def step_row(view: StepView, *, overdue: bool) -> None:
    with st.container(border=True):
        who, what, when, action = st.columns([3, 3, 2, 1], vertical_alignment="center")
        who.markdown(f"**{md(view.participant_name)}**  \n{view.participant_reference}")
        what.markdown(f"**{md(view.title)}**  \n{md(view.organisation)}")
        when.markdown(
            f"À faire pour le **{local_date(view.due_at)}**" if view.due_at else "Sans échéance"
        )
        if overdue:
            when.badge("en retard", icon=":material/schedule:", color="red")
        if action.button("Ouvrir", key=f"open-step-{view.id}"):
            st.switch_page(context.STEP_PAGE, query_params={"step": str(view.id)})


def render() -> None:
    ctx = context.current()
    st.title("Mes étapes")
    now = clock.utcnow()
    with ctx.runtime.session() as session:
        steps = list_steps(
            session=session, rules=ctx.runtime.rules, user=ctx.user, status=StepStatus.OPEN
        )
    if not steps:
        st.info("Aucune étape ouverte pour vous en ce moment. Rien ne presse !")
        return
    late = sum(is_overdue(view.due_at, now) for view in steps)
    scope = "toutes équipes confondues" if ctx.user.role is Role.COORDINATOR else "à traiter"
    st.caption(
        f"{len(steps)} étape(s) ouverte(s) {scope}, dont {late} en retard ;"
        " la plus urgente d'abord."
    )
    for view in sorted(steps, key=lambda v: (v.due_at is None, v.due_at or now, v.id)):
        step_row(view, overdue=is_overdue(view.due_at, now))


render()
