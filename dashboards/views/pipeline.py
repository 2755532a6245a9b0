"""Pilotage (coordinator only): where the active pathways are, step by step and route by route,
how many are late, stalled or waiting for a date, and the list behind each count, a page at a
time, each participant linked to their pathway and to their flow run in the Prefect UI.

The selection lives in the address (`?etape=orientation&voir=overdue&page=2`), so a reload
(F5) or a shared link shows the same list. Only the coordinator has this page in the
navigation; a hidden page still opens by its address, so the page checks the role again (and
the services check it once more).
"""

from __future__ import annotations

from typing import cast

import streamlit as st

from crealux_core import clock
from crealux_core.models import StepStatus
from crealux_core.rules.specs import Rules
from crealux_core.services.errors import Forbidden
from crealux_core.services.pipeline import (
    ONLY_VALUES,
    Board,
    BoardRow,
    Only,
    PipelinePage,
    PipelineRow,
    flow_run_url,
    pipeline_board,
    pipeline_list,
    route_titles,
    step_titles,
)
from dashboards import context
from dashboards.display import EMPTY, local_date, md, time_ago

REFUSED = "Cette page est réservée à la coordination."
PER_PAGE = 25
ALL = ""  # the "no filter" choice of a selectbox
STEP_KEY, ROUTE_KEY, ONLY_KEY, PAGE_KEY = (
    "pipeline-step",
    "pipeline-route",
    "pipeline-only",
    "pipeline-page",
)
# The address's names for the selection (French, as the rest of the addresses).
QUERY = {STEP_KEY: "etape", ROUTE_KEY: "orientation", ONLY_KEY: "voir", PAGE_KEY: "page"}
ONLY_LABELS: dict[str, str] = {
    "all": "Tous",
    "overdue": "En retard",
    "stalled": "En panne",
    "scheduled": "Programmés",
}
# A count worth looking at is coloured: late in red, stalled in orange.
ONLY_COLOURS: dict[str, str] = {"overdue": "red", "stalled": "orange"}
HEADERS = ("En cours", "En retard", "En panne", "Programmés")
WIDTHS = [4, 1.2, 1.2, 1.2, 1.2, 2]  # title, the four counts, room to breathe


def _days(board: Board) -> int:
    return max(1, round(board.stalled_after.total_seconds() / 86400))


# --- the selection, kept in the address ----------------------------------------------------


def _write_query() -> None:
    """Put the selection in the address, so that a reload shows the same list."""
    params: dict[str, str] = {}
    for key, name in QUERY.items():
        value = st.session_state.get(key)
        if value not in (None, ALL, "all", 1):
            params[name] = str(value)
    st.query_params.from_dict(params)


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1
    _write_query()


def open_list(step_key: str | None, route: str | None, only: str) -> None:
    """Open the list behind a count of the board (a button's callback)."""
    st.session_state[STEP_KEY] = step_key or ALL
    st.session_state[ROUTE_KEY] = route or ALL
    st.session_state[ONLY_KEY] = only
    _first_page()


def _turn_page(number: int) -> None:
    st.session_state[PAGE_KEY] = number
    _write_query()


def step_choices(rules: Rules, board: Board) -> dict[str, str]:
    """Every step of the rules (a link may name one nobody is on now), and the board's own."""
    return {**step_titles(rules), **{row.key: row.title for row in board.steps}}


def route_choices(rules: Rules, board: Board) -> dict[str, str]:
    return {**route_titles(rules), **{row.key: row.title for row in board.routes}}


def read_selection(rules: Rules, board: Board) -> None:
    """Start a new browser session (a reload, a link) from the address; a value the rules do
    not know is ignored."""
    known: dict[str, set[str]] = {
        STEP_KEY: {ALL, *step_choices(rules, board)},
        ROUTE_KEY: {ALL, *route_choices(rules, board)},
        ONLY_KEY: set(ONLY_VALUES),
    }
    defaults = {STEP_KEY: ALL, ROUTE_KEY: ALL, ONLY_KEY: "all"}
    for key, values in known.items():
        if key not in st.session_state:
            wanted = st.query_params.get(QUERY[key])
            st.session_state[key] = wanted if wanted in values else defaults[key]
    if PAGE_KEY not in st.session_state:
        raw = st.query_params.get(QUERY[PAGE_KEY], "1")
        st.session_state[PAGE_KEY] = int(raw) if raw.isdigit() and int(raw) > 0 else 1


# --- the board -----------------------------------------------------------------------------


def metrics(ctx: context.Context, board: Board) -> None:
    total, overdue, stalled, scheduled, stuck = st.columns(5)
    total.metric("Parcours en cours", board.totals.total, border=True)
    overdue.metric(
        "En retard",
        board.totals.overdue,
        border=True,
        help="L'étape en cours a dépassé son échéance.",
    )
    stalled.metric(
        "En panne",
        board.totals.stalled,
        border=True,
        help=f"Aucun événement depuis {_days(board)} jours (rules/indicators.yaml, "
        "pipeline.stalled_after). Un parcours en attente d'une date n'est jamais en panne.",
    )
    scheduled.metric(
        "Programmés",
        board.totals.scheduled,
        border=True,
        help="En attente d'une date : l'étape s'ouvrira à sa date (suivis post-création, "
        "situation six mois après la sortie).",
    )
    stuck.metric(
        "Non relancés",
        board.could_not_heal,
        border=True,
        help="Parcours dont l'exécution Prefect n'a pas pu être ramenée par le réconciliateur "
        "(une première relance en cours n'est pas comptée).",
    )
    if board.could_not_heal:
        st.page_link(context.STUCK_PAGE, label="Voir les parcours bloqués", icon=":material/build:")


def _count_label(count: int, only: str, *, selected: bool) -> str:
    """A count in bold; a late or stalled one in colour (white on the selected button)."""
    colour = ONLY_COLOURS.get(only)
    if colour and not selected:
        return f":{colour}-background[:{colour}[**{count}**]]"
    return f"**{count}**"


def board_table(title: str, rows: tuple[BoardRow, ...], *, dimension: str) -> None:
    """One line per step (or route), one button per count: it opens the list behind it."""
    st.subheader(title)
    if not rows:
        st.caption("Aucun parcours en cours.")
        return
    header = st.columns(WIDTHS)
    header[0].caption("Étape" if dimension == "step" else "Orientation décidée")
    for column, text in zip(header[1:], HEADERS, strict=False):
        column.caption(text)
    chosen_key = st.session_state.get(STEP_KEY if dimension == "step" else ROUTE_KEY, ALL)
    chosen_only = st.session_state.get(ONLY_KEY, "all")
    for row in rows:
        cells = st.columns(WIDTHS, vertical_alignment="center")
        cells[0].markdown(md(row.title))
        for cell, only in zip(cells[1:], ONLY_VALUES, strict=False):
            count = row.counts.of(only)
            if not count:
                cell.markdown(":gray[0]")
                continue
            step_key, route = (row.key, None) if dimension == "step" else (None, row.key)
            selected = (row.key, only) == (chosen_key, chosen_only)
            cell.button(
                _count_label(count, only, selected=selected),
                key=f"pipeline-{dimension}-{row.key}-{only}",
                type="primary" if selected else "secondary",
                help=f"{ONLY_LABELS[only]} : {row.title}",
                on_click=open_list,
                args=(step_key, route, only),
            )


# --- the list behind a count ---------------------------------------------------------------


def list_filters(rules: Rules, board: Board) -> None:
    steps = step_choices(rules, board)
    routes = route_choices(rules, board)
    step_column, route_column, only_column = st.columns(3)
    step_column.selectbox(
        "Étape",
        [ALL, *steps],
        format_func=lambda key: steps.get(key, "Toutes les étapes"),
        key=STEP_KEY,
        on_change=_first_page,
    )
    route_column.selectbox(
        "Orientation",
        [ALL, *routes],
        format_func=lambda key: routes.get(key, "Toutes les orientations"),
        key=ROUTE_KEY,
        on_change=_first_page,
    )
    only_column.selectbox(
        "Parcours",
        list(ONLY_VALUES),
        format_func=lambda only: ONLY_LABELS[only],
        key=ONLY_KEY,
        on_change=_first_page,
    )


def _dates(row: PipelineRow, board: Board) -> str:
    """When the step opened and is due (or, scheduled, when it opens), and the last event."""
    if row.step_status is StepStatus.SCHEDULED:
        lines = [f"S'ouvre le **{local_date(row.opens_at)}**"]
    else:
        lines = [f"Sur l'étape depuis le {local_date(row.since)}" if row.since else EMPTY]
        if row.due_at:
            lines.append(f"Échéance : **{local_date(row.due_at)}**")
    if row.last_event_at:
        lines.append(f"Dernier événement {time_ago(row.last_event_at, board.now)}")
    else:
        lines.append(f"Commencé {time_ago(row.started_at, board.now)}, sans événement depuis")
    return "  \n".join(lines)


def participant_row(ctx: context.Context, row: PipelineRow, board: Board) -> None:
    with st.container(border=True):
        who, where, when, links = st.columns([3, 3, 3, 2], vertical_alignment="center")
        who.markdown(f"**{row.reference}** · {md(row.first_name)}  \nSuivi·e par {md(row.advisor)}")
        where.markdown(f"**{md(row.step_title)}**  \n{md(row.route_title)}")
        if row.overdue:
            where.badge("en retard", icon=":material/schedule:", color="red")
        if row.stalled:
            where.badge(f"en panne ({_days(board)} j)", icon=":material/pause:", color="orange")
        when.markdown(_dates(row, board))
        links.page_link(
            context.TIMELINE_PAGE,
            label="Voir le parcours",
            icon=":material/timeline:",
            query_params={"participant": str(row.participant_id)},
        )
        if row.flow_run_id:
            url = flow_run_url(ctx.runtime.settings.prefect_ui_url, row.flow_run_id)
            links.markdown(f":material/open_in_new: [Exécution Prefect]({url})")
        else:
            links.caption("Pas encore d'exécution Prefect")


def pager(page: PipelinePage) -> None:
    if page.pages <= 1:
        return
    previous, where, following = st.columns([1, 2, 1], vertical_alignment="center")
    where.caption(f"Page {page.number} sur {page.pages}")
    previous.button(
        "Page précédente",
        disabled=page.number <= 1,
        key="pipeline-previous",
        on_click=_turn_page,
        args=(page.number - 1,),
    )
    following.button(
        "Page suivante",
        disabled=page.number >= page.pages,
        key="pipeline-next",
        on_click=_turn_page,
        args=(page.number + 1,),
    )


def list_section(ctx: context.Context, board: Board) -> None:
    st.subheader("Liste")
    list_filters(ctx.runtime.rules, board)
    step_key = st.session_state[STEP_KEY] or None
    route = st.session_state[ROUTE_KEY] or None
    only = cast(Only, st.session_state[ONLY_KEY])
    number = int(st.session_state[PAGE_KEY])
    with ctx.runtime.session() as session:
        page = pipeline_list(
            session=session,
            rules=ctx.runtime.rules,
            user=ctx.user,
            now=board.now,
            step_key=step_key,
            route=route,
            only=only,
            offset=(number - 1) * PER_PAGE,
            limit=PER_PAGE,
        )
    if page.total and not page.rows:  # the list shrank under a far page: back to the first
        _turn_page(1)
        st.rerun()
    if not page.total:
        st.info("Aucun parcours en cours ne correspond à cette sélection.")
        return
    st.caption(f"{page.total} parcours : {ONLY_LABELS[only].lower()}.")
    for row in page.rows:
        participant_row(ctx, row, board)
    pager(page)


def render() -> None:
    ctx = context.current()
    st.title("Pilotage")
    if not context.may_watch_pathways(ctx.user):
        st.error(REFUSED)
        return
    try:
        with ctx.runtime.session() as session:
            board = pipeline_board(
                session=session, rules=ctx.runtime.rules, user=ctx.user, now=clock.utcnow()
            )
    except Forbidden:
        st.error(REFUSED)
        return
    read_selection(ctx.runtime.rules, board)
    metrics(ctx, board)
    st.caption(
        f"« En panne » : aucun événement depuis {_days(board)} jours. Cliquez sur un nombre "
        "pour voir les parcours qu'il compte."
    )
    board_table("Par étape", board.steps, dimension="step")
    board_table("Par orientation", board.routes, dimension="route")
    list_section(ctx, board)


render()
