"""Formations: the training catalogue, sessions with their places and waiting list, a
session's participants, enrolment (advisors, from their caseload), attendance per day (the
partner giving the module) and closing, which moves each participant's pathway on.

Every action goes through crealux_core.services.training, which checks who may do it: a
partner sees only their organisation's sessions, and of participants only their first name
and reference.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crealux_core import clock
from crealux_core.models import EnrolmentStatus, Presence, Role, SessionStatus
from crealux_core.services.errors import InvalidInput, ServiceError
from crealux_core.services.policy import Action, can
from crealux_core.services.training import (
    ENROLMENT_LABELS,
    PRESENCE_LABELS,
    STATUS_LABELS,
    Completion,
    Mark,
    Roster,
    SessionView,
    catalogue,
    close_session,
    create_session,
    enrol,
    enrollable,
    list_sessions,
    record_attendance,
    roster,
)
from dashboards import background, context
from dashboards.display import md

SESSION_KEY = "training-session"


def day(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


def refused(error: ServiceError) -> None:
    if isinstance(error, InvalidInput):
        st.error(" ".join(error.field_errors.values()))
    else:
        st.error(f"Refusé : {error}")


def show_catalogue(ctx: context.Context) -> None:
    modules = catalogue(rules=ctx.runtime.rules)
    by_organisation: dict[str, list[str]] = {}
    for item in modules:
        hours = f"{item.hours:g} h" if item.hours else "durée libre"
        qualifying = ", qualifiante" if item.qualifying else ""
        by_organisation.setdefault(item.organisation_name, []).append(
            f"- {md(item.title)} ({hours}{qualifying})"
        )
    for organisation, lines in by_organisation.items():
        st.subheader(organisation)
        st.markdown("\n".join(lines))


def session_label(view: SessionView) -> str:
    return (
        f"{view.module.title} - {view.module.organisation_name} - du {day(view.starts_on)}"
        f" au {day(view.ends_on)} ({STATUS_LABELS[view.status]})"
    )


def show_sessions(views: list[SessionView]) -> None:
    st.dataframe(
        [
            {
                "Module": v.module.title,
                "Organisme": v.module.organisation_name,
                "Début": day(v.starts_on),
                "Fin": day(v.ends_on),
                "Lieu": v.place,
                "Places": v.capacity,
                "Inscrits": v.enrolled,
                "En attente": v.waiting,
                "Statut": STATUS_LABELS[v.status],
            }
            for v in views
        ],
        hide_index=True,
    )


def show_roster(found: Roster) -> None:
    view = found.session
    st.markdown(
        f"**{md(view.module.title)}** ({md(view.module.organisation_name)}), {md(view.place)} :"
        f" {view.enrolled} inscrit·e·s sur {view.capacity} places, {view.waiting} en attente."
    )
    if not found.entries:
        st.caption("Aucun participant que vous suivez n'est inscrit à cette session.")
        return
    st.dataframe(
        [
            {
                "Référence": e.reference,
                "Prénom": e.first_name,
                "Statut": ENROLMENT_LABELS[e.status]
                + (f" (n° {e.position})" if e.position else ""),
                "Heures suivies": e.hours_attended,
                "Parcours avancé": "oui" if e.decided else "",
            }
            for e in found.entries
        ],
        hide_index=True,
    )


def enrol_form(ctx: context.Context, view: SessionView) -> None:
    with ctx.runtime.session() as session:
        candidates = enrollable(session=session, user=ctx.user)
    st.subheader("Inscrire un participant")
    if not candidates:
        st.caption("Aucun participant de votre suivi n'attend à l'étape « Formation ».")
        return
    labels = {p.id or 0: f"{p.reference} - {p.full_name}" for p in candidates}
    chosen = st.selectbox(
        "Participant à l'étape « Formation »",
        options=list(labels),
        format_func=lambda key: labels[key],
        key="training-enrol-participant",
    )
    if st.button("Inscrire", key="training-enrol"):
        try:
            with ctx.runtime.session() as session:
                done = enrol(
                    session=session,
                    rules=ctx.runtime.rules,
                    user=ctx.user,
                    training_session_id=view.id,
                    participant_id=int(chosen),
                    now=clock.utcnow(),
                    dashboard_url=ctx.runtime.settings.dashboard_url,
                )
        except ServiceError as error:
            refused(error)
            return
        if done.status is EnrolmentStatus.WAITING:
            context.flash(
                "info", f"Session complète : inscrit·e en liste d'attente (n° {done.position})."
            )
        else:
            context.flash("success", "Inscription enregistrée.")
        st.rerun()


def attendance_form(ctx: context.Context, found: Roster) -> None:
    enrolled = [e for e in found.entries if e.status is EnrolmentStatus.ENROLLED]
    st.subheader("Présences")
    if not enrolled or not found.session.days:
        st.caption("Personne n'est inscrit.")
        return
    days = {day_id: (held_on, hours) for day_id, held_on, hours in found.session.days}
    day_id = st.selectbox(
        "Jour de la session",
        options=list(days),
        format_func=lambda key: f"{day(days[key][0])} ({days[key][1]:g} h)",
        key="training-day",
    )
    held_on, day_hours = days[day_id]
    marks = []
    for entry in enrolled:
        presence, hours = found.attendance.get(
            (entry.enrolment_id, day_id), (Presence.PRESENT, day_hours)
        )
        left, right = st.columns([2, 1])
        chosen = left.radio(
            f"{entry.reference} - {entry.first_name}",
            options=list(Presence),
            format_func=lambda value: PRESENCE_LABELS[value],
            index=list(Presence).index(presence),
            horizontal=True,
            key=f"training-presence-{entry.enrolment_id}-{day_id}",
        )
        given = right.number_input(
            "Heures",
            min_value=0.0,
            max_value=float(day_hours),
            value=float(hours if presence is Presence.PRESENT else day_hours),
            step=0.5,
            key=f"training-hours-{entry.enrolment_id}-{day_id}",
        )
        marks.append(Mark(entry.enrolment_id, Presence(chosen or presence), float(given)))
    if st.button("Enregistrer les présences", key="training-attend"):
        try:
            with ctx.runtime.session() as session:
                record_attendance(
                    session=session,
                    user=ctx.user,
                    training_session_id=found.session.id,
                    held_on=held_on,
                    marks=marks,
                    now=clock.utcnow(),
                )
        except ServiceError as error:
            refused(error)
            return
        context.flash("success", f"Présences du {day(held_on)} enregistrées.")
        st.rerun()


def close_form(ctx: context.Context, found: Roster) -> None:
    enrolled = [e for e in found.entries if e.status is EnrolmentStatus.ENROLLED]
    st.subheader("Clôturer la session")
    st.caption(
        "À la clôture, le parcours de chaque participant inscrit passe à l'étape suivante, avec"
        " les heures suivies et le résultat ci-dessous."
    )
    completions = {}
    for entry in enrolled:
        left, right = st.columns(2)
        done = left.checkbox(
            f"{entry.reference} - {entry.first_name} : formation terminée",
            value=entry.completed if entry.completed is not None else entry.hours_attended > 0,
            # Its default follows the attendance: recorded again, it is asked again.
            key=f"training-completed-{entry.enrolment_id}-{entry.hours_attended:g}",
        )
        qualified = False
        if found.session.module.qualifying:
            qualified = right.checkbox(
                "Qualification obtenue",
                value=bool(entry.qualification),
                key=f"training-qualified-{entry.enrolment_id}",
            )
        completions[entry.enrolment_id] = Completion(bool(done), bool(qualified))
    if st.button("Clôturer la session", key="training-close", type="primary"):
        try:
            with ctx.runtime.session() as session:
                closed = close_session(
                    session=session,
                    rules=ctx.runtime.rules,
                    user=ctx.user,
                    training_session_id=found.session.id,
                    completions=completions,
                    now=clock.utcnow(),
                    orchestrator=None,  # woken below, from threads: the page does not wait
                    dashboard_url=ctx.runtime.settings.dashboard_url,
                )
        except ServiceError as error:
            refused(error)
            return
        for pathway_run_id, event_id in closed.moved:
            background.wake_later(ctx.runtime, pathway_run_id, event_id)
        text = f"Session clôturée : {len(closed.decided)} parcours avancé(s)."
        problems = len(closed.not_on_step) + len(closed.failed)
        if problems:
            text += f" {problems} participant(s) n'étaient plus à l'étape « Formation »."
        context.flash("success", text)
        st.rerun()


def create_form(ctx: context.Context) -> None:
    modules = [
        m
        for m in catalogue(rules=ctx.runtime.rules)
        if ctx.user.role is Role.COORDINATOR or m.organisation_key == own_key(ctx)
    ]
    if not modules:
        st.caption("Votre organisme ne donne aucun module de formation.")
        return
    labels = {m.key: f"{m.title} ({m.organisation_name})" for m in modules}
    key = st.selectbox(
        "Module", options=list(labels), format_func=lambda k: labels[k], key="training-new-module"
    )
    today = clock.local_today(clock.utcnow())
    starts = st.date_input("Début", value=today, format="DD/MM/YYYY", key="training-new-start")
    ends = st.date_input("Fin", value=today, format="DD/MM/YYYY", key="training-new-end")
    capacity = st.number_input(
        "Places", min_value=1, max_value=200, value=12, key="training-new-capacity"
    )
    hours = st.number_input(
        "Heures par jour",
        min_value=0.5,
        max_value=12.0,
        value=6.0,
        step=0.5,
        key="training-new-hours",
    )
    place = st.text_input("Lieu", key="training-new-place")
    st.caption("Les jours de la session sont les jours ouvrables entre le début et la fin.")
    if st.button("Créer la session", key="training-create"):
        organisation_key, _, offer_key = str(key).partition("/")
        try:
            with ctx.runtime.session() as session:
                view = create_session(
                    session=session,
                    rules=ctx.runtime.rules,
                    user=ctx.user,
                    organisation_key=organisation_key,
                    offer_key=offer_key,
                    starts_on=starts,
                    ends_on=ends,
                    capacity=int(capacity),
                    place=place,
                    now=clock.utcnow(),
                    hours_per_day=float(hours),
                )
        except ServiceError as error:
            refused(error)
            return
        st.session_state[SESSION_KEY] = view.id
        context.flash("success", "Session créée.")
        st.rerun()


def own_key(ctx: context.Context) -> str | None:
    from crealux_core.models import Organisation

    with ctx.runtime.session() as session:
        row = session.get(Organisation, ctx.user.organisation_id)
    return row.key if row else None


def may_create(ctx: context.Context) -> bool:
    if ctx.user.role is Role.COORDINATOR:
        return True
    if ctx.user.role is not Role.PARTNER:
        return False
    return any(m.organisation_key == own_key(ctx) for m in catalogue(rules=ctx.runtime.rules))


def main() -> None:
    ctx = context.current()
    st.title("Formations")
    names = ["Sessions", "Catalogue"] + (["Nouvelle session"] if may_create(ctx) else [])
    tabs = dict(zip(names, st.tabs(names), strict=True))
    with tabs["Catalogue"]:
        show_catalogue(ctx)
    if "Nouvelle session" in tabs:
        with tabs["Nouvelle session"]:
            create_form(ctx)
    with tabs["Sessions"]:
        with ctx.runtime.session() as session:
            views = list_sessions(session=session, rules=ctx.runtime.rules, user=ctx.user)
        if not views:
            st.info("Aucune session de formation.")
            return
        show_sessions(views)
        by_id = {v.id: v for v in views}
        wanted = context.query_id("session")
        if wanted in by_id and SESSION_KEY not in st.session_state:
            st.session_state[SESSION_KEY] = wanted
        chosen = st.selectbox(
            "Session",
            options=list(by_id),
            format_func=lambda key: session_label(by_id[key]),
            key=SESSION_KEY,
        )
        view = by_id[int(chosen)]
        try:
            with ctx.runtime.session() as session:
                found = roster(
                    session=session,
                    rules=ctx.runtime.rules,
                    user=ctx.user,
                    training_session_id=view.id,
                )
        except ServiceError as error:
            refused(error)
            return
        show_roster(found)
        if view.status is SessionStatus.CLOSED:
            st.caption("Session clôturée.")
            return
        if ctx.user.role in (Role.ADVISOR, Role.COORDINATOR):
            enrol_form(ctx, view)
        if can(ctx.user, Action.RECORD_ATTENDANCE, view.organisation_id):
            attendance_form(ctx, found)
        if found.may_manage:
            close_form(ctx, found)


main()
