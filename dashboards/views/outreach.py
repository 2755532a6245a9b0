"""Sensibilisation (advisors and the coordinator): record outreach actions and structures
sensitised, see what is recorded over a period, correct or delete a record.

Each form carries an idempotency token (a uuid kept in the session state, stored as the row's
`source_key` « form:<uuid> »): a second submit of the same form (a double click) is refused by
the database's unique constraint and the page says it was already saved. The token, and so the
form's widgets, are renewed after each save: the next action is a new row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st
from sqlmodel import Session

from crealux_core import clock
from crealux_core.models import OutreachCategory, OutreachKind, Role, StructureKind
from crealux_core.services.errors import Forbidden, InvalidInput, NotFound
from crealux_core.services.outreach import (
    CATEGORY_LABELS,
    KIND_LABELS,
    STRUCTURE_KIND_LABELS,
    AlreadyRecorded,
    OutreachView,
    StructureView,
    correct_outreach,
    correct_structure,
    delete_outreach,
    delete_structure,
    list_outreach,
    list_structures,
    may_record,
    organisations,
    outreach_summary,
    record_outreach,
    record_structure,
)
from dashboards import context
from dashboards.display import local_datetime, local_day_and_time, md

PAGE_SIZE = 50
EARLIEST = dt.date(2000, 1, 1)
DATE_FORMAT = "DD/MM/YYYY"
NOTHING_SAVED = "Rien n'a été enregistré : corrigez les champs signalés."
CATEGORY_HELP = {
    OutreachCategory.CANDIDATES: (
        "Séance d'information, salon, visite d'école… : les personnes touchées comptent comme "
        "candidats potentiels sensibilisés."
    ),
    OutreachCategory.TRAINING: (
        "Une information sur la formation : les personnes touchées comptent comme personnes "
        "sensibilisées à la formation."
    ),
    OutreachCategory.PROSPECTIVE: (
        "Un atelier de la démarche prospective : son thème, ses participants et ce qui en est "
        "sorti."
    ),
}
# Labels that change with the kind of action.
TITLE_LABEL = {OutreachCategory.PROSPECTIVE: "Thème de l'atelier"}
REACHED_LABEL = {
    OutreachCategory.CANDIDATES: "Personnes touchées",
    OutreachCategory.TRAINING: "Personnes informées",
    OutreachCategory.PROSPECTIVE: "Participants",
}
OUTPUTS_LABEL = {OutreachCategory.PROSPECTIVE: "Productions de l'atelier"}
DEFAULT_KIND = {
    OutreachCategory.CANDIDATES: OutreachKind.INFORMATION_SESSION,
    OutreachCategory.TRAINING: OutreachKind.INFORMATION_SESSION,
    OutreachCategory.PROSPECTIVE: OutreachKind.WORKSHOP,
}


def token(name: str) -> str:
    """Return this form's idempotency token, made when the form is first drawn."""
    key = f"outreach-token-{name}"
    if key not in st.session_state:
        st.session_state[key] = uuid.uuid4().hex
    return str(st.session_state[key])


def renew(name: str) -> None:
    st.session_state[f"outreach-token-{name}"] = uuid.uuid4().hex


def organisation_choices(ctx: context.Context) -> tuple[dict[str, str], str | None]:
    """Return the organisations by key (their names) and the user's own organisation's key."""
    with ctx.runtime.session() as session:
        rows = organisations(session=session)
    own = next((org.key for org in rows if org.id == ctx.user.organisation_id), None)
    return {org.key: org.name for org in rows}, own


def show_errors(errors: Mapping[str, str], slots: Mapping[str, Any], summary: Any) -> None:
    """Put each error under its field, the others (and a summary) above the form."""
    for name, message in errors.items():
        if name in slots:
            slots[name].error(message, icon=":material/error:")
    general = [message for name, message in errors.items() if name not in slots]
    summary.error(" ".join([NOTHING_SAVED, *general]))


def already_saved(error: AlreadyRecorded, what: str) -> str:
    when = dt.datetime.fromisoformat(error.decided_at) if error.decided_at else None
    by = f" par {md(error.decided_by)}" if error.decided_by else ""
    at = f" {local_day_and_time(when)}" if when else ""
    return f"{what} était déjà enregistrée{by}{at} : rien n'a été ajouté."


# --- an outreach action ---------------------------------------------------------------------------


def action_fields(
    ctx: context.Context,
    category: OutreachCategory,
    prefix: str,
    today: dt.date,
    initial: OutreachView | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw an action's widgets (inside a form); return the values and a slot under each."""
    orgs, own = organisation_choices(ctx)
    values: dict[str, Any] = {"category": category.value}
    slots: dict[str, Any] = {}
    kinds = list(OutreachKind)
    kind = initial.kind if initial else DEFAULT_KIND[category]
    values["kind"] = st.selectbox(
        "Format",
        kinds,
        index=kinds.index(kind),
        format_func=KIND_LABELS.__getitem__,
        key=f"{prefix}-kind",
    )
    slots["kind"] = st.empty()
    values["held_on"] = st.date_input(
        "Date",
        value=initial.held_on if initial else None,
        min_value=EARLIEST,
        max_value=today,
        format=DATE_FORMAT,
        key=f"{prefix}-held_on",
    )
    slots["held_on"] = st.empty()
    values["title"] = st.text_input(
        TITLE_LABEL.get(category, "Intitulé"),
        value=initial.title if initial else "",
        max_chars=200,
        key=f"{prefix}-title",
    )
    slots["title"] = st.empty()
    keys = list(orgs)
    chosen = initial.organiser_key if initial else own
    values["organiser"] = st.selectbox(
        "Organisé par",
        keys,
        index=keys.index(chosen) if chosen in keys else None,
        format_func=orgs.__getitem__,
        placeholder="Choisir…",
        key=f"{prefix}-organiser",
    )
    slots["organiser"] = st.empty()
    values["municipality"] = st.text_input(
        "Commune",
        value=(initial.municipality or "") if initial else "",
        max_chars=100,
        key=f"{prefix}-municipality",
    )
    slots["municipality"] = st.empty()
    values["people_reached"] = st.number_input(
        REACHED_LABEL[category],
        min_value=0,
        step=1,
        value=initial.people_reached if initial else None,
        key=f"{prefix}-people_reached",
    )
    slots["people_reached"] = st.empty()
    if category is OutreachCategory.CANDIDATES:
        values["became_candidates"] = st.number_input(
            "Devenues candidates",
            min_value=0,
            step=1,
            value=initial.became_candidates if initial else 0,
            help="Parmi les personnes touchées, combien se sont inscrites comme candidates.",
            key=f"{prefix}-became_candidates",
        )
        slots["became_candidates"] = st.empty()
    values["hours"] = st.number_input(
        "Durée (heures)",
        min_value=0.0,
        step=0.5,
        value=initial.hours if initial else None,
        key=f"{prefix}-hours",
    )
    slots["hours"] = st.empty()
    values["outputs"] = st.text_area(
        OUTPUTS_LABEL.get(category, "Remarques et suites"),
        value=(initial.outputs or "") if initial else "",
        max_chars=5000,
        key=f"{prefix}-outputs",
    )
    slots["outputs"] = st.empty()
    return values, slots


def _category_changed() -> None:
    """Another type of action: its usual format (a workshop for a prospective one)."""
    st.session_state.pop(f"action-{token('action')}-kind", None)


def record_action_form(ctx: context.Context, today: dt.date) -> None:
    category = st.radio(
        "Type d'action",
        list(OutreachCategory),
        format_func=CATEGORY_LABELS.__getitem__,
        horizontal=True,
        key="outreach-category",
        on_change=_category_changed,
    )
    category = category or OutreachCategory.CANDIDATES
    st.caption(CATEGORY_HELP[category])
    summary = st.empty()
    form_token = token("action")
    with st.form(f"outreach-action-{form_token}"):
        values, slots = action_fields(ctx, category, f"action-{form_token}", today, None)
        submitted = st.form_submit_button("Enregistrer l'action", type="primary")
    if not submitted:
        return
    try:
        with ctx.runtime.session() as session:
            row = record_outreach(
                session=session,
                user=ctx.user,
                data={**values, "source_key": f"form:{form_token}"},
                now=clock.utcnow(),
            )
    except InvalidInput as refused:
        show_errors(refused.field_errors, slots, summary)
        return
    except AlreadyRecorded as error:
        # This very form was saved by a first click, whose run the second click cut short
        # before it could say so: say what was saved, and that nothing was added.
        renew("action")
        context.flash("success", action_saved(values, category))
        context.flash("info", already_saved(error, "Cette action"))
        st.rerun()
    renew("action")
    context.flash(
        "success",
        action_saved(
            {"title": row.title, "held_on": row.held_on, "people_reached": row.people_reached},
            category,
        ),
    )
    st.rerun()


def action_saved(values: Mapping[str, Any], category: OutreachCategory) -> str:
    held_on = values.get("held_on")
    day = f" ({held_on:%d/%m/%Y})" if isinstance(held_on, dt.date) else ""
    return (
        f"Action enregistrée : {values.get('title')}{day}, "
        f"{values.get('people_reached')} {REACHED_LABEL[category].lower()}."
    )


# --- a structure sensitised -----------------------------------------------------------------------


def structure_fields(
    ctx: context.Context, prefix: str, today: dt.date, initial: StructureView | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    orgs, own = organisation_choices(ctx)
    values: dict[str, Any] = {}
    slots: dict[str, Any] = {}
    values["name"] = st.text_input(
        "Nom de la structure",
        value=initial.name if initial else "",
        max_chars=200,
        help="Une structure sensibilisée plusieurs fois compte une seule fois (d'après son nom).",
        key=f"{prefix}-name",
    )
    slots["name"] = st.empty()
    kinds = list(StructureKind)
    values["kind"] = st.radio(
        "Type de structure",
        kinds,
        index=kinds.index(initial.kind) if initial else None,
        format_func=STRUCTURE_KIND_LABELS.__getitem__,
        horizontal=True,
        key=f"{prefix}-kind",
    )
    slots["kind"] = st.empty()
    values["sensitised_on"] = st.date_input(
        "Date",
        value=initial.sensitised_on if initial else None,
        min_value=EARLIEST,
        max_value=today,
        format=DATE_FORMAT,
        key=f"{prefix}-sensitised_on",
    )
    slots["sensitised_on"] = st.empty()
    keys = list(orgs)
    chosen = initial.organisation_key if initial else own
    values["by_organisation"] = st.selectbox(
        "Sensibilisée par",
        keys,
        index=keys.index(chosen) if chosen in keys else None,
        format_func=orgs.__getitem__,
        placeholder="Choisir…",
        key=f"{prefix}-by_organisation",
    )
    slots["by_organisation"] = st.empty()
    values["municipality"] = st.text_input(
        "Commune",
        value=(initial.municipality or "") if initial else "",
        max_chars=100,
        key=f"{prefix}-municipality",
    )
    slots["municipality"] = st.empty()
    return values, slots


def record_structure_form(ctx: context.Context, today: dt.date) -> None:
    st.caption(
        "Une structure de première ligne (CPAS, Forem, maison de l'emploi…) ou professionnelle "
        "(guichet d'entreprises, fédération…) à qui le programme a été présenté."
    )
    summary = st.empty()
    form_token = token("structure")
    with st.form(f"outreach-structure-{form_token}"):
        values, slots = structure_fields(ctx, f"structure-{form_token}", today, None)
        submitted = st.form_submit_button("Enregistrer la structure", type="primary")
    if not submitted:
        return
    try:
        with ctx.runtime.session() as session:
            row = record_structure(
                session=session,
                user=ctx.user,
                data={**values, "source_key": f"form:{form_token}"},
                now=clock.utcnow(),
            )
    except InvalidInput as refused:
        show_errors(refused.field_errors, slots, summary)
        return
    except AlreadyRecorded as error:  # this form, saved by a first click: see the actions'
        renew("structure")
        context.flash("success", f"Structure enregistrée : {values.get('name')}.")
        context.flash("info", already_saved(error, "Cette structure"))
        st.rerun()
    renew("structure")
    context.flash(
        "success", f"Structure enregistrée : {row.structure_name} ({row.sensitised_on:%d/%m/%Y})."
    )
    st.rerun()


# --- what is recorded ---------------------------------------------------------------------------


def period(ctx: context.Context, today: dt.date) -> tuple[dt.date, dt.date] | None:
    spec = ctx.runtime.rules.indicators
    start = spec.programme.starts_on if spec else dt.date(today.year, 1, 1)
    end = spec.programme.ends_on if spec else dt.date(today.year, 12, 31)
    first, last = st.columns(2)
    chosen_start = first.date_input(
        "Du", value=start, min_value=EARLIEST, format=DATE_FORMAT, key="outreach-from"
    )
    chosen_end = last.date_input(
        "Au", value=end, min_value=EARLIEST, format=DATE_FORMAT, key="outreach-to"
    )
    if chosen_start is None or chosen_end is None or chosen_end < chosen_start:
        st.error("Choisissez une période dont la fin suit le début.")
        return None
    return chosen_start, chosen_end


def totals(ctx: context.Context, start: dt.date, end: dt.date) -> None:
    with ctx.runtime.session() as session:
        summary = outreach_summary(session=session, user=ctx.user, start=start, end=end)
    row1 = st.columns(3)
    row1[0].metric("Candidats potentiels sensibilisés", summary.candidates_reached)
    row1[1].metric("Devenus candidats", summary.became_candidates)
    row1[2].metric("Personnes sensibilisées à la formation", summary.training_reached)
    row2 = st.columns(3)
    row2[0].metric("Structures de 1ère ligne", summary.first_line_structures)
    row2[1].metric("Structures professionnelles", summary.professional_structures)
    row2[2].metric("Ateliers de prospective", summary.workshops_held)


def page_number(total: int, key: str) -> int:
    pages = max(1, -(-total // PAGE_SIZE))
    if pages == 1:
        return 0
    number = st.number_input(f"Page (sur {pages})", min_value=1, max_value=pages, key=key)
    return (int(number) - 1) * PAGE_SIZE


def recorded_by(name: str | None, at: dt.datetime) -> str:
    return f"{name or '—'}, {local_datetime(at)}"


def actions_table(ctx: context.Context, start: dt.date, end: dt.date, today: dt.date) -> None:
    with ctx.runtime.session() as session:
        total = list_outreach(session=session, user=ctx.user, start=start, end=end, limit=1).total
    if total == 0:
        st.info("Aucune action enregistrée sur cette période.")
        return
    offset = page_number(total, "outreach-actions-page")
    with ctx.runtime.session() as session:
        page = list_outreach(
            session=session, user=ctx.user, start=start, end=end, offset=offset, limit=PAGE_SIZE
        )
    st.caption(f"{total} action(s) sur la période.")
    st.dataframe(
        [
            {
                "Date": view.held_on.strftime("%d/%m/%Y"),
                "Type": view.category_label,
                "Format": view.kind_label,
                "Intitulé ou thème": view.title,
                "Organisé par": view.organiser_name,
                "Commune": view.municipality or "",
                "Touchées": view.people_reached,
                "Candidats": view.became_candidates
                if view.category is OutreachCategory.CANDIDATES
                else None,
                "Heures": view.hours,
                "Productions": view.outputs or "",
                "Enregistré ou corrigé par": recorded_by(view.recorded_by, view.recorded_at),
            }
            for view in page.rows
        ],
        hide_index=True,
    )
    change_action(ctx, [view for view in page.rows if _may_change(ctx, view)], today)


def _may_change(ctx: context.Context, view: OutreachView | StructureView) -> bool:
    return ctx.user.role is Role.COORDINATOR or view.recorded_by_id == ctx.user.id


def change_action(ctx: context.Context, views: list[OutreachView], today: dt.date) -> None:
    if not views:
        return
    with st.expander("Corriger ou supprimer une action"):
        by_id = {view.id: view for view in views}
        chosen = st.selectbox(
            "Action",
            list(by_id),
            index=None,
            placeholder="Choisir…",
            format_func=lambda i: f"{by_id[i].held_on:%d/%m/%Y} · {by_id[i].title}",
            key="outreach-change-action",
        )
        if chosen is None:
            return
        view = by_id[chosen]
        summary = st.empty()
        prefix = f"change-action-{view.id}"
        with st.form(prefix):
            values, slots = action_fields(ctx, view.category, prefix, today, view)
            save, remove = st.columns(2)
            corrected = save.form_submit_button("Enregistrer la correction", type="primary")
            deleted = remove.form_submit_button("Supprimer l'action")
        if not (corrected or deleted):
            return

        def change(session: Session) -> None:
            if deleted:
                delete_outreach(session=session, user=ctx.user, action_id=view.id)
            else:
                correct_outreach(
                    session=session,
                    user=ctx.user,
                    action_id=view.id,
                    data=values,
                    now=clock.utcnow(),
                )

        apply_change(
            ctx,
            change,
            slots=slots,
            summary=summary,
            chooser="outreach-change-action",
            done="Action supprimée." if deleted else "Action corrigée.",
            gone="Cette action n'existe plus ou ne peut plus être modifiée par vous.",
        )


def apply_change(
    ctx: context.Context,
    change: Callable[[Session], None],
    *,
    slots: Any,
    summary: Any,
    chooser: str,
    done: str,
    gone: str,
) -> None:
    """Correct or delete a record in one session; say what was refused under its field."""
    try:
        with ctx.runtime.session() as session:
            change(session)
    except InvalidInput as refused:
        show_errors(refused.field_errors, slots, summary)
        return
    except (Forbidden, NotFound):
        st.error(gone)
        return
    st.session_state.pop(chooser, None)
    context.flash("success", done)
    st.rerun()


def structures_table(ctx: context.Context, start: dt.date, end: dt.date, today: dt.date) -> None:
    with ctx.runtime.session() as session:
        total = list_structures(session=session, user=ctx.user, start=start, end=end, limit=1).total
    if total == 0:
        st.info("Aucune structure sensibilisée sur cette période.")
        return
    offset = page_number(total, "outreach-structures-page")
    with ctx.runtime.session() as session:
        page = list_structures(
            session=session, user=ctx.user, start=start, end=end, offset=offset, limit=PAGE_SIZE
        )
    st.caption(
        f"{total} sensibilisation(s) sur la période ; une structure sensibilisée plusieurs fois "
        "ne compte qu'une fois."
    )
    st.dataframe(
        [
            {
                "Date": view.sensitised_on.strftime("%d/%m/%Y"),
                "Structure": view.name,
                "Type": view.kind_label,
                "Commune": view.municipality or "",
                "Sensibilisée par": view.organisation_name,
                "Fois en tout": view.times_sensitised,
                "Enregistré ou corrigé par": recorded_by(view.recorded_by, view.recorded_at),
            }
            for view in page.rows
        ],
        hide_index=True,
    )
    change_structure(ctx, [view for view in page.rows if _may_change(ctx, view)], today)


def change_structure(ctx: context.Context, views: list[StructureView], today: dt.date) -> None:
    if not views:
        return
    with st.expander("Corriger ou supprimer une structure"):
        by_id = {view.id: view for view in views}
        chosen = st.selectbox(
            "Structure",
            list(by_id),
            index=None,
            placeholder="Choisir…",
            format_func=lambda i: f"{by_id[i].sensitised_on:%d/%m/%Y} · {by_id[i].name}",
            key="outreach-change-structure",
        )
        if chosen is None:
            return
        view = by_id[chosen]
        summary = st.empty()
        prefix = f"change-structure-{view.id}"
        with st.form(prefix):
            values, slots = structure_fields(ctx, prefix, today, view)
            save, remove = st.columns(2)
            corrected = save.form_submit_button("Enregistrer la correction", type="primary")
            deleted = remove.form_submit_button("Supprimer la structure")
        if not (corrected or deleted):
            return

        def change(session: Session) -> None:
            if deleted:
                delete_structure(session=session, user=ctx.user, structure_id=view.id)
            else:
                correct_structure(
                    session=session,
                    user=ctx.user,
                    structure_id=view.id,
                    data=values,
                    now=clock.utcnow(),
                )

        apply_change(
            ctx,
            change,
            slots=slots,
            summary=summary,
            chooser="outreach-change-structure",
            done="Structure supprimée." if deleted else "Structure corrigée.",
            gone="Cette structure n'existe plus ou ne peut plus être modifiée par vous.",
        )


def render() -> None:
    ctx = context.current()
    st.title("Sensibilisation")
    if not may_record(ctx.user):
        st.error("Cette page est réservée à l'accompagnement et à la coordination.")
        return
    today = clock.local_today(clock.utcnow())
    new_action, new_structure, recorded = st.tabs(
        ["Enregistrer une action", "Enregistrer une structure", "Ce qui est enregistré"]
    )
    with new_action:
        record_action_form(ctx, today)
    with new_structure:
        record_structure_form(ctx, today)
    with recorded:
        chosen = period(ctx, today)
        if chosen is None:
            return
        totals(ctx, *chosen)
        st.subheader("Actions")
        actions_table(ctx, *chosen, today)
        st.subheader("Structures sensibilisées")
        structures_table(ctx, *chosen, today)


render()
