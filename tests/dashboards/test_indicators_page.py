"""The « Indicateurs » page through Streamlit's AppTest, against a real, migrated database:
the funder's table for the programme, a year or dates chosen (kept in the address), by gender
and on request by organisation, the ESF+ common indicators with their codes, the charts and
the files, and the refusal of anyone but the coordination.

The programme: Alice (a woman) and Bruno (a man) enrolled on 2 November 2026; Alice created her
activity as principal self-employed that day; 40 candidates were reached by an information
session on 15 October 2026.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from crealux_core import clock
from crealux_core.models import (
    Gender,
    OutreachAction,
    OutreachCategory,
    OutreachKind,
    ParticipantCreate,
)
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules
from crealux_core.runtime import Runtime
from crealux_core.services.participants import enroll_participant
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.dashboards.conftest import APP_FILE
from tests.dashboards.test_app import app, messages, shown, sign_in, visit  # noqa: F401
from tests.dashboards.test_pipeline_page import page_as
from tests.services.helpers import walk_to

PAGE = "views/indicators.py"
NOW = T0 + timedelta(days=20)


@pytest.fixture(autouse=True)
def later_in_november(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)


@pytest.fixture
def programme(
    session: Session, rules: Rules, unreachable_orchestrator: PrefectOrchestrator
) -> None:
    advisor = get_user(session=session, username="conseillere")
    runs = {}
    for first_name, gender in (("Alice", Gender.FEMALE), ("Bruno", Gender.MALE)):
        _, run = enroll_participant(
            session=session,
            rules=rules,
            data=ParticipantCreate(first_name=first_name, last_name="Test", gender=gender),
            advisor=advisor,
            now=T0,
            orchestrator=unreachable_orchestrator,
            dashboard_url=DASHBOARD_URL,
        )
        runs[first_name] = run.id or 0
    walk_to(session, rules, runs["Alice"], "post_creation_3m", route="creation")
    session.add(
        OutreachAction(
            category=OutreachCategory.CANDIDATES,
            kind=OutreachKind.INFORMATION_SESSION,
            held_on=date(2026, 10, 15),
            title="Séance d'information à Durbuy",
            organiser_id=advisor.organisation_id,
            people_reached=40,
            recorded_at=T0,
        )
    )
    session.commit()


def table(at: AppTest, first_column: str, index: int = 0) -> list[dict[str, object]]:
    """The rows of the index-th table whose first column is `first_column`."""
    frames = [frame.value for frame in at.dataframe if frame.value.columns[0] == first_column]
    return frames[index].to_dict("records")


def chart_rows(chart: Any) -> list[dict[str, Any]]:
    """The data a chart draws (sent to the browser as Arrow)."""
    [dataset] = chart.proto.datasets
    rows: list[dict[str, Any]] = pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
    return rows


def line(rows: list[dict[str, object]], label: str) -> dict[str, object]:
    [found] = [row for row in rows if row["Indicateur"] == label]
    return found


def test_the_coordinator_reads_the_funder_table_by_gender_with_charts_and_files(
    app: AppTest,  # noqa: F811
    programme: None,
) -> None:
    visit(sign_in(app, "coordination"), PAGE)
    assert not app.exception, app.exception
    assert messages(app, "title") == ["Indicateurs"]
    assert app.radio(key="indicators-period").value == "programme"
    assert "du 1er janvier 2026 au 31 décembre 2027" in shown(app)

    rows = table(app, "Indicateur")
    assert [row["Indicateur"] for row in rows][:4] == [
        "Candidats potentiels sensibilisés",
        "Structures de 1ère ligne sensibilisées",
        "Structures professionnelles sensibilisées",
        "Candidats accompagnés",
    ]
    accompanied = line(rows, "Candidats accompagnés")
    assert (accompanied["Objectif"], accompanied["Réalisé"], accompanied["Atteint"]) == ("50", 2, 4)
    creations = line(rows, "(Auto) créations d'emploi")
    assert (creations["Objectif"], creations["Réalisé"]) == ("20", 1)
    sensitised = line(rows, "Candidats potentiels sensibilisés")
    assert (sensitised["Réalisé"], sensitised["Objectif"]) == (40, "100")
    workshops = line(rows, "Ateliers de prospective (démarche prospective)")
    assert (workshops["Objectif"], workshops["Réalisé"]) == ("—", 0)
    assert workshops["Atteint"] is None or workshops["Atteint"] != workshops["Atteint"]  # NaN
    page = shown(app)
    assert "(Auto) créations d'emploi : dont indépendant à titre principal : 1" in page
    assert "Objectifs : objectif du programme." in page

    by_gender = line(table(app, "Indicateur", 1), "Candidats accompagnés")
    assert (by_gender["Femmes"], by_gender["Hommes"], by_gender["Total"]) == (1, 1, 2)
    assert (by_gender["Autre genre"], by_gender["Non précisé"]) == (0, 0)

    esf = table(app, "Code")
    assert esf[0]["Code"] == "EECO01" and esf[0]["Total"] == 2
    assert (esf[0]["Femmes"], esf[0]["Hommes"]) == (1, 1)
    assert {"EECR01", "EECR06"} <= {row["Code"] for row in esf}

    progress, funnel, flows = (chart_rows(chart) for chart in app.get("vega_lite_chart"))
    assert {"indicator": "Candidats accompagnés", "achieved": 2, "target": 50} in [
        {key: row[key] for key in ("indicator", "achieved", "target")} for row in progress
    ]
    assert [row["count"] for row in funnel] == [40, 2, 1]
    assert {"month": "nov. 2026", "kind": "Entrées", "count": 2} in flows
    assert [button.proto.label for button in app.get("download_button")] == ["CSV", "XLSX", "PDF"]


def test_a_year_or_dates_chosen_and_other_breakdowns(
    app: AppTest,  # noqa: F811
    programme: None,
) -> None:
    visit(sign_in(app, "coordination"), PAGE)
    app.radio(key="indicators-period").set_value("2027").run()
    assert not app.exception
    assert dict(app.query_params) == {"periode": "2027"}
    assert "du 1er janvier 2027 au 31 décembre 2027" in shown(app)
    rows = table(app, "Indicateur")
    assert line(rows, "Candidats potentiels sensibilisés")["Réalisé"] == 0  # held in 2026
    # 2027 is still to come: those accompanied today are not projected into it.
    assert line(rows, "Candidats accompagnés")["Réalisé"] == 0
    [unfinished] = messages(app, "info")
    assert unfinished.startswith("La période n'est pas finie : les chiffres s'arrêtent à")

    app.multiselect(key="indicators-by").select("organisation").run()
    assert not app.exception
    assert "Par organisation" in messages(app, "subheader")
    assert app.query_params["ventilations"] == "organisation"

    app.radio(key="indicators-period").set_value("dates").run()
    app.date_input(key="indicators-from").set_value(date(2026, 11, 10)).run()
    app.date_input(key="indicators-to").set_value(date(2026, 11, 1)).run()
    assert messages(app, "error") == [
        "La date de fin (01/11/2026) est avant la date de début (10/11/2026) : choisissez une "
        "fin le même jour ou après."
    ]
    assert not app.dataframe
    app.date_input(key="indicators-to").set_value(date(2026, 11, 30)).run()
    assert not app.exception and not messages(app, "error")
    assert "du 10 novembre 2026 au 30 novembre 2026" in shown(app)
    rows = table(app, "Indicateur")
    assert line(rows, "(Auto) créations d'emploi")["Réalisé"] == 0  # created on 2 November
    assert dict(app.query_params) == {
        "periode": "dates",
        "du": "2026-11-10",
        "au": "2026-11-30",
        "ventilations": "organisation",
    }


def test_the_period_in_the_address_opens_the_same_report(
    app: AppTest,  # noqa: F811
    programme: None,
) -> None:
    sign_in(app, "coordination")
    app.query_params.update({"periode": "dates", "du": "2026-11-01", "au": "2026-11-30"})
    visit(app, PAGE)
    assert not app.exception
    assert app.radio(key="indicators-period").value == "dates"
    assert "du 1er novembre 2026 au 30 novembre 2026" in shown(app)
    other = AppTest.from_file(APP_FILE, default_timeout=30).run()  # another tab, a bad address
    sign_in(other, "coordination")
    other.query_params.update({"periode": "1999", "du": "demain"})
    visit(other, PAGE)
    assert not other.exception
    assert other.radio(key="indicators-period").value == "programme"


@pytest.mark.parametrize("username", ["conseillere", "challenge"])
def test_only_the_coordination_opens_the_indicators_page(
    app: AppTest,  # noqa: F811
    runtime: Runtime,
    session: Session,
    programme: None,
    username: str,
) -> None:
    sign_in(app, username)
    with pytest.raises(ValueError, match="navigation page"):
        app.switch_page(PAGE)  # the navigation does not offer it

    page = page_as(runtime, session, username, APP_FILE.parent / PAGE)
    assert not page.exception
    assert messages(page, "error") == ["Cette page est réservée à la coordination."]
    assert not page.dataframe
    assert not page.get("download_button")
