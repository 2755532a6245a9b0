"""Étape (`?step=ID`): a step's form, generated from its outcome model, and its events.

A submit commits the decision and the transition it causes in one transaction: when it returns,
the next step is open, whatever Prefect does (waking the flow run happens in the background, see
`dashboards.background`). The page then says so and offers the next step when it is the user's.
The participant's advisor and the coordinator may also skip the step (with a reason) or give it
to another advisor.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import streamlit as st

from crealux_core import clock
from crealux_core.models import CURRENT_STEP_STATUSES, EventKind, Role, StepStatus
from crealux_core.rules.forms import NOTE_MAX_CHARS
from crealux_core.services.errors import (
    AlreadyDone,
    CannotContinue,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
)
from crealux_core.services.plans import correct_decision
from crealux_core.services.steps import (
    StepForm,
    StepView,
    reassign_step,
    skip_step,
    step_form,
    submit_decision,
)
from crealux_core.services.users import list_advisors
from dashboards import background, context
from dashboards.decisions import NOTE_LABEL, show_events
from dashboards.display import (
    STEP_STATUS_LABELS,
    local_date,
    local_day_and_time,
    md,
)
from dashboards.failures import CANNOT_CONTINUE, show_cannot_continue
from dashboards.forms import REQUIRED_HINT, FieldKind, answers, describe, french, render_field

NOTE_HELP = (
    "Pour l'équipe qui accompagne la personne. Elle n'est jamais transmise à l'orchestrateur "
    "des parcours ni dans les notifications."
)
NOTE_TOO_LONG = f"La note est trop longue : {NOTE_MAX_CHARS} caractères au maximum."
REASON_REQUIRED = "Indiquez pourquoi l'étape est passée."
CHOOSE_ADVISOR = "Choisissez à qui confier l'étape."
NOTHING_SAVED = "Rien n'a été enregistré : corrigez ce qui est signalé."


def load(ctx: context.Context, step_run_id: int) -> StepForm:
    with ctx.runtime.session() as session:
        return step_form(
            session=session, rules=ctx.runtime.rules, user=ctx.user, step_run_id=step_run_id
        )


def advisor_names(ctx: context.Context) -> dict[int, str]:
    with ctx.runtime.session() as session:
        return {user.id or 0: user.display_name for user in list_advisors(session=session)}


# --- what happened -------------------------------------------------------------------------------


def done_already(
    ctx: context.Context, step_run_id: int, error: AlreadyDone | None, note: bool
) -> str:
    """Say what closed the step, by whom and when; and that a note typed was kept."""
    try:
        form: StepForm | None = load(ctx, step_run_id)
    except ServiceError:
        form = None
    closing = next(
        (
            event
            for event in (form.events if form else [])
            if event.kind in (EventKind.DECISION, EventKind.SKIP, EventKind.DEADLINE)
        ),
        None,
    )
    if closing is not None:
        verb = {
            EventKind.DECISION: "décidée",
            EventKind.SKIP: "passée",
            EventKind.DEADLINE: "close par son échéance",
        }[closing.kind]
        by = f" par {md(closing.actor)}" if closing.actor else ""
        text = f"Cette étape a déjà été {verb}{by} {local_day_and_time(closing.occurred_at)}."
    elif form is not None:
        text = f"Cette étape n'est plus ouverte : elle est {STEP_STATUS_LABELS[form.view.status]}."
    elif error and error.decided_by and error.decided_at:  # the step could not be read again
        when = local_day_and_time(datetime.fromisoformat(error.decided_at))
        text = f"Cette étape a déjà été décidée par {md(error.decided_by)} {when}."
    else:
        text = "Cette étape n'est plus ouverte."
    if note:
        text += " Votre note a été gardée comme commentaire."
    return text


def show_receipt(ctx: context.Context, view: StepView) -> None:
    receipt = st.session_state.get(context.RECEIPT)
    if not isinstance(receipt, context.Receipt) or receipt.step_id != view.id:
        return
    if receipt.success:
        st.success(receipt.text, icon=":material/check_circle:")
    else:
        st.warning(receipt.text, icon=":material/info:")
    if receipt.moved_on:
        next_step(ctx, receipt.next_step_id)


def next_step(ctx: context.Context, step_run_id: int | None) -> None:
    """Name the step the pathway is on now; offer to open it when it is the user's."""
    if step_run_id is None:
        st.info("Le parcours est terminé.", icon=":material/flag:")
        return
    try:
        following = load(ctx, step_run_id)
    except Forbidden:
        st.info("Le parcours continue avec une étape suivie par une autre équipe.")
        return
    except ServiceError:
        return
    view = following.view
    if view.status is StepStatus.SCHEDULED:
        detail = f" · s'ouvrira le {local_date(view.opens_at)}"
    elif not following.may_complete:
        detail = f" · revient à {md(view.organisation)}"
    else:
        detail = f" · à faire pour le {local_date(view.due_at)}" if view.due_at else ""
    with st.container(border=True):
        text, action = st.columns([5, 1], vertical_alignment="center")
        text.markdown(f"**Étape suivante :** {md(view.title)}{detail}")
        if following.may_complete and action.button(
            "Ouvrir", key=f"open-next-step-{view.id}", type="primary"
        ):
            st.switch_page(context.STEP_PAGE, query_params={"step": str(view.id)})


def header(view: StepView, names: dict[int, str]) -> None:
    st.title(view.title)
    st.markdown(
        f"**{md(view.participant_name)}** ({view.participant_reference}) · {md(view.organisation)}"
    )
    facts = [STEP_STATUS_LABELS.get(view.status, view.status).capitalize()]
    if view.opened_at:
        facts.append(f"ouverte le {local_date(view.opened_at)}")
    elif view.opens_at:
        facts.append(f"s'ouvrira le {local_date(view.opens_at)}")
    if view.due_at and view.status in (StepStatus.OPEN, StepStatus.SCHEDULED):
        facts.append(f"à faire pour le {local_date(view.due_at)}")
    if view.completed_at:
        facts.append(f"close le {local_date(view.completed_at)}")
    if view.assignee_id is not None and view.status in CURRENT_STEP_STATUSES:
        facts.append(f"confiée à {md(names.get(view.assignee_id, 'une autre personne'))}")
    st.caption(" · ".join(facts))
    if st.button("Voir le parcours", key="to-timeline"):
        st.switch_page(
            context.TIMELINE_PAGE, query_params={"participant": str(view.participant_id)}
        )


# --- deciding ------------------------------------------------------------------------------------


def refusal(error: ServiceError, what: str) -> dict[str, str]:
    """Return the French of a refusal that is not about a field."""
    match error:
        case CannotContinue():
            return {"form": CANNOT_CONTINUE}
        case Forbidden():
            return {"form": f"Vous ne pouvez pas {what} cette étape."}
        case NotFound():
            return {"form": "Cette étape n'existe plus."}
        case Conflict():
            return {"form": "Cette étape a changé entre-temps : rien n'a été enregistré."}
    return {"form": "Rien n'a été enregistré."}


def field_errors(refused: InvalidInput) -> dict[str, str]:
    return {
        name: NOTE_TOO_LONG if name == "note" else french(message)
        for name, message in refused.field_errors.items()
    }


def submit(
    ctx: context.Context, form: StepForm, values: dict[str, Any], note: str
) -> dict[str, str]:
    """Decide the step; return the errors to show (nothing is written when there are any)."""
    try:
        with ctx.runtime.session() as session:
            submitted = submit_decision(
                session=session,
                rules=ctx.runtime.rules,
                step_run_id=form.view.id,
                actor=ctx.user,
                data=answers(values),
                note=note,
                now=clock.utcnow(),
                orchestrator=None,  # woken below, from a thread: the page does not wait
                dashboard_url=ctx.runtime.settings.dashboard_url,
            )
    except InvalidInput as refused:
        return field_errors(refused)
    except AlreadyDone as error:
        text = done_already(ctx, form.view.id, error, note=bool(note.strip()))
        st.session_state[context.RECEIPT] = context.Receipt(form.view.id, success=False, text=text)
        st.rerun()
    except ServiceError as error:
        return refusal(error, "compléter")
    background.wake_later(ctx.runtime, submitted.pathway_run_id, submitted.event_id)
    st.session_state[context.RECEIPT] = context.Receipt(
        form.view.id,
        success=True,
        text="Décision enregistrée.",
        moved_on=True,
        next_step_id=submitted.current_step_id,
    )
    st.rerun()


def show_errors(
    errors: dict[str, str], slots: dict[str, Any], summary: Any, *, fields: bool
) -> None:
    """Put each error under its field, the others (and a summary) above the form."""
    for name, message in errors.items():
        if name in slots:
            slots[name].error(message, icon=":material/error:")
    general = [message for name, message in errors.items() if name not in slots]
    if fields and len(general) < len(errors):
        general = [NOTHING_SAVED, *general]
    if general:
        summary.error(" ".join(general))


def pressed(key: str) -> bool:
    """True in the run a submit button with this key was pressed in (read before drawing it).

    A form is drawn again in that run even if the step closed meanwhile (another tab, a
    colleague): otherwise Streamlit would drop the submit, note included, without a word; the
    service then says what happened and keeps the note.
    """
    return bool(st.session_state.get(key))


def advised_here(ctx: context.Context, form: StepForm) -> bool:
    spec = ctx.runtime.rules.orientation
    return spec is not None and spec.decided_step == form.step.key


def advice_panel(ctx: context.Context, form: StepForm) -> None:
    """Show what the orientation rules advise beside the decision; the advisor chooses."""
    if form.advice is not None:
        st.info(
            f"**Conseil d'orientation : {md(form.advice.route_label)}.** "
            f"{md(form.advice.reason)}  \n"
            "C'est un conseil : vous décidez avec le participant ; conseil et décision sont "
            "enregistrés tous les deux.",
            icon=":material/lightbulb:",
        )
    elif form.may_complete and advised_here(ctx, form):
        st.caption("Aucun conseil d'orientation ne ressort du bilan : à vous de juger.")
    given = form.advice_given
    if given is not None:
        spec = ctx.runtime.rules.orientation
        routes = spec.routes if spec else {}
        advised = routes.get(given.advised_route or "", given.advised_route or "aucun")
        decided = routes.get(given.decided_route, given.decided_route)
        same = given.advised_route == given.decided_route
        st.caption(
            f"Conseil donné : **{md(advised)}** · décision : **{md(decided)}**"
            + ("" if same or given.advised_route is None else " (différente du conseil)")
        )


def decision_form(ctx: context.Context, form: StepForm) -> None:
    prefix = f"step-{form.view.id}"
    advice_panel(ctx, form)
    summary = st.empty()
    values: dict[str, Any] = {}
    slots = {}
    with st.form(f"{prefix}-form"):
        st.caption(" ".join(filter(None, [form.step.description, REQUIRED_HINT])))
        for question in describe(form.model, form.step):
            values[question.name] = render_field(question, key=f"{prefix}-{question.name}")
            slots[question.name] = st.empty()
        note = st.text_area(
            NOTE_LABEL, key=f"{prefix}-note", help=NOTE_HELP, max_chars=NOTE_MAX_CHARS
        )
        slots["note"] = st.empty()
        submitted = st.form_submit_button(
            "Enregistrer la décision", type="primary", key=f"{prefix}-submit"
        )
    if submitted:
        show_errors(submit(ctx, form, values, note or ""), slots, summary, fields=True)


def not_yours(form: StepForm) -> None:
    view = form.view
    if view.status is StepStatus.SCHEDULED:
        st.info(
            f"Cette étape s'ouvrira le {local_date(view.opens_at)} ; "
            "son formulaire sera disponible à ce moment-là.",
            icon=":material/event:",
        )
    elif view.status is StepStatus.OPEN and form.step.assign == "referral" and form.may_steer:
        st.info(
            "Cette étape oriente le participant vers le service d'un partenaire : choisissez-le "
            "sur la page « Orientations ». Le partenaire accepte ou refuse ; une fois accepté, "
            "il remplit cette étape.",
            icon=":material/send:",
        )
        st.page_link("views/referrals.py", label="Orientations", icon=":material/send:")
    elif view.status is StepStatus.OPEN:
        st.info("Cette étape revient à une autre personne ou organisation : lecture seule.")
        st.markdown("\n".join(f"- {md(spec.label)}" for spec in form.step.form.values()))


# --- steering: skip, reassign --------------------------------------------------------------------


def skip(ctx: context.Context, form: StepForm, reason: str) -> dict[str, str]:
    if not reason.strip():
        return {"reason": REASON_REQUIRED}
    try:
        with ctx.runtime.session() as session:
            submitted = skip_step(
                session=session,
                rules=ctx.runtime.rules,
                step_run_id=form.view.id,
                actor=ctx.user,
                reason=reason,
                now=clock.utcnow(),
                orchestrator=None,  # woken below, from a thread: the page does not wait
                dashboard_url=ctx.runtime.settings.dashboard_url,
            )
    except InvalidInput as refused:
        if "note" in refused.field_errors:
            return {"reason": NOTE_TOO_LONG.replace("La note", "La raison")}
        return {"reason": REASON_REQUIRED}
    except AlreadyDone as error:
        text = done_already(ctx, form.view.id, error, note=False)
        text += " Votre raison a été gardée comme commentaire."
        st.session_state[context.RECEIPT] = context.Receipt(form.view.id, success=False, text=text)
        st.rerun()
    except ServiceError as error:
        return refusal(error, "passer")
    background.wake_later(ctx.runtime, submitted.pathway_run_id, submitted.event_id)
    st.session_state[context.RECEIPT] = context.Receipt(
        form.view.id,
        success=True,
        text="Étape passée.",
        moved_on=True,
        next_step_id=submitted.current_step_id,
    )
    st.rerun()


def skip_form(ctx: context.Context, form: StepForm) -> None:
    prefix = f"step-{form.view.id}-skip"
    with st.expander("Passer l'étape", icon=":material/skip_next:"):
        summary = st.empty()
        with st.form(f"{prefix}-form"):
            st.caption(
                "Le parcours continue par la suite prévue par défaut. La raison reste dans la "
                "base de données, jointe à l'étape."
            )
            reason = st.text_area(
                "Raison (obligatoire)", key=f"{prefix}-reason", max_chars=NOTE_MAX_CHARS
            )
            slots = {"reason": st.empty()}
            submitted = st.form_submit_button("Passer l'étape", key=f"{prefix}-submit")
        if submitted:
            show_errors(skip(ctx, form, reason or ""), slots, summary, fields=False)


def reassign(
    ctx: context.Context, form: StepForm, assignee_id: int | None, note: str
) -> dict[str, str]:
    if assignee_id is None:
        return {"assignee": CHOOSE_ADVISOR}
    try:
        with ctx.runtime.session() as session:
            assignee = next(
                (user for user in list_advisors(session=session) if user.id == assignee_id), None
            )
            if assignee is None:
                return {"assignee": "Cette personne n'accompagne plus de participants."}
            reassign_step(
                session=session,
                rules=ctx.runtime.rules,
                step_run_id=form.view.id,
                actor=ctx.user,
                assignee=assignee,
                note=note,
                now=clock.utcnow(),
            )
            name = assignee.display_name
    except InvalidInput as refused:
        if "note" in refused.field_errors:
            return {"note": NOTE_TOO_LONG}
        return {"assignee": CHOOSE_ADVISOR}
    except (Forbidden, Conflict) as error:
        if not isinstance(error, CannotContinue):
            closed = load(ctx, form.view.id).view.status not in CURRENT_STEP_STATUSES
            if closed:  # decided or skipped meanwhile: say so, as for a decision
                text = done_already(ctx, form.view.id, None, note=False)
                text += " Elle n'a pas été réassignée."
                st.session_state[context.RECEIPT] = context.Receipt(
                    form.view.id, success=False, text=text
                )
                st.rerun()
        return refusal(error, "réassigner")
    except ServiceError as error:
        return refusal(error, "réassigner")
    st.session_state[context.RECEIPT] = context.Receipt(
        form.view.id, success=True, text=f"Étape confiée à {md(name)}."
    )
    st.rerun()


def reassign_form(ctx: context.Context, form: StepForm, names: dict[int, str]) -> None:
    prefix = f"step-{form.view.id}-reassign"
    others = [user_id for user_id in names if user_id != form.view.assignee_id]
    with st.expander("Réassigner", icon=":material/swap_horiz:"):
        if not others:
            st.info("Aucun·e autre accompagnateur·rice à qui confier cette étape.")
            return
        summary = st.empty()
        with st.form(f"{prefix}-form"):
            assignee = st.selectbox(
                "Confier à",
                options=others,
                format_func=names.__getitem__,
                index=None,
                placeholder="Choisir…",
                key=f"{prefix}-assignee",
            )
            slots = {"assignee": st.empty()}
            note = st.text_area("Note (facultatif)", key=f"{prefix}-note", max_chars=NOTE_MAX_CHARS)
            slots["note"] = st.empty()
            submitted = st.form_submit_button("Réassigner", key=f"{prefix}-submit")
        if submitted:
            show_errors(reassign(ctx, form, assignee, note or ""), slots, summary, fields=False)


def correct(
    ctx: context.Context, form: StepForm, values: dict[str, Any], reason: str
) -> dict[str, str]:
    if not reason.strip():
        return {"reason": "Indiquez pourquoi la décision est corrigée."}
    try:
        with ctx.runtime.session() as session:
            correct_decision(
                session=session,
                rules=ctx.runtime.rules,
                user=ctx.user,
                step_run_id=form.view.id,
                data=answers(values),
                note=reason,
                now=clock.utcnow(),
            )
    except InvalidInput as refused:
        errors = field_errors(refused)
        if "nothing to correct" in refused.field_errors.get("form", ""):
            errors["form"] = (
                "Rien n'a été corrigé : les réponses sont celles déjà enregistrées. "
                "Modifiez la réponse à corriger."
            )
        if "form" in refused.field_errors and "route" in refused.field_errors["form"]:
            errors["form"] = (
                "Cette correction changerait la suite du parcours : rien n'a été enregistré. "
                "Pour changer d'orientation, passez l'étape en cours ou revenez à l'orientation."
            )
        if "note" in errors:
            errors["reason"] = errors.pop("note")
        return errors
    except ServiceError as error:
        return refusal(error, "corriger")
    st.session_state[context.RECEIPT] = context.Receipt(
        form.view.id,
        success=True,
        text="Correction enregistrée ; la décision d'origine reste visible.",
    )
    st.rerun()


def _seed(key: str, value: Any, question: Any) -> None:
    """Start a correction from the answers as they are (once: then the user's edits stay)."""
    if key in st.session_state or value is None:
        return
    if question.kind is FieldKind.DATE and isinstance(value, str):
        value = date.fromisoformat(value)
    st.session_state[key] = value


def correction_form(ctx: context.Context, form: StepForm) -> None:
    prefix = f"step-{form.view.id}-correct"
    with st.expander("Corriger la décision", icon=":material/edit_note:"):
        summary = st.empty()
        values: dict[str, Any] = {}
        slots = {}
        with st.form(f"{prefix}-form"):
            st.caption(
                "La correction est enregistrée à côté de la décision d'origine, qui reste "
                "visible. Elle ne change pas la suite du parcours."
            )
            for question in describe(form.model, form.step):
                key = f"{prefix}-{question.name}"
                _seed(key, (form.answers or {}).get(question.name), question)
                values[question.name] = render_field(question, key=key)
                slots[question.name] = st.empty()
            reason = st.text_area(
                "Raison de la correction (obligatoire)",
                key=f"{prefix}-reason",
                max_chars=NOTE_MAX_CHARS,
            )
            slots["reason"] = st.empty()
            submitted = st.form_submit_button("Enregistrer la correction", key=f"{prefix}-submit")
        if submitted:
            show_errors(correct(ctx, form, values, reason or ""), slots, summary, fields=True)


def may_reassign(form: StepForm) -> bool:
    """Only a step an advisor completes is given to another advisor (a partner's step belongs
    to its organisation)."""
    return form.may_steer and form.step.role is Role.ADVISOR


# --- the page ------------------------------------------------------------------------------------


def render() -> None:
    ctx = context.current()
    step_run_id = context.query_id("step")
    if step_run_id is None:
        st.info("Choisissez une étape dans votre liste.")
        st.page_link(context.WORKLIST_PAGE, label="Mes étapes", icon=":material/list:")
        return
    try:
        form = load(ctx, step_run_id)
    except NotFound:
        st.error("Cette étape n'existe pas.")
        return
    except Forbidden:
        st.error("Cette étape ne fait pas partie de vos dossiers.")
        return
    except CannotContinue as error:
        show_cannot_continue(error, ctx.user)
        return
    names = advisor_names(ctx)
    header(form.view, names)
    show_receipt(ctx, form.view)
    prefix = f"step-{form.view.id}"
    if form.may_complete or pressed(f"{prefix}-submit"):
        decision_form(ctx, form)
    else:
        not_yours(form)
        if form.advice_given is not None:
            advice_panel(ctx, form)
    if form.events:
        st.subheader("Historique de l'étape")
        show_events(form.events, step=form.step, names=names)
    if form.may_steer or pressed(f"{prefix}-skip-submit"):
        skip_form(ctx, form)
    if (form.may_steer and may_reassign(form)) or pressed(f"{prefix}-reassign-submit"):
        reassign_form(ctx, form, names)
    if form.may_correct or pressed(f"{prefix}-correct-submit"):
        correction_form(ctx, form)


render()
