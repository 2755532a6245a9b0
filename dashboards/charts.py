"""Charts of the coordinator's pages, drawn with Altair (Streamlit ships it and draws it with
Vega-Lite in the browser, no network needed): progress to target, the funnel from sensitised
to created or employed, enrolments and exits month by month.

Each function takes values (the report's lines, the funnel, the monthly flows) and returns a
chart; `st.altair_chart` shows it. Nothing here reads a database or Streamlit's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from crealux_core.domain.indicators import Funnel, Line, MonthFlow

MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)
REACHED = "#2e7d32"  # the target is reached
UNDER_WAY = "#1f77b4"
TARGET = "#333333"
ENTRIES, EXITS = "Entrées", "Sorties"
LABEL_LIMIT = 320  # pixels of an indicator's name on the axis before it is cut with « … »
ROW_HEIGHT = 28
PROGRESS_COLUMNS = ("indicator", "achieved", "target", "reached", "label")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}".replace(".", ",") + " %"


def progress_rows(lines: Sequence[Line]) -> list[dict[str, Any]]:
    """The lines that have a target: achieved, target and a label « 12 / 20 (60 %) »."""
    return [
        {
            "indicator": line.label_fr,
            "achieved": line.achieved,
            "target": line.target.value,
            "reached": line.achieved >= (line.target.value or 0),
            "label": f"{line.achieved} / {line.target.value} ({_percent(line.percent)})",
        }
        for line in lines
        if line.target.value
    ]


def progress_chart(lines: Sequence[Line]) -> alt.LayerChart:
    """Achieved as bars, the target as a dark tick on each bar's line, green once reached."""
    rows = progress_rows(lines)
    data = pd.DataFrame(rows, columns=list(PROGRESS_COLUMNS))
    y = alt.Y("indicator:N", sort=None, title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    base = alt.Chart(data).encode(y=y)
    tooltip = [
        alt.Tooltip("indicator:N", title="Indicateur"),
        alt.Tooltip("achieved:Q", title="Réalisé"),
        alt.Tooltip("target:Q", title="Objectif"),
    ]
    # Room on the right of the longest bar (or target) for its label.
    widest = max((max(row["achieved"], row["target"]) for row in rows), default=1)
    scale = alt.Scale(domain=[0, widest * 1.3], nice=False)
    bars = base.mark_bar(height={"band": 0.7}).encode(
        x=alt.X("achieved:Q", title="Réalisé (le trait : l'objectif)", scale=scale),
        color=alt.condition(alt.datum.reached, alt.value(REACHED), alt.value(UNDER_WAY)),
        tooltip=tooltip,
    )
    target = base.mark_tick(color=TARGET, thickness=3, size=ROW_HEIGHT - 6).encode(
        x="target:Q", tooltip=tooltip
    )
    labels = (
        base.mark_text(align="left", dx=6, color=TARGET)
        .encode(x=alt.X("max_value:Q"), text="label:N")
        .transform_calculate(max_value="max(datum.achieved, datum.target)")
    )
    chart: alt.LayerChart = (bars + target + labels).properties(
        height=max(1, len(rows)) * ROW_HEIGHT + 40
    )
    return chart


def funnel_rows(funnel: Funnel) -> list[dict[str, Any]]:
    return [
        {"stage": "Sensibilisés (candidats potentiels)", "count": funnel.sensitised},
        {"stage": "Accompagnés", "count": funnel.accompanied},
        {
            "stage": "Ont créé leur activité ou trouvé un emploi",
            "count": funnel.created_or_employed,
        },
    ]


def funnel_chart(funnel: Funnel) -> alt.LayerChart:
    """From people sensitised to participants accompanied to those who created or found a job."""
    data = pd.DataFrame(funnel_rows(funnel))
    base = alt.Chart(data).encode(
        y=alt.Y("stage:N", sort=None, title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT)),
        x=alt.X("count:Q", title="Personnes"),
    )
    bars = base.mark_bar(color=UNDER_WAY, height={"band": 0.7}).encode(
        tooltip=[alt.Tooltip("stage:N", title="Étape"), alt.Tooltip("count:Q", title="Personnes")]
    )
    labels = base.mark_text(align="left", dx=6, color=TARGET).encode(text="count:Q")
    chart: alt.LayerChart = (bars + labels).properties(height=3 * ROW_HEIGHT * 1.5 + 40)
    return chart


def month_label(flow: MonthFlow) -> str:
    return f"{MONTHS[flow.month.month - 1]} {flow.month.year}"


def flows_rows(flows: Sequence[MonthFlow]) -> list[dict[str, Any]]:
    return [
        row
        for flow in flows
        for row in (
            {"month": month_label(flow), "kind": ENTRIES, "count": flow.enrolments},
            {"month": month_label(flow), "kind": EXITS, "count": flow.exits},
        )
    ]


def flows_chart(flows: Sequence[MonthFlow]) -> alt.Chart:
    """Enrolments and exits side by side, month by month, in the period's order."""
    months = [month_label(flow) for flow in flows]
    chart: alt.Chart = (
        alt.Chart(pd.DataFrame(flows_rows(flows), columns=["month", "kind", "count"]))
        .mark_bar()
        .encode(
            x=alt.X("month:O", sort=months, title=None, axis=alt.Axis(labelAngle=-45)),
            xOffset=alt.XOffset("kind:N", sort=[ENTRIES, EXITS]),
            y=alt.Y("count:Q", title="Parcours", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "kind:N",
                sort=[ENTRIES, EXITS],
                scale=alt.Scale(range=[UNDER_WAY, "#ff7f0e"]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("month:O", title="Mois"),
                alt.Tooltip("kind:N", title=" "),
                alt.Tooltip("count:Q", title="Nombre"),
            ],
        )
        .properties(height=260)
    )
    return chart
