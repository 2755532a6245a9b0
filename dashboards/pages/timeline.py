"""Parcours (`?participant=ID`): a participant's steps and what happened at each, oldest first."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from crealux_core.models import PathwayRun, StepStatus, User
from crealux_core.rules.specs import Rules
from crealux_core.services.errors import Forbidden, NotFound
from crealux_core.services.participants import Timeline, TimelineEntry, participant_timeline
from crealux_core.services.users import list_advisors
from dashboards import context
from dashboards.decisions import show_events
from dashboards.display import (
    GENDER_LABELS,
    PATHWAY_STATUS_LABELS,
    STEP_STATUS_LABELS,
    end_reason_label,
    find_step,
    heal_reason,
    local_date,
    md,
)


def run_line(run: PathwayRun, rules: Rules) -> str:
    pathway = rules.pathways.get(run.pathway_key)
    title = pathway.title if pathway else run.pathway_key
    line = (
        f"{md(title)} : {PATHWAY_STATUS_LABELS.get(run.status, run.status)}"
        f" depuis le {local_date(run.started_at)}"
    )
    if run.completed_at:
        why = end_reason_label(run.end_reason)
        line += f", terminé le {local_date(run.completed_at)}" + (f" ({why})" if why else "")
    return line


def summary(timeline: Timeline, rules: Rules, user: User) -> None:
    person = timeline.participant
    st.title(person.full_name)
    facts = [
        person.reference,
        GENDER_LABELS.get(person.gender, person.gender),
        f"né·e en {person.birth_year}" if person.birth_year else None,
        md(person.municipality) if person.municipality else None,
        f"inscrit·e le {local_date(person.enrolled_at)}",
    ]
    st.markdown(" · ".join(fact for fact in facts if fact))
    for run in timeline.pathway_runs:
        st.caption(run_line(run, rules))
        if run.stuck_reason and context.may_watch_pathways(user):
            st.warning(
                f"Ce parcours est bloqué : {md(heal_reason(run.stuck_reason))}. "
                "Il peut être relancé depuis « Parcours bloqués ».",
                icon=":material/warning:",
            )


def dates(entry: TimelineEntry) -> str:
    view = entry.step
    parts = []
    if view.opened_at:
        parts.append(f"ouverte le {local_date(view.opened_at)}")
    elif view.opens_at:
        parts.append(f"s'ouvrira le {local_date(view.opens_at)}")
    if view.due_at and view.status in (StepStatus.OPEN, StepStatus.SCHEDULED):
        parts.append(f"échéance {local_date(view.due_at)}")
    if view.completed_at:
        parts.append(f"close le {local_date(view.completed_at)}")
    return " · ".join(parts)


def entry_card(
    entry: TimelineEntry, run: PathwayRun | None, rules: Rules, names: Mapping[int, str]
) -> None:
    view = entry.step
    step = find_step(rules, run.pathway_key, view.step_key) if run else None
    with st.container(border=True):
        st.markdown(
            f"**{view.seq}. {md(view.title)}** · {md(view.organisation)} · "
            f"{STEP_STATUS_LABELS.get(view.status, view.status)}"
        )
        st.caption(dates(entry))
        show_events(entry.events, step=step, names=names)
        if view.status in (StepStatus.OPEN, StepStatus.SCHEDULED) and st.button(
            "Ouvrir", key=f"open-step-{view.id}"
        ):
            st.switch_page(context.STEP_PAGE, query_params={"step": str(view.id)})


def render() -> None:
    ctx = context.current()
    participant_id = context.query_id("participant")
    if participant_id is None:
        st.info("Choisissez un participant dans la liste.")
        st.page_link(context.PARTICIPANTS_PAGE, label="Participants", icon=":material/group:")
        return
    try:
        with ctx.runtime.session() as session:
            timeline = participant_timeline(
                session=session,
                rules=ctx.runtime.rules,
                user=ctx.user,
                participant_id=participant_id,
            )
            names = {user.id or 0: user.display_name for user in list_advisors(session=session)}
    except NotFound:
        st.error("Ce participant n'existe pas.")
        return
    except Forbidden:
        st.error("Ce participant n'est pas suivi par vous ou votre organisation.")
        return
    summary(timeline, ctx.runtime.rules, ctx.user)
    runs = {run.id: run for run in timeline.pathway_runs}
    if not timeline.entries:
        st.info("Aucune étape n'est encore ouverte : le parcours démarre.")
    for entry in timeline.entries:
        entry_card(entry, runs.get(entry.step.pathway_run_id), ctx.runtime.rules, names)


render()
