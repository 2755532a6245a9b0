"""The « Pilotage » page through Streamlit's AppTest, against a real, migrated database: the
board's counts, the list behind a count (kept in the address), the links of each participant,
and the refusal of anyone but the coordination."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from crealux_core import clock
from crealux_core.models import PathwayRun
from crealux_core.rules import Rules
from crealux_core.runtime import Runtime
from crealux_core.services.users import get_user
from dashboards.context import Context
from tests.conftest import T0
from tests.dashboards.conftest import APP_FILE
from tests.dashboards.test_app import app, make_stuck, messages, shown, sign_in, visit  # noqa: F401
from tests.services.helpers import walk_to

NOW = T0 + timedelta(days=15)  # Alice's reception (due on the 9th) and Bruno's orientation late
PAGE = "views/pipeline.py"
PAGE_FILE = APP_FILE.parent / PAGE
FLOW_RUN = "6b1e7c1a-0000-4000-8000-00000000abcd"


@pytest.fixture(autouse=True)
def fifteen_days_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)


@pytest.fixture
def programme(session: Session, rules: Rules, enroll) -> dict[str, int]:
    """Alice waits on her reception, Bruno on his orientation, Chloé on her training, Denise on
    her 3-month checkpoint (2 February 2027); Bruno's flow run is known (as the reconciler
    records it)."""
    alice, bruno, chloe = enroll("Alice"), enroll("Bruno"), enroll("Chloé")
    denise = enroll("Denise")
    walk_to(session, rules, bruno.pathway_run_id, "orientation")
    walk_to(session, rules, chloe.pathway_run_id, "training", route="training")
    walk_to(session, rules, denise.pathway_run_id, "post_creation_3m", route="creation")
    run = session.get(PathwayRun, bruno.pathway_run_id)
    assert run is not None
    run.flow_run_id = FLOW_RUN
    session.add(run)
    session.commit()
    return {
        "alice": alice.participant_id,
        "bruno": bruno.participant_id,
        "chloe": chloe.participant_id,
        "bruno_run": bruno.pathway_run_id,
    }


def metric(at: AppTest, label: str) -> str:
    [found] = [m for m in at.metric if m.label == label]
    return str(found.value)


def listed(at: AppTest) -> list[str]:
    """The references and first names of the list, in order."""
    return [
        text.replace("\\", "").split("  \n")[0].replace("**", "")
        for text in messages(at, "markdown")
        if text.startswith("**P-")
    ]


def test_the_coordinator_sees_the_board_and_opens_the_list_behind_a_count(
    app: AppTest,  # noqa: F811
    programme: dict[str, int],
    runtime: Runtime,
) -> None:
    visit(sign_in(app, "coordination"), PAGE)
    assert not app.exception, app.exception
    assert messages(app, "title") == ["Pilotage"]
    assert metric(app, "Parcours en cours") == "4"
    assert metric(app, "Programmés") == "1"
    assert metric(app, "En retard") == "2"
    assert metric(app, "En panne") == "0"
    assert metric(app, "Non relancés") == "0"
    page = shown(app)
    for title in ("Premier accueil", "Orientation", "Formation", "Pas encore orienté·e"):
        assert title in page
    # Everyone at first, longest on their step first.
    alice, bruno = (f"P-{programme[name]:05d}" for name in ("alice", "bruno"))
    assert [line.split(" · ")[1] for line in listed(app)] == ["Alice", "Bruno", "Chloé", "Denise"]
    assert listed(app)[0] == f"{alice} · Alice"
    page = shown(app)
    assert "Commencé il y a 15 jours, sans événement depuis" in page  # Alice
    assert "Dernier événement il y a 14 jours" in page  # Bruno, decided 10 minutes after
    assert "S'ouvre le 02/02/2027" in page  # Denise's checkpoint

    # The late ones on the orientation step: one button, coloured, opens Bruno alone.
    app.button(key="pipeline-step-orientation-overdue").click().run()
    assert not app.exception
    assert listed(app) == [f"{bruno} · Bruno"]
    assert dict(app.query_params) == {"etape": "orientation", "voir": "overdue"}
    assert app.selectbox(key="pipeline-step").value == "orientation"
    assert app.selectbox(key="pipeline-only").value == "overdue"
    page = shown(app)
    assert "Suivi·e par Claire Lambert" in page
    assert f"[Exécution Prefect]({runtime.settings.prefect_ui_url}/runs/flow-run/{FLOW_RUN})" in (
        "\n".join(messages(app, "markdown"))
    )

    # A route's count clears the step filter.
    app.button(key="pipeline-route-none-all").click().run()
    assert listed(app) == [f"{alice} · Alice", f"{bruno} · Bruno"]
    assert dict(app.query_params) == {"orientation": "none"}


def test_the_selection_in_the_address_opens_the_same_list(
    app: AppTest,  # noqa: F811
    programme: dict[str, int],
) -> None:
    sign_in(app, "coordination")
    app.query_params.update({"orientation": "training", "voir": "all"})
    visit(app, PAGE)
    assert not app.exception
    assert listed(app) == [f"P-{programme['chloe']:05d} · Chloé"]
    assert app.selectbox(key="pipeline-route").value == "training"
    # A value the board does not know is ignored.
    other = AppTest.from_file(APP_FILE, default_timeout=30).run()  # another browser tab
    sign_in(other, "coordination")
    other.query_params.update({"etape": "nowhere", "voir": "late"})
    visit(other, PAGE)
    assert not other.exception
    assert len(listed(other)) == 4
    # A step of the rules nobody is on: its empty list, not everyone.
    third = AppTest.from_file(APP_FILE, default_timeout=30).run()
    sign_in(third, "coordination")
    third.query_params.update({"etape": "job_search"})
    visit(third, PAGE)
    assert not third.exception
    assert third.selectbox(key="pipeline-step").value == "job_search"
    assert listed(third) == []
    assert messages(third, "info") == ["Aucun parcours en cours ne correspond à cette sélection."]


def test_the_board_links_the_pathways_the_engine_could_not_heal(
    app: AppTest,  # noqa: F811
    programme: dict[str, int],
    session: Session,
) -> None:
    make_stuck(session, programme["bruno_run"])
    visit(sign_in(app, "coordination"), PAGE)
    assert not app.exception
    assert metric(app, "Non relancés") == "1"


def page_as(runtime: Runtime, session: Session, username: str, page_file: Path) -> AppTest:
    """Run a page file by itself as a signed-in user: what opening it by its address does."""
    page = AppTest.from_file(page_file, default_timeout=30)
    page.session_state["_crealux_context"] = Context(
        runtime=runtime, user=get_user(session=session, username=username)
    )
    return page.run()


@pytest.mark.parametrize("username", ["conseillere", "challenge"])
def test_only_the_coordination_opens_the_pilotage_page(
    app: AppTest,  # noqa: F811
    runtime: Runtime,
    session: Session,
    programme: dict[str, int],
    username: str,
) -> None:
    sign_in(app, username)
    with pytest.raises(ValueError, match="navigation page"):
        app.switch_page(PAGE)  # the navigation does not offer it

    page = page_as(runtime, session, username, PAGE_FILE)  # opened by its address all the same
    assert not page.exception
    assert messages(page, "error") == ["Cette page est réservée à la coordination."]
    assert not page.metric
    assert not page.button
    assert "Bruno" not in shown(page)
