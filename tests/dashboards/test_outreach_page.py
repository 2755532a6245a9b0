"""« Sensibilisation » driven through Streamlit's AppTest against a real, migrated database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from crealux_core.models import (
    OutreachAction,
    OutreachCategory,
    StructureKind,
    StructureSensitisation,
)
from crealux_core.runtime import Runtime
from crealux_core.services.outreach import record_outreach
from crealux_core.services.users import get_user
from dashboards.context import Context
from tests.conftest import T0
from tests.dashboards.conftest import APP_FILE
from tests.dashboards.test_app import (  # noqa: F401  (fixtures)
    TIMEOUT,
    app,
    button,
    fixed_clock,
    messages,
    shown,
    sign_in,
    visit,
)

PAGE = "views/outreach.py"
PAGE_FILE = APP_FILE.parent / "views" / "outreach.py"
REQUIRED = "Ce champ est obligatoire."


def outreach_page(at: AppTest, username: str) -> AppTest:
    visit(sign_in(at, username), PAGE)
    assert not at.exception, at.exception
    return at


def form_key(at: AppTest, form: str) -> str:
    return f"{form}-{at.session_state[f'outreach-token-{form}']}"


def fill_action(at: AppTest, **values: object) -> None:
    prefix = form_key(at, "action")
    for name, value in values.items():
        for kind in ("date_input", "text_input", "number_input", "selectbox", "text_area"):
            found = [w for w in at.get(kind) if getattr(w, "key", None) == f"{prefix}-{name}"]
            if found:
                found[0].set_value(value)
                break
        else:
            raise AssertionError(f"no widget for {name}")


def submit(at: AppTest, label: str) -> AppTest:
    return button(at, label).click().run()


def actions(session: Session) -> list[OutreachAction]:
    session.expire_all()
    return list(session.exec(select(OutreachAction).order_by(col(OutreachAction.id))).all())


def test_an_advisor_records_an_information_session(app: AppTest, session: Session) -> None:  # noqa: F811
    outreach_page(app, "conseillere")
    assert [tab.label for tab in app.tabs] == [
        "Enregistrer une action",
        "Enregistrer une structure",
        "Ce qui est enregistré",
    ]
    assert app.radio(key="outreach-category").options == [
        "Sensibilisation de candidats",
        "Information sur la formation",
        "Atelier de prospective",
    ]
    fill_action(
        app,
        held_on=date(2026, 10, 15),
        title="Séance d'information à Marche",
        municipality="Marche-en-Famenne",
        people_reached=24,
        became_candidates=5,
    )
    submit(app, "Enregistrer l'action")
    assert not app.exception, app.exception
    assert messages(app, "success") == [
        "Action enregistrée : Séance d'information à Marche (15/10/2026), 24 personnes touchées."
    ]
    [row] = actions(session)
    assert (row.category, row.people_reached, row.became_candidates) == (
        OutreachCategory.CANDIDATES,
        24,
        5,
    )
    assert row.organiser_id == get_user(session=session, username="conseillere").organisation_id
    assert row.source_key is not None and row.source_key.startswith("form:")
    # A new, empty form for the next action.
    assert app.text_input(key=f"{form_key(app, 'action')}-title").value == ""
    page = shown(app)
    table = app.dataframe[0].value
    assert list(table["Intitulé ou thème"]) == ["Séance d'information à Marche"]
    assert list(table["Enregistré ou corrigé par"]) == ["Claire Lambert, 02/11/2026 10:15"]
    assert "Candidats potentiels sensibilisés" in str([m.label for m in app.metric])
    assert [m.value for m in app.metric][:2] == ["24", "5"]
    assert "1 action(s) sur la période." in page


def test_each_refused_field_is_said_under_it_and_nothing_is_saved(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    outreach_page(app, "conseillere")
    fill_action(app, title="Salon", people_reached=3, became_candidates=5)
    submit(app, "Enregistrer l'action")
    assert not app.exception, app.exception
    errors = messages(app, "error")
    assert errors[0] == "Rien n'a été enregistré : corrigez les champs signalés."
    assert sorted(errors[1:]) == sorted(
        [REQUIRED, "Pas plus de candidats que de personnes touchées."]
    )
    assert actions(session) == []
    # What was typed stays, to be corrected.
    assert app.text_input(key=f"{form_key(app, 'action')}-title").value == "Salon"
    fill_action(app, held_on=date(2026, 10, 1), became_candidates=2)
    submit(app, "Enregistrer l'action")
    assert [row.title for row in actions(session)] == ["Salon"]


def test_a_second_submit_of_the_same_form_is_saved_once(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    outreach_page(app, "conseillere")
    first_token = app.session_state["outreach-token-action"]
    values = {"held_on": date(2026, 10, 15), "title": "Salon du créateur", "people_reached": 40}
    fill_action(app, **values)
    submit(app, "Enregistrer l'action")
    assert len(actions(session)) == 1
    # The second click of a double click carries the form the user saw (the same token).
    app.session_state["outreach-token-action"] = first_token
    app.run()
    fill_action(app, **values)
    submit(app, "Enregistrer l'action")
    assert not app.exception, app.exception
    [said] = [text for text in messages(app, "info") if text.startswith("Cette action")]
    assert said.startswith("Cette action était déjà enregistrée par Claire Lambert le 02/11/2026")
    assert said.endswith(": rien n'a été ajouté.")
    assert len(actions(session)) == 1
    assert app.session_state["outreach-token-action"] != first_token


def test_a_prospective_workshop_asks_for_its_theme_participants_and_outputs(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    outreach_page(app, "coordination")
    app.radio(key="outreach-category").set_value(OutreachCategory.PROSPECTIVE).run()
    prefix = form_key(app, "action")
    assert app.text_input(key=f"{prefix}-title").label == "Thème de l'atelier"
    assert app.number_input(key=f"{prefix}-people_reached").label == "Participants"
    assert app.text_area(key=f"{prefix}-outputs").label == "Productions de l'atelier"
    assert app.selectbox(key=f"{prefix}-kind").value == "workshop"
    fill_action(
        app,
        held_on=date(2026, 10, 20),
        title="L'artisanat en Famenne en 2030",
        people_reached=12,
        outputs="Trois pistes : circuits courts, ateliers partagés, transmission.",
    )
    submit(app, "Enregistrer l'action")
    assert not app.exception, app.exception
    [row] = actions(session)
    assert (row.category, row.people_reached) == (OutreachCategory.PROSPECTIVE, 12)
    assert row.outputs and row.outputs.startswith("Trois pistes")
    assert [m.value for m in app.metric][-1] == "1"  # workshops held


def test_a_structure_sensitised_twice_counts_once(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    outreach_page(app, "conseillere")
    for name, day in (
        ("CPAS de Durbuy", date(2026, 9, 1)),
        (" cpas  de DURBUY ", date(2026, 10, 1)),
    ):
        prefix = form_key(app, "structure")
        app.text_input(key=f"{prefix}-name").set_value(name)
        app.radio(key=f"{prefix}-kind").set_value(StructureKind.FIRST_LINE)
        app.date_input(key=f"{prefix}-sensitised_on").set_value(day)
        submit(app, "Enregistrer la structure")
        assert not app.exception, app.exception
        assert messages(app, "success")[0].startswith("Structure enregistrée")
    session.expire_all()
    keys = session.exec(select(StructureSensitisation.structure_key)).all()
    assert keys == ["cpas de durbuy", "cpas de durbuy"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Structures de 1ère ligne"] == "1"
    table = app.dataframe[-1].value
    assert list(table["Fois en tout"]) == [2, 2]

    submit(app, "Enregistrer la structure")  # empty
    assert sorted(messages(app, "error")[1:]) == [REQUIRED, REQUIRED, REQUIRED]
    assert len(session.exec(select(StructureSensitisation)).all()) == 2


def test_who_recorded_an_action_corrects_it_and_the_table_says_who_and_when(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    advisor = get_user(session=session, username="conseillere")
    row = record_outreach(
        session=session,
        user=advisor,
        data={
            "category": "training",
            "kind": "information_session",
            "held_on": "2026-10-05",
            "title": "Les formations qualifiantes",
            "organiser": "promotion-sociale-marche",
            "people_reached": 15,
        },
        now=T0,
    )
    outreach_page(app, "coordination")
    app.selectbox(key="outreach-change-action").set_value(row.id).run()
    prefix = f"change-action-{row.id}"
    assert app.number_input(key=f"{prefix}-people_reached").value == 15
    app.number_input(key=f"{prefix}-people_reached").set_value(18)
    submit(app, "Enregistrer la correction")
    assert not app.exception, app.exception
    assert "Action corrigée." in messages(app, "success")
    session.expire_all()
    corrected = session.get(OutreachAction, row.id)
    assert corrected is not None and corrected.people_reached == 18
    table = app.dataframe[0].value
    assert list(table["Enregistré ou corrigé par"]) == ["Anne Coordination, 02/11/2026 10:15"]

    app.selectbox(key="outreach-change-action").set_value(row.id).run()
    submit(app, "Supprimer l'action")
    assert "Action supprimée." in messages(app, "success")
    assert actions(session) == []


@pytest.mark.parametrize("username", ["challenge", "promsoc"])
def test_partners_do_not_get_the_page(
    app: AppTest,  # noqa: F811
    runtime: Runtime,
    session: Session,
    username: str,
) -> None:
    sign_in(app, username)
    with pytest.raises(ValueError, match="navigation page"):
        app.switch_page(PAGE)
    page = AppTest.from_file(PAGE_FILE, default_timeout=TIMEOUT)
    page.session_state["_crealux_context"] = Context(
        runtime=runtime, user=get_user(session=session, username=username)
    )
    page.run()
    assert not page.exception
    assert messages(page, "error") == [
        "Cette page est réservée à l'accompagnement et à la coordination."
    ]
    assert not page.button


# --- hours of support, on the participant's page ----------------------------------------------


def support_panel(participant_id: int) -> None:
    """A page that shows the panel, as the participant page embeds it."""
    from dashboards import context, support_hours

    context.show_flashes()
    support_hours.render(context.current(), participant_id)


def panel(runtime: Runtime, session: Session, username: str, participant_id: int) -> AppTest:
    at = AppTest.from_function(support_panel, args=(participant_id,), default_timeout=TIMEOUT)
    at.session_state["_crealux_context"] = Context(
        runtime=runtime, user=get_user(session=session, username=username)
    )
    return at.run()


def test_the_participant_page_shows_and_corrects_hours_of_support(
    runtime: Runtime,
    session: Session,
    enroll,
) -> None:
    participant_id = enroll().participant_id
    at = panel(runtime, session, "conseillere", participant_id)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["Type"]) == ["Entretiens", "Séances d'information", "Formation"]
    assert list(table["Total"]) == ["0 h", "0 h", "0 h"]

    prefix = f"support-{participant_id}"
    at.number_input(key=f"{prefix}-hours").set_value(1.5)
    button(at, "Corriger les heures").click().run()
    assert messages(at, "error") == [
        "Rien n'a été enregistré : corrigez les champs signalés.",
        "Dites pourquoi vous corrigez : la raison est gardée avec la correction.",
    ]
    at.text_input(key=f"{prefix}-reason").set_value("Entretien téléphonique non encodé")
    button(at, "Corriger les heures").click().run()
    assert not at.exception, at.exception
    assert messages(at, "success") == ["Correction enregistrée : +1,5 h (Entretiens)."]
    assert list(at.dataframe[0].value["Total"]) == ["1,5 h", "0 h", "0 h"]
    corrections = at.dataframe[1].value
    assert list(corrections["Raison"]) == ["Entretien téléphonique non encodé"]
    assert list(corrections["Par"]) == ["Claire Lambert"]
    assert at.text_input(key=f"{prefix}-reason").value == ""

    other = panel(runtime, session, "conseiller", participant_id)
    assert not other.dataframe and not other.button
    assert messages(other, "info")[0].startswith("Les heures d'accompagnement sont visibles")
