"""Étape (`?step=ID`): a step's form, generated from its outcome model, or its decision."""

from __future__ import annotations

from typing import Any

import streamlit as st

from crealux_core import clock
from crealux_core.models import StepStatus
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from crealux_core.services.steps import StepForm, StepView, complete_step, step_form
from dashboards import context
from dashboards.decisions import NOTE_LABEL, show_decision
from dashboards.display import STEP_STATUS_LABELS, local_date, local_datetime, md
from dashboards.forms import REQUIRED_HINT, answers, describe, french, render_field

NOTE_HELP = (
    "Pour l'équipe qui accompagne la personne. Elle n'est jamais transmise à l'orchestrateur "
    "des parcours ni dans les notifications."
)


def header(view: StepView) -> None:
    st.title(view.title)
    st.markdown(
        f"**{md(view.participant_name)}** ({view.participant_reference}) · {md(view.organisation)}"
    )
    st.caption(
        f"Ouverte le {local_date(view.opened_at)} · à faire pour le {local_date(view.due_at)}"
        f" · {STEP_STATUS_LABELS.get(view.status, view.status)}"
    )
    if st.button("Voir le parcours", key="to-timeline"):
        st.switch_page(
            context.TIMELINE_PAGE, query_params={"participant": str(view.participant_id)}
        )


def submit(
    ctx: context.Context, form: StepForm, values: dict[str, Any], note: str
) -> dict[str, str]:
    """Complete the step; return the errors to show (nothing is written when there are any)."""
    try:
        with ctx.runtime.session() as session:
            _, delivered = complete_step(
                session=session,
                rules=ctx.runtime.rules,
                step_run_id=form.view.id,
                actor=ctx.user,
                data=answers(values),
                note=note,
                now=clock.utcnow(),
                orchestrator=ctx.runtime.orchestrator,
            )
    except InvalidInput as refused:
        return {name: french(message) for name, message in refused.field_errors.items()}
    except Conflict:
        return {"form": "Cette étape a déjà été complétée entre-temps : rien n'a été enregistré."}
    except (Forbidden, NotFound):
        return {"form": "Vous ne pouvez pas compléter cette étape."}
    context.flash("success", "Décision enregistrée.")
    if not delivered:
        context.flash(
            "info",
            "La décision est enregistrée ; elle sera transmise automatiquement au parcours "
            "dès que l'orchestrateur sera disponible.",
        )
    st.rerun()


def decision_form(ctx: context.Context, form: StepForm) -> None:
    prefix = f"step-{form.view.id}"
    summary = st.empty()
    values: dict[str, Any] = {}
    slots = {}
    with st.form(f"{prefix}-form"):
        st.caption(" ".join(filter(None, [form.step.description, REQUIRED_HINT])))
        for question in describe(form.model):
            values[question.name] = render_field(question, key=f"{prefix}-{question.name}")
            slots[question.name] = st.empty()
        note = st.text_area(NOTE_LABEL, key=f"{prefix}-note", help=NOTE_HELP)
        submitted = st.form_submit_button("Enregistrer la décision", type="primary")
    if not submitted:
        return
    errors = submit(ctx, form, values, note)
    for name, message in errors.items():
        if name in slots:
            slots[name].error(message, icon=":material/error:")
    general = [message for name, message in errors.items() if name not in slots]
    summary.error(
        " ".join(["Rien n'a été enregistré : corrigez ce qui est signalé.", *general])
        if len(general) < len(errors)
        else " ".join(general)
    )


def read_only(ctx: context.Context, form: StepForm) -> None:
    decision = form.decision
    if decision is not None:
        show_decision(
            step=form.step,
            outcome=decision.outcome,
            note=decision.note,
            decided_by=form.decided_by,
            decided_at=decision.decided_at,
            delivered=decision.delivered_at is not None,
        )
    elif form.view.status is StepStatus.COMPLETED:
        st.info(f"Étape complétée le {local_datetime(form.view.completed_at)}, sans décision.")
    else:
        st.info("Cette étape revient à une autre personne ou organisation : lecture seule.")
        st.markdown("\n".join(f"- {md(spec.label)}" for spec in form.step.form.values()))


def render() -> None:
    ctx = context.current()
    step_run_id = context.query_id("step")
    if step_run_id is None:
        st.info("Choisissez une étape dans votre liste.")
        st.page_link(context.WORKLIST_PAGE, label="Mes étapes", icon=":material/list:")
        return
    try:
        with ctx.runtime.session() as session:
            form = step_form(
                session=session, rules=ctx.runtime.rules, user=ctx.user, step_run_id=step_run_id
            )
    except NotFound:
        st.error("Cette étape n'existe pas.")
        return
    except Forbidden:
        st.error("Cette étape ne fait pas partie de vos dossiers.")
        return
    header(form.view)
    if form.may_complete and form.decision is None:
        decision_form(ctx, form)
    else:
        read_only(ctx, form)


render()
