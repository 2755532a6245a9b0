"""Orientations: referrals to partners' offers.

- An advisor (or the coordinator) sends a participant whose step asks for it to a partner's
  offer, saying why (« À orienter »), and follows the answers.
- A partner's staff see the referrals sent to their organisation, while they are open, with
  what a referral shares (reference, first name, the reason, the service), and accept them
  with a start date or decline them with a reason.

Every action goes through crealux_core.services.referrals, which checks who may (a hidden
page still opens by its address); the pathway's flow run is woken from a thread.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crealux_core import clock
from crealux_core.models import ReferralStatus, Role
from crealux_core.services import referrals
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from crealux_core.services.steps import Submitted
from dashboards import background, context
from dashboards.display import local_date, local_datetime, md

STATUS_LABELS = {
    ReferralStatus.SENT: "En attente de réponse",
    ReferralStatus.ACCEPTED: "Acceptée",
    ReferralStatus.DECLINED: "Refusée",
    ReferralStatus.CLOSED: "Terminée",
    ReferralStatus.WITHDRAWN: "Retirée",
}
FIELD_LABELS = {"offer": "Service", "reason": "Motif", "starts_on": "Date de début"}


def _refused(error: InvalidInput) -> str:
    return " ; ".join(
        f"{FIELD_LABELS.get(field, field)} : {message}"
        for field, message in error.field_errors.items()
    )


def _done(ctx: context.Context, submitted: Submitted, text: str) -> None:
    background.wake_later(ctx.runtime, submitted.pathway_run_id, submitted.event_id)
    context.flash("success", text)
    st.rerun()


def to_refer_section(ctx: context.Context) -> None:
    with ctx.runtime.session() as session:
        waiting = referrals.steps_to_refer(session=session, rules=ctx.runtime.rules, user=ctx.user)
    st.subheader("À orienter")
    if not waiting:
        st.caption("Aucune étape n'attend d'orientation vers un partenaire.")
        return
    for item in waiting:
        with st.container(border=True):
            st.markdown(
                f"**{md(item.reference)} · {md(item.first_name)}** — {md(item.step_title)}"
                + (f" (échéance {local_date(item.due_at)})" if item.due_at else "")
            )
            for reason in item.declined:
                st.warning(f"Orientation précédente refusée : {md(reason)}")
            labels = {choice.key: choice.label for choice in item.choices}
            with st.form(f"refer-{item.step_run_id}", clear_on_submit=False):
                offer = st.selectbox(
                    "Service du partenaire",
                    options=list(labels),
                    format_func=labels.__getitem__,
                    index=None,
                    placeholder="Choisissez un service",
                )
                reason = st.text_area(
                    "Motif de l'orientation (partagé avec le partenaire)",
                    help="Ce que le partenaire doit savoir ; pas de détail de santé ni de dettes.",
                    max_chars=2000,
                )
                if st.form_submit_button("Envoyer l'orientation", type="primary"):
                    send(ctx, item.step_run_id, offer or "", reason)


def send(ctx: context.Context, step_run_id: int, offer: str, reason: str) -> None:
    try:
        with ctx.runtime.session() as session:
            submitted = referrals.refer(
                session=session,
                rules=ctx.runtime.rules,
                step_run_id=step_run_id,
                actor=ctx.user,
                offer=offer,
                reason=reason,
                now=clock.utcnow(),
                orchestrator=None,  # woken from a thread: the page does not wait
                dashboard_url=ctx.runtime.settings.dashboard_url,
            )
    except InvalidInput as error:
        st.error(f"Rien n'a été envoyé : {_refused(error)}.")
        return
    except (Conflict, NotFound) as error:
        st.warning(f"Rien n'a été envoyé : {error}.")
        return
    except Forbidden:
        st.error("Vous ne pouvez pas orienter ce participant.")
        return
    _done(ctx, submitted, "Orientation envoyée : le partenaire est prévenu.")


def answer(
    ctx: context.Context,
    referral_id: int,
    *,
    accepted: bool,
    starts_on: dt.date | None = None,
    text: str = "",
) -> None:
    try:
        with ctx.runtime.session() as session:
            common = dict(
                session=session,
                rules=ctx.runtime.rules,
                referral_id=referral_id,
                actor=ctx.user,
                now=clock.utcnow(),
                orchestrator=None,
                dashboard_url=ctx.runtime.settings.dashboard_url,
            )
            submitted = (
                referrals.accept(**common, starts_on=starts_on, note=text)  # type: ignore[arg-type]
                if accepted
                else referrals.decline(**common, reason=text)  # type: ignore[arg-type]
            )
    except InvalidInput as error:
        st.error(f"Rien n'a été enregistré : {_refused(error)}.")
        return
    except Conflict as error:
        context.flash("warning", f"Rien n'a été enregistré : {error}.")
        st.rerun()
    except (Forbidden, NotFound):
        st.error("Cette orientation ne vous est pas adressée.")
        return
    _done(
        ctx,
        submitted,
        "Orientation acceptée : le participant est à vous à partir de la date de début."
        if accepted
        else "Orientation refusée : l'accompagnateur est prévenu du motif.",
    )


def referral_card(ctx: context.Context, view: referrals.ReferralView, now: dt.datetime) -> None:
    with st.container(border=True):
        head, state = st.columns([4, 2])
        head.markdown(
            f"**{md(view.reference)} · {md(view.first_name)}**  \n"
            f"{md(view.offer_title)} — {md(view.organisation_name)}"
        )
        label = STATUS_LABELS.get(view.status, view.status.value)
        if view.overdue:
            state.error(f"{label} (réponse attendue le {local_date(view.answer_due_at)})")
        else:
            state.markdown(f"**{label}**")
            if view.status is ReferralStatus.SENT:
                state.caption(f"Réponse attendue le {local_date(view.answer_due_at)}")
        st.markdown(f"Motif : {md(view.reason)}")
        st.caption(f"Orienté le {local_datetime(view.referred_at)}")
        if view.status is ReferralStatus.ACCEPTED and view.starts_on:
            st.caption(f"Début le {view.starts_on.strftime('%d/%m/%Y')}")
        if view.status is ReferralStatus.DECLINED and view.decline_reason:
            st.caption(f"Motif du refus : {view.decline_reason}")
        opens = view.status is ReferralStatus.ACCEPTED and view.step_open
        if opens and st.button("Ouvrir l'étape", key=f"open-step-{view.id}"):
            st.switch_page(context.STEP_PAGE, query_params={"step": str(view.step_run_id)})
        if view.status is ReferralStatus.SENT and ctx.user.role in (
            Role.PARTNER,
            Role.COORDINATOR,
        ):
            answer_forms(ctx, view, now)


def answer_forms(ctx: context.Context, view: referrals.ReferralView, now: dt.datetime) -> None:
    yes, no = st.columns(2)
    with yes.form(f"accept-{view.id}"):
        starts_on = st.date_input(
            "Date de début",
            value=clock.local_today(now),
            min_value=view.referred_at.astimezone(clock.LOCAL_TIME).date(),
            format="DD/MM/YYYY",
        )
        note = st.text_input("Remarque (facultatif)", max_chars=500)
        if st.form_submit_button("Accepter", type="primary"):
            answer(ctx, view.id, accepted=True, starts_on=starts_on, text=note)
    with no.form(f"decline-{view.id}"):
        reason = st.text_area("Motif du refus", max_chars=2000)
        if st.form_submit_button("Refuser"):
            answer(ctx, view.id, accepted=False, text=reason)


def referrals_section(ctx: context.Context) -> None:
    now = clock.utcnow()
    st.subheader("Orientations" if ctx.user.role is not Role.PARTNER else "Orientations reçues")
    shown = st.radio(
        "Afficher",
        ["En attente de réponse", "Toutes"],
        horizontal=True,
        label_visibility="collapsed",
    )
    with ctx.runtime.session() as session:
        views = referrals.list_referrals(
            session=session,
            rules=ctx.runtime.rules,
            user=ctx.user,
            now=now,
            status=ReferralStatus.SENT if shown == "En attente de réponse" else None,
        )
    if not views:
        st.caption(
            "Aucune orientation en attente de réponse."
            if shown == "En attente de réponse"
            else "Aucune orientation."
        )
    for view in views:
        referral_card(ctx, view, now)


def render() -> None:
    ctx = context.current()
    st.title("Orientations")
    context.show_flashes()
    if ctx.user.role is Role.PARTNER:
        st.caption(
            "Les participants orientés vers votre organisation : acceptez-les avec une date de "
            "début, ou refusez en disant pourquoi. Vous ne voyez que ce que l'orientation "
            "partage, et seulement tant qu'elle est en cours."
        )
    else:
        to_refer_section(ctx)
    referrals_section(ctx)


render()
