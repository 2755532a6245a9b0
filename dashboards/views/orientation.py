"""Conseils d'orientation (coordinator): how often the advisors' orientation decisions differ
from what rules/orientation.yaml advised, over a period, and which way."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crealux_core.clock import LOCAL_TIME
from crealux_core.models import Role
from crealux_core.services.advice import advice_stats
from dashboards import context


def route_label(ctx: context.Context, route: str | None) -> str:
    if route is None:
        return "aucun conseil"
    spec = ctx.runtime.rules.orientation
    return spec.routes.get(route, route) if spec else route


def render() -> None:
    ctx = context.current()
    st.title("Conseils d'orientation")
    if ctx.user.role is not Role.COORDINATOR:
        st.error("Cette page est réservée à la coordination.")
        return
    if ctx.runtime.rules.orientation is None:
        st.info("Aucun conseil d'orientation n'est défini (rules/orientation.yaml).")
    today = dt.datetime.now(LOCAL_TIME).date()
    period = st.date_input(
        "Période (décisions prises)",
        value=(today.replace(month=1, day=1), today),
        format="DD/MM/YYYY",
    )
    start, end = (period[0], period[-1]) if isinstance(period, tuple) and period else (None, None)

    def moment(day: dt.date | None, *, after: bool = False) -> dt.datetime | None:
        if day is None:
            return None
        day = day + dt.timedelta(days=1) if after else day
        return dt.datetime.combine(day, dt.time(0), LOCAL_TIME).astimezone(dt.UTC)

    with ctx.runtime.session() as session:
        stats = advice_stats(session=session, since=moment(start), until=moment(end, after=True))
    decisions, differed = st.columns(2)
    decisions.metric("Décisions d'orientation", stats.decisions)
    share = stats.differed_share
    differed.metric(
        "Décision différente du conseil",
        f"{stats.differed} sur {stats.advised}" + (f" ({share:.0%})" if share is not None else ""),
    )
    if not stats.pairs:
        st.caption("Aucune décision d'orientation sur cette période.")
        return
    st.dataframe(
        [
            {
                "Conseil": route_label(ctx, advised),
                "Décision": route_label(ctx, decided),
                "Nombre": count,
                "Suivi": "oui" if advised == decided else ("—" if advised is None else "non"),
            }
            for advised, decided, count in stats.pairs
        ],
        hide_index=True,
    )


render()
