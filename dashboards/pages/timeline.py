"""Parcours (`?participant=ID`): a participant's steps and decisions, oldest first."""

from __future__ import annotations

import streamlit as st

from crealux_core.models import PathwayRun, StepStatus
from crealux_core.rules.specs import Rules
from crealux_core.services.errors import Forbidden, NotFound
from crealux_core.services.participants import Timeline, TimelineEntry, participant_timeline
from dashboards import context
from dashboards.decisions import show_decision
from dashboards.display import (
    GENDER_LABELS,
    PATHWAY_STATUS_LABELS,
    STEP_STATUS_LABELS,
    find_step,
    local_date,
    md,
)


def summary(timeline: Timeline, rules: Rules) -> None:
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
        pathway = rules.pathways.get(run.pathway_key)
        title = pathway.title if pathway else run.pathway_key
        st.caption(
            f"{md(title)} : {PATHWAY_STATUS_LABELS.get(run.status, run.status)}"
            f" depuis le {local_date(run.started_at)}"
            + (f", terminé le {local_date(run.completed_at)}" if run.completed_at else "")
        )


def entry_card(entry: TimelineEntry, run: PathwayRun | None, rules: Rules) -> None:
    view = entry.step
    step = find_step(rules, run.pathway_key, view.step_key) if run else None
    with st.container(border=True):
        st.markdown(
            f"**{view.seq}. {md(view.title)}** · {md(view.organisation)} · "
            f"{STEP_STATUS_LABELS.get(view.status, view.status)}"
        )
        dates = [f"ouverte le {local_date(view.opened_at)}", f"échéance {local_date(view.due_at)}"]
        if view.completed_at:
            dates.append(f"complétée le {local_date(view.completed_at)}")
        st.caption(" · ".join(dates))
        if entry.outcome is not None:
            show_decision(
                step=step,
                outcome=entry.outcome,
                note=entry.note,
                decided_by=entry.decided_by,
                decided_at=entry.decided_at,
                delivered=entry.delivered,
            )
        elif view.status is StepStatus.OPEN and st.button("Ouvrir", key=f"open-step-{view.id}"):
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
    except NotFound:
        st.error("Ce participant n'existe pas.")
        return
    except Forbidden:
        st.error("Ce participant n'est pas suivi par vous ou votre organisation.")
        return
    summary(timeline, ctx.runtime.rules)
    runs = {run.id: run for run in timeline.pathway_runs}
    if not timeline.entries:
        st.info("Aucune étape n'est encore ouverte : le parcours démarre.")
    for entry in timeline.entries:
        entry_card(entry, runs.get(entry.step.pathway_run_id), ctx.runtime.rules)


render()
