"""Envois (coordinator): the delivery log of notifications, what each channel answered to each
attempt, and the channels disabled after a permanent failure, which can be enabled again.

The services check the policy (READ_DELIVERIES, MANAGE_CHANNELS): the navigation shows the page
to the coordinator only, but a partner who opens it anyway is refused here too. Channels are
shown masked (scheme and host): the database never holds their secrets.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crealux_core import clock
from crealux_core.models import NotificationStatus
from crealux_core.services.deliveries import (
    DELIVERY_LABELS,
    STATUS_LABELS,
    ChannelState,
    DeliveryView,
    enable_channel,
    list_channels,
    list_deliveries,
    organisation_keys,
)
from crealux_core.services.errors import Forbidden, InvalidInput, NotFound
from dashboards import context
from dashboards.display import local_datetime

PAGE_SIZE = 50
ALL = "Tous"
ALL_ORGANISATIONS = "Toutes"
DATE_FORMAT = "DD/MM/YYYY"
REFUSED = "Cette page est réservée à la coordination."


def channels_text(view: DeliveryView) -> str:
    """Each channel's latest answer, in one line (« json://host/***: Reçu (essai 1) · ... »)."""
    latest: dict[str, str] = {}
    for attempt in view.channels:
        label = DELIVERY_LABELS[attempt.status]
        if attempt.error and attempt.status.value != "success":
            label += f" ({attempt.error})"
        latest[attempt.channel] = f"{attempt.channel} : {label} (essai {attempt.attempt})"
    return " · ".join(latest.values())


def filters(ctx: context.Context) -> dict[str, object] | None:
    with ctx.runtime.session() as session:
        keys = organisation_keys(session=session, user=ctx.user)
    status_col, organisation_col, participant_col = st.columns(3)
    statuses = {ALL: None, **{label: status for status, label in STATUS_LABELS.items()}}
    status = status_col.selectbox("Statut", list(statuses), key="deliveries-status")
    organisation = organisation_col.selectbox(
        "Organisation", [ALL_ORGANISATIONS, *keys], key="deliveries-organisation"
    )
    participant = participant_col.text_input(
        "Participant (référence)", placeholder="P-00012", key="deliveries-participant"
    )
    first, last = st.columns(2)
    start = first.date_input("Du", value=None, format=DATE_FORMAT, key="deliveries-start")
    end = last.date_input("Au", value=None, format=DATE_FORMAT, key="deliveries-end")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and start > end:
        st.error("Choisissez une période dont la fin suit le début.")
        return None
    return {
        "status": statuses[status],
        "organisation_key": None if organisation == ALL_ORGANISATIONS else organisation,
        "participant": participant.strip() or None,
        "start": start if isinstance(start, dt.date) else None,
        "end": end if isinstance(end, dt.date) else None,
    }


def page_number(total: int) -> int:
    pages = max(1, -(-total // PAGE_SIZE))
    if pages == 1:
        return 0
    number = st.number_input(
        f"Page (sur {pages})", min_value=1, max_value=pages, key="deliveries-page"
    )
    return (int(number) - 1) * PAGE_SIZE


def delivery_log(ctx: context.Context) -> None:
    chosen = filters(ctx)
    if chosen is None:
        return
    try:
        with ctx.runtime.session() as session:
            total = list_deliveries(session=session, user=ctx.user, limit=1, **chosen).total  # type: ignore[arg-type]
            offset = page_number(total)
            page = list_deliveries(
                session=session,
                user=ctx.user,
                offset=offset,
                limit=PAGE_SIZE,
                **chosen,  # type: ignore[arg-type]
            )
    except InvalidInput as error:
        for message in error.field_errors.values():
            st.error(message)
        return
    if total == 0:
        st.info("Aucun envoi ne correspond à ces filtres.")
        return
    st.caption(f"{total} message(s).")
    st.dataframe(
        [
            {
                "N°": view.notification_id,
                "Créé le": local_datetime(view.created_at),
                "Organisation": view.organisation_name,
                "Participant": view.participant_reference or "",
                "Objet": view.title,
                "Statut": view.status_label,
                "Essais": view.attempts,
                "Prochain essai": local_datetime(view.next_attempt_at)
                if view.next_attempt_at
                else "",
                "Canaux": channels_text(view),
            }
            for view in page.rows
        ],
        hide_index=True,
    )
    troubled = [
        view
        for view in page.rows
        if view.status in (NotificationStatus.FAILED, NotificationStatus.PARTIAL)
    ]
    if troubled:
        st.subheader("Détail des échecs")
        for view in troubled:
            with st.expander(f"N° {view.notification_id} — {view.title} ({view.status_label})"):
                st.dataframe(
                    [
                        {
                            "Essai": attempt.attempt,
                            "Le": local_datetime(attempt.at),
                            "Canal": attempt.channel,
                            "Service": attempt.service,
                            "Résultat": DELIVERY_LABELS[attempt.status],
                            "Définitif": "oui" if attempt.permanent else "",
                            "Erreur": attempt.error or "",
                        }
                        for attempt in view.channels
                    ],
                    hide_index=True,
                )


def channel_choice(state: ChannelState) -> str:
    return f"{state.organisation_key} — {state.channel} ({state.channel_id})"


def channels(ctx: context.Context) -> None:
    with ctx.runtime.session() as session:
        states = list_channels(session=session, user=ctx.user, rules=ctx.runtime.rules)
    disabled = [state for state in states if state.disabled]
    if disabled:
        st.warning(f"{len(disabled)} canal(aux) désactivé(s) : les messages les sautent.")
    else:
        st.success("Aucun canal désactivé.")
    st.dataframe(
        [
            {
                "Organisation": state.organisation_key,
                "Canal": state.channel,
                "Service": state.service,
                "Identifiant": state.channel_id,
                "État": "Désactivé" if state.disabled else "Actif",
                "Depuis": local_datetime(state.disabled_at) if state.disabled_at else "",
                "Raison": (state.reason or "") if state.disabled else "",
                "Dans les règles": "oui" if state.in_rules else "non",
            }
            for state in states
        ],
        hide_index=True,
    )
    if not disabled:
        return
    st.subheader("Réactiver un canal")
    st.caption(
        "Une fois l'adresse ou le serveur corrigé : les messages suivants iront à ce canal ; "
        "ceux qui l'ont sauté ne sont pas renvoyés."
    )
    choices = {channel_choice(state): state for state in disabled}
    chosen = st.selectbox("Canal désactivé", list(choices), key="deliveries-enable-choice")
    if st.button("Réactiver ce canal", key="deliveries-enable"):
        state = choices[chosen]
        try:
            with ctx.runtime.session() as session:
                enable_channel(
                    session=session,
                    user=ctx.user,
                    organisation_key=state.organisation_key,
                    channel=state.channel_id,
                    now=clock.utcnow(),
                    rules=ctx.runtime.rules,
                )
        except NotFound:
            context.flash("info", "Ce canal était déjà réactivé.")
        else:
            context.flash(
                "success", f"Canal réactivé : {state.organisation_key} — {state.channel}."
            )
        st.rerun()


def render() -> None:
    ctx = context.current()
    st.title("Envois")
    try:
        with ctx.runtime.session() as session:
            organisation_keys(session=session, user=ctx.user)
    except Forbidden:
        st.error(REFUSED)
        return
    log_tab, channels_tab = st.tabs(["Journal des envois", "Canaux"])
    with log_tab:
        delivery_log(ctx)
    with channels_tab:
        channels(ctx)


render()
