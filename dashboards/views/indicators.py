"""Indicateurs (coordinator only): the funder's table « Résultats annoncés / Résultats
atteints » for a chosen period (target, achieved, percentage, detail), by gender, other
breakdowns on request, the ESF+ common indicators with their codes, charts, and the report as
CSV, XLSX and PDF.

The numbers come from `services.reports.indicator_report` (counted in SQL), the funnel and the
monthly flows from `services.pipeline`; the texts of the tables from `exports.tables`, as the
files' (a label never differs between the page and the report it downloads). The period lives in
the address (`?periode=2026`, `?periode=dates&du=2026-03-01&au=2026-06-30`): a reload shows the
same report. Only the coordinator has this page in the navigation; a hidden page still opens by
its address, so the page checks the role again (and the services once more).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from crealux_core import clock
from crealux_core.domain.indicators import DIMENSION_LABELS, Line, Report, ReportCharts
from crealux_core.exports.tables import (
    Breakdown,
    breakdown,
    breakdowns,
    detail_text,
    esf_gender_labels,
    esf_genders,
    number_text,
    period_text,
    target_basis,
)
from crealux_core.rules.indicators import ProgrammeSpec
from crealux_core.services.errors import Forbidden, InvalidInput
from crealux_core.services.pipeline import report_charts
from crealux_core.services.reports import indicator_report
from dashboards import charts, context
from dashboards.display import EMPTY, md

REFUSED = "Cette page est réservée à la coordination."
NO_RULES = (
    "Aucun indicateur n'est défini : le fichier rules/indicators.yaml manque dans les règles "
    "de cette instance."
)
PERIOD_KEY, FROM_KEY, TO_KEY, BY_KEY = (
    "indicators-period",
    "indicators-from",
    "indicators-to",
    "indicators-by",
)
PROGRAMME, DATES = "programme", "dates"
# Breakdowns offered on request (gender is always shown for participant indicators).
OPTIONAL_BREAKDOWNS = ("age_band", "organisation", "municipality", "sector")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The files of the report: button label, extension, MIME type, exporter in crealux_core.exports.
EXPORTS = (
    ("CSV", "csv", "text/csv", "report_csv"),
    ("XLSX", "xlsx", XLSX_MIME, "report_xlsx"),
    ("PDF", "pdf", "application/pdf", "report_pdf"),
)


# --- the period, kept in the address -------------------------------------------------------


def period_choices(programme: ProgrammeSpec) -> dict[str, str]:
    """The programme's period, each of its calendar years, or dates chosen."""
    years = range(programme.starts_on.year, programme.ends_on.year + 1)
    return {
        PROGRAMME: f"Programme ({programme.starts_on:%d/%m/%Y} – {programme.ends_on:%d/%m/%Y})",
        **{str(year): f"Année {year}" for year in years},
        DATES: "Dates choisies",
    }


def _parse_day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _write_query() -> None:
    choice = st.session_state.get(PERIOD_KEY, PROGRAMME)
    params: dict[str, str] = {} if choice == PROGRAMME else {"periode": str(choice)}
    if choice == DATES:
        for key, name in ((FROM_KEY, "du"), (TO_KEY, "au")):
            day = st.session_state.get(key)
            if isinstance(day, dt.date):
                params[name] = day.isoformat()
    if st.session_state.get(BY_KEY):
        params["ventilations"] = ",".join(st.session_state[BY_KEY])
    st.query_params.from_dict(params)


def read_period(programme: ProgrammeSpec) -> None:
    """Start a new browser session (a reload, a link) from the address."""
    choices = period_choices(programme)
    if PERIOD_KEY not in st.session_state:
        wanted = st.query_params.get("periode", PROGRAMME)
        st.session_state[PERIOD_KEY] = wanted if wanted in choices else PROGRAMME
    if FROM_KEY not in st.session_state:
        start = _parse_day(st.query_params.get("du"))
        st.session_state[FROM_KEY] = start or programme.starts_on
    if TO_KEY not in st.session_state:
        end = _parse_day(st.query_params.get("au"))
        st.session_state[TO_KEY] = end or programme.ends_on
    if BY_KEY not in st.session_state:
        asked = (st.query_params.get("ventilations") or "").split(",")
        st.session_state[BY_KEY] = [name for name in OPTIONAL_BREAKDOWNS if name in asked]


def chosen_period(programme: ProgrammeSpec) -> tuple[dt.date, dt.date] | None:
    """Show the period chooser; return the period, or None (and say why) when the dates chosen
    do not make one."""
    choices = period_choices(programme)
    period, breakdown_column = st.columns([3, 2])
    choice = period.radio(
        "Période",
        list(choices),
        format_func=choices.__getitem__,
        key=PERIOD_KEY,
        horizontal=True,
        on_change=_write_query,
    )
    breakdown_column.multiselect(
        "Autres ventilations",
        list(OPTIONAL_BREAKDOWNS),
        format_func=DIMENSION_LABELS.__getitem__,
        key=BY_KEY,
        on_change=_write_query,
        placeholder="Âge, organisation, commune, secteur…",
        help="Le genre est toujours donné pour les indicateurs qui comptent des participants.",
    )
    if choice == PROGRAMME:
        return programme.starts_on, programme.ends_on
    if choice != DATES:
        year = int(choice)
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    start_column, end_column, _ = st.columns([1, 1, 3])
    start = start_column.date_input("Du", key=FROM_KEY, format="DD/MM/YYYY", on_change=_write_query)
    end = end_column.date_input("Au", key=TO_KEY, format="DD/MM/YYYY", on_change=_write_query)
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        st.error("Choisissez une date de début et une date de fin.")
        return None
    if end < start:
        st.error(
            f"La date de fin ({end:%d/%m/%Y}) est avant la date de début ({start:%d/%m/%Y}) : "
            "choisissez une fin le même jour ou après."
        )
        return None
    return start, end


# --- the tables ----------------------------------------------------------------------------


def target_text(line: Line) -> str:
    return EMPTY if line.target.value is None else number_text(line.target.value)


def indicator_rows(report: Report) -> pd.DataFrame:
    """The funder's table: one line per indicator, target against achieved (a line without a
    target shows « — »; its percentage is left empty)."""
    return pd.DataFrame(
        [
            {
                "Indicateur": line.label_fr,
                "Objectif": target_text(line),
                "Réalisé": line.achieved,
                "Atteint": line.percent,
            }
            for line in report.lines
        ],
        columns=["Indicateur", "Objectif", "Réalisé", "Atteint"],
    )


def details(report: Report) -> list[str]:
    """« (Auto) créations d'emploi : dont indépendant à titre principal : 3, … », per line
    with a detail, and what the targets are (the programme's, a year's or prorated)."""
    lines = [
        f"**{md(line.label_fr)}** : {md(detail_text(report, line))}"
        for line in report.lines
        if line.detail
    ]
    bases = sorted({target_basis(line) for line in report.lines if line.target.value is not None})
    if bases:
        lines.append("Objectifs : " + ", ".join(bases) + ".")
    return lines


def breakdown_rows(table: Breakdown, *, with_code: bool = False) -> pd.DataFrame:
    rows = []
    for row in table.rows:
        values: dict[str, Any] = {"Code": row.line.code or ""} if with_code else {}
        values["Indicateur"] = row.line.label_fr
        values.update(zip(table.labels, row.counts, strict=True))
        values["Total"] = row.total
        rows.append(values)
    return pd.DataFrame(rows)


def esf_rows(report: Report) -> pd.DataFrame:
    """The ESF+ common indicators: code, name, by gender and total."""
    rows = []
    for line in report.esf:
        values: dict[str, Any] = {"Code": line.code or "", "Indicateur": line.label_fr}
        values.update(zip(esf_gender_labels(), esf_genders(line), strict=True))
        values["Total"] = line.achieved
        rows.append(values)
    return pd.DataFrame(rows)


def indicator_table(report: Report) -> None:
    st.subheader("Résultats annoncés / résultats atteints")
    st.dataframe(
        indicator_rows(report),
        hide_index=True,
        width="stretch",
        column_config={
            "Indicateur": st.column_config.TextColumn(width="large"),
            "Objectif": st.column_config.TextColumn(alignment="right"),
            "Réalisé": st.column_config.NumberColumn(format="%d"),
            "Atteint": st.column_config.ProgressColumn(
                format="%.0f %%", min_value=0, max_value=100, help="Réalisé / objectif"
            ),
        },
    )
    for text in details(report):
        st.markdown(text)
    st.caption(
        "Un participant compte une fois par indicateur sur la période, même s'il est sorti "
        "et revenu. Sur une période autre que le programme ou une année, l'objectif est "
        "celui du programme au prorata des jours."
    )


def breakdown_tables(report: Report) -> None:
    lines: tuple[Line, ...] = report.lines
    st.subheader("Par genre")
    gender = breakdown(report, "gender", lines)
    if gender.rows:
        st.dataframe(breakdown_rows(gender), hide_index=True, width="stretch")
    for table in breakdowns(report):
        if table.dimension == "gender":
            continue
        st.subheader(table.title)
        st.dataframe(breakdown_rows(table, with_code=True), hide_index=True, width="stretch")


def esf_table(report: Report) -> None:
    st.subheader("Indicateurs communs FSE+")
    st.dataframe(
        esf_rows(report),
        hide_index=True,
        width="stretch",
        column_config={"Indicateur": st.column_config.TextColumn(width="large")},
    )


# --- charts and files ----------------------------------------------------------------------


def chart_section(report: Report, drawn: ReportCharts) -> None:
    funnel_counts, flows = drawn.funnel, drawn.flows
    st.subheader("Graphiques")
    st.markdown("**Progression vers l'objectif**")
    st.altair_chart(charts.progress_chart(report.lines), width="stretch")
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**De la sensibilisation à la création ou l'emploi**")
        st.altair_chart(charts.funnel_chart(funnel_counts), width="stretch")
        st.caption(
            "Personnes sensibilisées par les actions pour les candidats ; participants "
            "accompagnés pendant la période ; parmi eux ou d'autres, ceux qui ont lancé leur "
            f"activité ({funnel_counts.created}) ou trouvé un emploi ({funnel_counts.employed}), "
            "comptés une fois."
        )
    with right:
        st.markdown("**Entrées et sorties par mois**")
        st.altair_chart(charts.flows_chart(flows), width="stretch")


def _exporter(name: str) -> Callable[..., bytes] | None:
    """Return an exporter of crealux_core.exports, or None while it is not installed."""
    try:
        from crealux_core import exports
    except ImportError:
        return None
    found = getattr(exports, name, None)
    return found if callable(found) else None


def _file_stem(report: Report) -> str:
    return f"indicateurs-{report.period_start:%Y%m%d}-{report.period_end:%Y%m%d}"


def downloads(report: Report, drawn: ReportCharts) -> None:
    """One button per format; each file is made when its button is clicked, not before (the
    PDF draws the page's charts too)."""
    row = st.container(horizontal=True)
    for label, extension, mime, name in EXPORTS:
        exporter = _exporter(name)
        if exporter is None:
            row.caption(f"{label} : export indisponible")
            continue

        def make(
            exporter: Callable[..., bytes] = exporter, pdf: bool = name == "report_pdf"
        ) -> bytes:
            return exporter(report, drawn) if pdf else exporter(report)

        row.download_button(
            label,
            data=make,
            file_name=f"{_file_stem(report)}.{extension}",
            mime=mime,
            key=f"indicators-download-{extension}",
            icon=":material/download:",
            on_click="ignore",
        )


def render() -> None:
    ctx = context.current()
    st.title("Indicateurs")
    if not context.may_watch_pathways(ctx.user):
        st.error(REFUSED)
        return
    indicators = ctx.runtime.rules.indicators
    if indicators is None:
        st.warning(NO_RULES)
        return
    read_period(indicators.programme)
    period = chosen_period(indicators.programme)
    if period is None:
        return
    start, end = period
    try:
        with ctx.runtime.session() as session:
            report = indicator_report(
                session=session,
                rules=ctx.runtime.rules,
                user=ctx.user,
                start=start,
                end=end,
                by=tuple(st.session_state.get(BY_KEY, ())),
                now=clock.utcnow(),
            )
            drawn = report_charts(
                session=session,
                rules=ctx.runtime.rules,
                user=ctx.user,
                start=start,
                end=end,
                today=clock.local_today(clock.utcnow()),
            )
    except Forbidden:
        st.error(REFUSED)
        return
    except InvalidInput as error:
        st.error(" ; ".join(error.field_errors.values()))
        return
    st.caption(f"{md(report.title)} · {md(report.funder)} · période {period_text(report)}")
    today = clock.local_today(report.generated_at)
    if end > today:
        st.info(
            f"La période n'est pas finie : les chiffres s'arrêtent à aujourd'hui "
            f"({today:%d/%m/%Y}). Rien n'est projeté dans les jours à venir."
        )
    downloads(report, drawn)
    indicator_table(report)
    breakdown_tables(report)
    chart_section(report, drawn)
    esf_table(report)


render()
