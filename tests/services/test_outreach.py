"""Outreach actions and structures sensitised, through the services, on a migrated database."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from crealux_core.models import (
    Organisation,
    OutreachAction,
    OutreachCategory,
    OutreachKind,
    StructureKind,
    StructureSensitisation,
)
from crealux_core.services.errors import AlreadyDone, Forbidden, InvalidInput, NotFound
from crealux_core.services.outreach import (
    AlreadyRecorded,
    OutreachCreate,
    correct_outreach,
    correct_structure,
    delete_outreach,
    delete_structure,
    list_outreach,
    list_structures,
    outreach_input,
    outreach_summary,
    record_outreach,
    record_structure,
    structure_key,
)
from crealux_core.services.users import get_user
from tests.conftest import T0

TODAY = T0.date()  # 2 November 2026
LATER = T0 + timedelta(hours=2)


def action(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": "candidates",
        "kind": "information_session",
        "held_on": "2026-10-15",
        "title": "Séance d'information à Marche",
        "organiser": "integra-plus",
        "municipality": "Marche-en-Famenne",
        "people_reached": 24,
        "became_candidates": 5,
        "hours": 2.5,
    }
    return {**data, **changes}


def structure(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "CPAS de Durbuy",
        "kind": "first_line",
        "sensitised_on": "2026-10-20",
        "by_organisation": "integra-plus",
        "municipality": "Durbuy",
    }
    return {**data, **changes}


def refused(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        call(**kwargs)
    return caught.value.field_errors


def test_an_advisor_records_an_action_and_finds_it_in_the_list(session: Session) -> None:
    advisor = get_user(session=session, username="conseillere")
    row = record_outreach(session=session, user=advisor, data=action(), now=T0)

    assert row.id is not None
    assert (row.category, row.kind, row.held_on) == (
        OutreachCategory.CANDIDATES,
        OutreachKind.INFORMATION_SESSION,
        date(2026, 10, 15),
    )
    assert (row.people_reached, row.became_candidates, row.hours) == (24, 5, 2.5)
    assert (row.recorded_by, row.recorded_at) == (advisor.id, T0)
    page = list_outreach(session=session, user=advisor)
    assert page.total == 1
    [view] = page.rows
    assert view.organiser_key == "integra-plus" and view.organiser_name == "Integra Plus"
    assert view.category_label == "Sensibilisation de candidats"
    assert view.kind_label == "Séance d'information"
    assert view.recorded_by == "Claire Lambert"


def test_an_organiser_may_be_named_by_its_id_and_the_model_is_accepted_as_it_is(
    session: Session,
) -> None:
    coordinator = get_user(session=session, username="coordination")
    challenge = session.exec(select(Organisation).where(Organisation.key == "challenge")).one()
    data = OutreachCreate.model_validate(
        action(organiser=str(challenge.id), category="training", became_candidates=None)
    )
    row = record_outreach(session=session, user=coordinator, data=data, now=T0)
    assert row.organiser_id == challenge.id
    assert row.category is OutreachCategory.TRAINING and row.became_candidates == 0


def test_a_prospective_workshop_keeps_its_theme_participants_and_outputs(
    session: Session,
) -> None:
    advisor = get_user(session=session, username="conseillere")
    record_outreach(
        session=session,
        user=advisor,
        data=action(
            category="prospective",
            kind="workshop",
            title="L'artisanat en Famenne en 2030",
            people_reached=12,
            became_candidates=0,
            outputs="Trois pistes : circuits courts, ateliers partagés, transmission.",
        ),
        now=T0,
    )
    [view] = list_outreach(session=session, user=advisor, category="prospective").rows
    assert view.title == "L'artisanat en Famenne en 2030"
    assert view.people_reached == 12
    assert view.outputs and view.outputs.startswith("Trois pistes")


def test_every_refused_field_is_said_in_french_and_nothing_is_written(session: Session) -> None:
    advisor = get_user(session=session, username="conseillere")
    errors = refused(
        record_outreach,
        session=session,
        user=advisor,
        data=action(
            category="party",
            held_on="2026-11-03",  # tomorrow
            title="  ",
            organiser="nowhere",
            people_reached=-1,
            hours="beaucoup",
        ),
        now=T0,
    )
    assert errors == {
        "category": (
            "Choisissez parmi : candidates (Sensibilisation de candidats), training"
            " (Information sur la formation), prospective (Atelier de prospective)"
        ),
        "held_on": "La date ne peut pas être dans le futur (aujourd'hui : 02/11/2026).",
        "title": "Ce champ est obligatoire.",
        "people_reached": "Un nombre de personnes entre 0 et 1000000.",
        "hours": "Un nombre est attendu.",
        "organiser": "L'organisation « nowhere » n'existe pas.",
    }
    assert session.exec(select(OutreachAction)).all() == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"held_on": "1999-12-31"}, "held_on", "La date doit être le 01/01/2000 ou après."),
        ({"held_on": "15/10/2026"}, "held_on", "Une date est attendue (AAAA-MM-JJ)."),
        (
            {"people_reached": 4, "became_candidates": 5},
            "became_candidates",
            "Pas plus de candidats que de personnes touchées.",
        ),
        ({"became_candidates": -2}, "became_candidates", "Un nombre de personnes entre 0 et"),
        ({"people_reached": 2.5}, "people_reached", "Un nombre entier est attendu."),
        ({"people_reached": None}, "people_reached", "Ce champ est obligatoire."),
        ({"kind": "concert"}, "kind", "Choisissez parmi : information_session"),
        ({"title": "x" * 201}, "title", "Trop long : 201 caractères, 200 au plus."),
        ({"hours": -1}, "hours", "Un nombre d'heures entre 0 et 1000."),
        ({"colour": "blue"}, "colour", "Ce champ n'existe pas."),
    ],
)
def test_one_refused_field(
    session: Session, changes: dict[str, Any], field: str, message: str
) -> None:
    advisor = get_user(session=session, username="conseillere")
    errors = refused(record_outreach, session=session, user=advisor, data=action(**changes), now=T0)
    assert list(errors) == [field]
    assert errors[field].startswith(message)


def test_more_candidates_than_people_reached_is_said_with_the_other_errors(
    session: Session,
) -> None:
    advisor = get_user(session=session, username="conseillere")
    errors = refused(
        record_outreach,
        session=session,
        user=advisor,
        data=action(held_on="", people_reached=3, became_candidates=5),
        now=T0,
    )
    assert errors == {
        "held_on": "Ce champ est obligatoire.",
        "became_candidates": "Pas plus de candidats que de personnes touchées.",
    }


def test_today_is_the_day_in_wallonia(session: Session) -> None:
    """At 23:30 UTC on 2 November it is already the 3rd in Durbuy: an action of the 3rd is fine."""
    advisor = get_user(session=session, username="conseillere")
    late = T0.replace(hour=23, minute=30)
    row = record_outreach(
        session=session, user=advisor, data=action(held_on="2026-11-03"), now=late
    )
    assert row.held_on == date(2026, 11, 3)


def test_outreach_input_checks_a_form_before_the_service(session: Session) -> None:
    with pytest.raises(InvalidInput) as caught:
        outreach_input(action(held_on=""), today=TODAY)
    assert caught.value.field_errors == {"held_on": "Ce champ est obligatoire."}
    assert outreach_input(action(title="  Salon  du créateur "), today=TODAY).title == (
        "Salon du créateur"
    )


def test_partners_neither_record_nor_read_outreach(session: Session) -> None:
    partner = get_user(session=session, username="promsoc")
    with pytest.raises(Forbidden):
        record_outreach(session=session, user=partner, data=action(), now=T0)
    with pytest.raises(Forbidden):
        record_structure(session=session, user=partner, data=structure(), now=T0)
    with pytest.raises(Forbidden):
        list_outreach(session=session, user=partner)
    with pytest.raises(Forbidden):
        list_structures(session=session, user=partner)
    with pytest.raises(Forbidden):
        outreach_summary(session=session, user=partner)
    assert session.exec(select(OutreachAction)).all() == []
    assert session.exec(select(StructureSensitisation)).all() == []


def test_the_same_form_submitted_twice_is_recorded_once(session: Session) -> None:
    advisor = get_user(session=session, username="conseillere")
    first = record_outreach(
        session=session, user=advisor, data=action(source_key="form:abc"), now=T0
    )
    with pytest.raises(AlreadyRecorded) as caught:
        record_outreach(
            session=session, user=advisor, data=action(source_key="form:abc"), now=LATER
        )
    assert isinstance(caught.value, AlreadyDone)
    assert caught.value.row_id == first.id
    assert caught.value.decided_by == "Claire Lambert"
    assert caught.value.decided_at == T0.isoformat()
    assert len(session.exec(select(OutreachAction)).all()) == 1

    record_structure(session=session, user=advisor, data=structure(source_key="form:s1"), now=T0)
    with pytest.raises(AlreadyRecorded):
        record_structure(
            session=session, user=advisor, data=structure(source_key="form:s1"), now=T0
        )
    assert len(session.exec(select(StructureSensitisation)).all()) == 1


def test_a_unique_constraint_refuses_a_second_insert_that_raced_the_check(
    session: Session, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clicks at once: both pass the look-up; the database refuses the second insert."""
    from crealux_core.db import new_session

    advisor = get_user(session=session, username="conseillere")
    with new_session(engine) as other:
        other.add(
            OutreachAction(
                category=OutreachCategory.CANDIDATES,
                kind=OutreachKind.FAIR,
                held_on=TODAY,
                title="Salon",
                organiser_id=advisor.organisation_id,
                people_reached=3,
                recorded_by=advisor.id,
                recorded_at=T0,
                source_key="form:race",
            )
        )
        other.commit()
    from crealux_core.services import outreach as service

    real = service._by_source_key
    calls: list[str | None] = []

    def first_look_misses(session: Session, model: Any, key: str | None) -> Any:
        calls.append(key)
        return None if len(calls) == 1 else real(session, model, key)

    # The look-up ran before the other click's commit landed.
    monkeypatch.setattr(service, "_by_source_key", first_look_misses)
    with pytest.raises(AlreadyRecorded):
        record_outreach(session=session, user=advisor, data=action(source_key="form:race"), now=T0)
    assert len(calls) == 2
    assert len(session.exec(select(OutreachAction)).all()) == 1


def test_a_structure_sensitised_twice_is_two_rows_and_one_structure(session: Session) -> None:
    advisor = get_user(session=session, username="conseillere")
    coordinator = get_user(session=session, username="coordination")
    first = record_structure(session=session, user=advisor, data=structure(), now=T0)
    again = record_structure(
        session=session,
        user=coordinator,
        data=structure(
            name=" cpas  de DURBUY ", sensitised_on="2026-11-02", by_organisation="challenge"
        ),
        now=T0,
    )
    record_structure(
        session=session,
        user=advisor,
        data=structure(name="Forem Marche", kind="professional"),
        now=T0,
    )
    assert first.structure_key == again.structure_key == "cpas de durbuy"
    assert again.structure_name == "cpas de DURBUY"
    assert first.structure_kind is StructureKind.FIRST_LINE
    page = list_structures(session=session, user=advisor)
    assert page.total == 3
    times = {(view.name, view.sensitised_on): view.times_sensitised for view in page.rows}
    assert times == {
        ("cpas de DURBUY", date(2026, 11, 2)): 2,
        ("CPAS de Durbuy", date(2026, 10, 20)): 2,
        ("Forem Marche", date(2026, 10, 20)): 1,
    }
    summary = outreach_summary(session=session, user=advisor)
    assert (summary.first_line_structures, summary.professional_structures) == (1, 1)
    assert list_structures(session=session, user=advisor, kind="professional").total == 1


def test_structure_keys_fold_case_accents_and_blanks() -> None:
    assert structure_key("CPAS de Durbuy") == structure_key(" cpas  de DURBUY ")
    assert structure_key("Maison de l'Emploi d'Érezée") == "maison de l'emploi d'erezee"
    assert structure_key("Straße\tNord") == "strasse nord"
    assert structure_key("CPAS de Durbuy") != structure_key("CPAS de Hotton")


def test_a_structure_is_refused_field_by_field(session: Session) -> None:
    advisor = get_user(session=session, username="conseillere")
    errors = refused(
        record_structure,
        session=session,
        user=advisor,
        data=structure(name=" ", kind="friendly", sensitised_on="2027-01-01", by_organisation=""),
        now=T0,
    )
    assert errors == {
        "name": "Ce champ est obligatoire.",
        "kind": (
            "Choisissez parmi : first_line (Structure de 1ère ligne), professional"
            " (Structure professionnelle)"
        ),
        "sensitised_on": "La date ne peut pas être dans le futur (aujourd'hui : 02/11/2026).",
        "by_organisation": "Ce champ est obligatoire.",
    }


def test_lists_filter_by_period_and_category_a_page_at_a_time(session: Session) -> None:
    advisor = get_user(session=session, username="conseillere")
    for day in range(1, 8):
        record_outreach(
            session=session,
            user=advisor,
            data=action(held_on=f"2026-10-0{day}", title=f"Séance {day}"),
            now=T0,
        )
    record_outreach(
        session=session,
        user=advisor,
        data=action(held_on="2026-10-03", category="training", title="Formation"),
        now=T0,
    )
    page = list_outreach(
        session=session,
        user=advisor,
        start=date(2026, 10, 2),
        end=date(2026, 10, 6),
        category=OutreachCategory.CANDIDATES,
        offset=1,
        limit=2,
    )
    assert page.total == 5
    assert [view.title for view in page.rows] == ["Séance 5", "Séance 4"]
    assert (
        list_outreach(
            session=session, user=advisor, start=date(2026, 10, 3), end=date(2026, 10, 3)
        ).total
        == 2
    )
    assert refused(list_outreach, session=session, user=advisor, category="party") == {
        "category": (
            "Choisissez parmi : candidates (Sensibilisation de candidats), training"
            " (Information sur la formation), prospective (Atelier de prospective)"
        )
    }
    assert refused(
        list_outreach, session=session, user=advisor, start=date(2026, 10, 3), end=date(2026, 10, 1)
    ) == {"end": "La fin de la période précède son début."}
    assert "limit" in refused(list_outreach, session=session, user=advisor, limit=0)


def test_the_summary_counts_as_the_indicators_do(session: Session) -> None:
    advisor = get_user(session=session, username="conseillere")
    for data in (
        action(people_reached=24, became_candidates=5),
        action(people_reached=40, became_candidates=3, kind="fair", title="Salon du créateur"),
        action(people_reached=100, became_candidates=9, held_on="2025-06-01"),  # outside
        action(category="training", people_reached=15, became_candidates=0),
        action(category="prospective", kind="workshop", people_reached=12, became_candidates=0),
        action(category="prospective", kind="workshop", people_reached=8, became_candidates=0),
    ):
        record_outreach(session=session, user=advisor, data=data, now=T0)
    summary = outreach_summary(
        session=session, user=advisor, start=date(2026, 1, 1), end=date(2026, 12, 31)
    )
    assert summary.actions == 5
    assert (summary.candidates_reached, summary.became_candidates) == (64, 8)
    assert summary.training_reached == 15
    assert (summary.workshops_held, summary.workshop_participants) == (2, 20)
    assert outreach_summary(session=session, user=advisor).candidates_reached == 164


def test_who_recorded_it_or_the_coordinator_corrects_it_and_the_row_says_who_and_when(
    session: Session,
) -> None:
    claire = get_user(session=session, username="conseillere")
    marc = get_user(session=session, username="conseiller")
    coordinator = get_user(session=session, username="coordination")
    row = record_outreach(session=session, user=claire, data=action(), now=T0)
    with pytest.raises(Forbidden):
        correct_outreach(
            session=session,
            user=marc,
            action_id=row.id or 0,
            data=action(people_reached=30),
            now=LATER,
        )
    corrected = correct_outreach(
        session=session,
        user=claire,
        action_id=row.id or 0,
        data=action(people_reached=30, became_candidates=6),
        now=LATER,
    )
    assert (corrected.people_reached, corrected.became_candidates) == (30, 6)
    assert refused(
        correct_outreach,
        session=session,
        user=claire,
        action_id=row.id or 0,
        data=action(people_reached=3),
        now=LATER,
    ) == {"became_candidates": "Pas plus de candidats que de personnes touchées."}
    fixed = correct_outreach(
        session=session,
        user=coordinator,
        action_id=row.id or 0,
        data=action(people_reached=31, became_candidates=6),
        now=LATER + timedelta(hours=1),
    )
    assert (fixed.recorded_by, fixed.recorded_at) == (coordinator.id, LATER + timedelta(hours=1))
    [view] = list_outreach(session=session, user=claire).rows
    assert (view.people_reached, view.recorded_by) == (31, "Anne Coordination")
    with pytest.raises(NotFound):
        correct_outreach(
            session=session, user=coordinator, action_id=9999, data=action(), now=LATER
        )


def test_a_deleted_action_or_structure_is_gone(session: Session) -> None:
    claire = get_user(session=session, username="conseillere")
    marc = get_user(session=session, username="conseiller")
    coordinator = get_user(session=session, username="coordination")
    kept = record_outreach(session=session, user=claire, data=action(title="Gardée"), now=T0)
    gone = record_outreach(session=session, user=claire, data=action(title="Supprimée"), now=T0)
    with pytest.raises(Forbidden):
        delete_outreach(session=session, user=marc, action_id=gone.id or 0)
    delete_outreach(session=session, user=claire, action_id=gone.id or 0)
    titles = session.exec(select(OutreachAction.title).order_by(col(OutreachAction.id))).all()
    assert titles == ["Gardée"]
    delete_outreach(session=session, user=coordinator, action_id=kept.id or 0)
    assert session.exec(select(OutreachAction)).all() == []

    place = record_structure(session=session, user=claire, data=structure(), now=T0)
    with pytest.raises(Forbidden):
        delete_structure(session=session, user=marc, structure_id=place.id or 0)
    moved = correct_structure(
        session=session,
        user=coordinator,
        structure_id=place.id or 0,
        data=structure(name="CPAS de Hotton", kind="first_line"),
        now=LATER,
    )
    assert (moved.structure_key, moved.recorded_by) == ("cpas de hotton", coordinator.id)
    # The coordinator wrote it last: the advisor who first recorded it no longer may change it.
    with pytest.raises(Forbidden):
        delete_structure(session=session, user=claire, structure_id=place.id or 0)
    delete_structure(session=session, user=coordinator, structure_id=place.id or 0)
    assert session.exec(select(StructureSensitisation)).all() == []
