"""Parcours (`?participant=ID`): a participant's plan (goals, steps done, open, coming and
skipped, with who and why), their contact details, and every step with its events.

The participant's advisor and the coordinator change the plan here: add a goal and mark it
achieved or dropped, add an optional step from the catalogue, give the participant to a
colleague. Each change is an event (`services.plans`, `services.caseloads`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import streamlit as st

from crealux_core import clock
from crealux_core.models import GoalStatus, PathwayRun, PathwayStatus, Role, StepStatus, User
from crealux_core.rules.specs import Rules
from crealux_core.services.caseloads import transfer_participants
from crealux_core.services.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
)
from crealux_core.services.participants import (
    Timeline,
    TimelineEntry,
    participant_timeline,
    reenrol_participant,
    staying_run,
)
from crealux_core.services.plans import (
    PlanItem,
    PlanState,
    add_goal,
    add_optional_step,
    goals_of,
    optional_catalogue,
    plan_of,
    update_goal,
)
from crealux_core.services.steps import may_steer
from crealux_core.services.users import list_advisors
from dashboards import background, contact_details, context, support_hours
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
    st.title(timeline.name or person.reference)
    facts = [
        person.reference,
        GENDER_LABELS.get(person.gender, person.gender) if timeline.identity else None,
        f"né·e en {person.birth_year}" if person.birth_year and timeline.identity else None,
        md(person.municipality) if person.municipality and timeline.identity else None,
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


PLAN_STATES = {
    PlanState.DONE: (":material/check_circle:", "fait"),
    PlanState.OPEN: (":material/radio_button_checked:", "en cours"),
    PlanState.COMING: (":material/event:", "à venir"),
    PlanState.SKIPPED: (":material/skip_next:", "passé"),
    PlanState.CLOSED: (":material/block:", "clos"),
}
GOAL_LABELS = {
    GoalStatus.OPEN: "en cours",
    GoalStatus.ACHIEVED: "atteint",
    GoalStatus.DROPPED: "abandonné",
}


def plan_line(item: PlanItem) -> str:
    icon, state = PLAN_STATES.get(item.state, (":material/circle:", item.state))
    text = f"{icon} **{md(item.title)}**" + (" *(facultative)*" if item.optional else "")
    when = {
        PlanState.DONE: "le",
        PlanState.OPEN: "échéance",
        PlanState.COMING: "s'ouvrira le",
        PlanState.SKIPPED: "le",
        PlanState.CLOSED: "le",
    }[item.state]
    text += f" · {state}" + (f" {when} {local_date(item.when)}" if item.when else "")
    if item.who:
        text += f" · par {md(item.who)}"
    if item.why:
        text += f" · raison : {md(end_reason_label(item.why) or item.why)}"
    if item.corrected:
        text += " · *corrigé*"
    return text


def plan_section(ctx: context.Context, run: PathwayRun, steerable: bool) -> None:
    with ctx.runtime.session() as session:
        items = plan_of(session=session, rules=ctx.runtime.rules, pathway_run_id=run.id or 0)
        goals = goals_of(session=session, pathway_run_id=run.id or 0)
    st.subheader("Plan individuel")
    st.markdown("**Objectifs du participant**")
    if not goals:
        st.caption("Aucun objectif encore : ils se conviennent au bilan, avec le participant.")
    for goal in goals:
        line, action = st.columns([5, 2], vertical_alignment="center")
        target = f" · pour le {goal.target_on:%d/%m/%Y}" if goal.target_on else ""
        line.markdown(
            f"- {md(goal.label)} · **{GOAL_LABELS[goal.status]}**{target}"
            f" · mis à jour le {local_date(goal.updated_at)}"
        )
        if steerable:
            status = action.selectbox(
                "Statut",
                options=list(GoalStatus),
                index=list(GoalStatus).index(goal.status),
                format_func=GOAL_LABELS.__getitem__,
                key=f"goal-{goal.id}-status",
                label_visibility="collapsed",
            )
            if status is not None and status is not goal.status:
                with ctx.runtime.session() as session:
                    update_goal(
                        session=session,
                        user=ctx.user,
                        goal_id=goal.id or 0,
                        status=status,
                        note=None,
                        now=clock.utcnow(),
                    )
                st.rerun()
    if steerable and run.status is PathwayStatus.ACTIVE:
        goal_form(ctx, run)
    st.markdown("**Étapes**")
    st.markdown("\n\n".join(plan_line(item) for item in items) or "—")
    if steerable and run.status is PathwayStatus.ACTIVE:
        optional_form(ctx, run)


def goal_form(ctx: context.Context, run: PathwayRun) -> None:
    with (
        st.expander("Ajouter un objectif", icon=":material/flag:"),
        st.form(f"goal-{run.id}", clear_on_submit=True),
    ):
        label = st.text_input(
            "Objectif (dans les mots du participant)",
            max_chars=300,
            placeholder="Apurer mes dettes, passer le permis B, finir mon plan d'affaires…",
        )
        target = st.date_input(
            "Pour quand ? (facultatif)",
            value=None,
            format="DD/MM/YYYY",
            min_value=dt.date(2000, 1, 1),
            max_value=dt.date(2100, 12, 31),
        )
        if st.form_submit_button("Ajouter l'objectif"):
            try:
                with ctx.runtime.session() as session:
                    add_goal(
                        session=session,
                        user=ctx.user,
                        pathway_run_id=run.id or 0,
                        data={"label": label, "target_on": target},
                        now=clock.utcnow(),
                    )
            except InvalidInput:
                st.error("Écrivez l'objectif (3 caractères au moins, 300 au plus).")
                return
            context.flash("success", "Objectif ajouté au plan.")
            st.rerun()


def optional_form(ctx: context.Context, run: PathwayRun) -> None:
    with ctx.runtime.session() as session:
        catalogue = optional_catalogue(
            session=session, rules=ctx.runtime.rules, pathway_run_id=run.id or 0
        )
    if not catalogue:
        return
    titles = {step.key: step.title for step in catalogue}
    with (
        st.expander("Ajouter une étape facultative", icon=":material/add_task:"),
        st.form(f"optional-{run.id}"),
    ):
        key = st.selectbox(
            "Étape",
            options=list(titles),
            format_func=titles.__getitem__,
            index=None,
            placeholder="Choisir…",
        )
        st.caption(
            "Elle s'ajoute à côté du parcours, qui continue sans l'attendre ; "
            "l'organisation concernée est prévenue."
        )
        if st.form_submit_button("Ajouter l'étape"):
            if key is None:
                st.error("Choisissez une étape du catalogue.")
                return
            with ctx.runtime.session() as session:
                submitted = add_optional_step(
                    session=session,
                    rules=ctx.runtime.rules,
                    user=ctx.user,
                    pathway_run_id=run.id or 0,
                    step_key=key,
                    note=None,
                    now=clock.utcnow(),
                    orchestrator=None,
                    dashboard_url=ctx.runtime.settings.dashboard_url,
                )
            background.wake_later(ctx.runtime, submitted.pathway_run_id, submitted.event_id)
            context.flash("success", f"Étape « {titles[key]} » ajoutée au plan.")
            st.rerun()


def transfer_section(ctx: context.Context, timeline: Timeline) -> None:
    person = timeline.participant
    with ctx.runtime.session() as session:
        advisors = {u.id or 0: u.display_name for u in list_advisors(session=session)}
    others = [uid for uid in advisors if uid != person.advisor_id]
    st.caption(f"Suivi·e par **{md(advisors.get(person.advisor_id, '—'))}**.")
    if not others:
        return
    with (
        st.expander("Confier à un·e collègue", icon=":material/group:"),
        st.form(f"transfer-{person.id}"),
    ):
        to = st.selectbox(
            "Nouvel·le accompagnateur·rice",
            options=others,
            format_func=advisors.__getitem__,
            index=None,
            placeholder="Choisir…",
        )
        note = st.text_input("Raison (facultatif)", max_chars=300)
        st.caption("Ses étapes en cours passent dans la liste du ou de la collègue.")
        if st.form_submit_button("Confier"):
            if to is None:
                st.error("Choisissez à qui confier le participant.")
                return
            try:
                with ctx.runtime.session() as session:
                    transfer_participants(
                        session=session,
                        actor=ctx.user,
                        from_advisor_id=person.advisor_id,
                        to_advisor_id=int(to),
                        participant_ids=[person.id or 0],
                        note=note,
                        now=clock.utcnow(),
                        dashboard_url=ctx.runtime.settings.dashboard_url,
                    )
            except ServiceError:
                st.error("Ce transfert n'est plus possible : rechargez la page.")
                return
            context.flash("success", f"{person.full_name} est confié·e à {advisors[to]}.")
            st.rerun()


def reentry_section(ctx: context.Context, participant_id: int, reference: str) -> None:
    """A participant who left may come back: a new pathway, counted once in reports."""
    with ctx.runtime.session() as session:
        if staying_run(session=session, participant_id=participant_id) is not None:
            return
    with st.expander("Retour du participant (nouveau parcours)", icon=":material/replay:"):
        st.caption(
            "Le participant a quitté son parcours et revient : un nouveau parcours commence au "
            "premier accueil. Les rapports le comptent une seule fois, avec sa première entrée."
        )
        if st.button("Commencer un nouveau parcours", key=f"reenrol-{participant_id}"):
            try:
                with ctx.runtime.session() as session:
                    run = reenrol_participant(
                        session=session,
                        rules=ctx.runtime.rules,
                        participant_id=participant_id,
                        actor=ctx.user,
                        now=clock.utcnow(),
                        orchestrator=None,  # started below, without making the advisor wait
                        dashboard_url=ctx.runtime.settings.dashboard_url,
                    )
            except Conflict:  # another tab started it meanwhile
                st.warning(f"{reference} suit déjà un parcours : rien n'a été ajouté.")
                return
            background.start_flow_later(ctx.runtime, run.id or 0)
            context.flash("success", f"Un nouveau parcours commence pour {reference}.")
            st.rerun()


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
    steerable = may_steer(ctx.user, timeline.participant)
    runs = {run.id: run for run in timeline.pathway_runs}
    plan, history, hours, contact = st.tabs(
        ["Plan", "Historique", "Heures d'accompagnement", "Coordonnées"]
    )
    with plan:
        if steerable or ctx.user.role is Role.COORDINATOR:
            transfer_section(ctx, timeline)
        if steerable:
            reentry_section(ctx, participant_id, timeline.participant.reference)
        for run in timeline.pathway_runs:
            plan_section(ctx, run, steerable)
    with history:
        if not timeline.entries:
            st.info("Aucune étape n'est encore ouverte : le parcours démarre.")
        for entry in timeline.entries:
            entry_card(entry, runs.get(entry.step.pathway_run_id), ctx.runtime.rules, names)
    with hours:
        support_hours.render(ctx, participant_id)
    with contact:
        contact_details.render(ctx, participant_id)


render()
