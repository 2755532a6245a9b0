"""The form generator reads every step of the real rules, and refusals read in French."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, ValidationError
from streamlit.testing.v1 import AppTest

from crealux_core.rules import Rules, outcome_model
from crealux_core.rules.forms import NOTE_MAX_CHARS, check_note, validate_outcome
from crealux_core.rules.specs import FieldSpec, FieldType, StepSpec
from dashboards.display import outcome_lines
from dashboards.forms import (
    COMPANY_NUMBER_CHECK,
    COMPANY_NUMBER_EXPECTED,
    COMPANY_NUMBER_FORMAT,
    FieldKind,
    answers,
    describe,
    french,
    pydantic_errors,
)

ENROLLED_ON = date(2026, 11, 2)
TODAY = date(2026, 11, 29)


def all_steps(rules: Rules) -> list[StepSpec]:
    return [step for pathway in rules.pathways.values() for step in pathway.steps.values()]


def test_every_field_of_every_step_gets_a_widget_as_the_rules_define_it(rules: Rules) -> None:
    steps = all_steps(rules)
    assert len(steps) >= 7
    kinds = {spec.type for step in steps for spec in step.form.values()}
    assert kinds == set(FieldType), "every field type is read from the real rules"
    for step in steps:
        questions = describe(outcome_model(step), step)
        assert [q.name for q in questions] == list(step.form), step.key
        for question in questions:
            spec = step.form[question.name]
            assert question.kind.value == spec.type.value
            assert question.label == spec.label
            assert question.required is spec.required
            assert (question.minimum, question.maximum) == (spec.min, spec.max)
            if spec.type is FieldType.CHOICE:
                assert question.choices == spec.choices
            if spec.type is FieldType.BOOL:
                assert question.choices == {True: "Oui", False: "Non"}


def test_an_optional_number_keeps_its_bounds() -> None:
    step = StepSpec(
        key="check",
        title="Point",
        concerns="integra-plus",
        due="P7D",
        form={"hours": FieldSpec(type=FieldType.INT, label="Heures", required=False, min=1, max=9)},
    )
    [question] = describe(outcome_model(step))
    assert (question.kind, question.required, question.minimum, question.maximum) == (
        FieldKind.INT,
        False,
        1,
        9,
    )


def test_a_scale_reads_as_a_number_when_the_step_is_not_given(rules: Rules) -> None:
    step = rules.pathway().step("self_evaluation_entry")
    confidence = describe(outcome_model(step))[0]
    assert (confidence.kind, confidence.minimum, confidence.maximum) == (FieldKind.INT, 1, 5)
    assert describe(outcome_model(step), step)[0].kind is FieldKind.SCALE


def test_a_field_without_a_widget_is_an_error_not_a_silent_gap() -> None:
    class Odd(BaseModel):
        ratio: float

    with pytest.raises(TypeError, match="ratio"):
        describe(Odd)


def test_unanswered_questions_are_left_out_so_the_service_can_refuse_them() -> None:
    assert answers({"a": None, "b": False, "c": 0, "d": "x"}) == {"b": False, "c": 0, "d": "x"}


def test_refusals_of_the_real_outcome_models_read_in_french(rules: Rules) -> None:
    step = rules.pathway().step("social_accompaniment")
    with pytest.raises(ValidationError) as caught:
        validate_outcome(
            step,
            {"barriers_lifted": "yes", "sessions": 500},
            enrolled_on=ENROLLED_ON,
            today=TODAY,
        )
    assert pydantic_errors(caught.value) == {
        "barriers_lifted": "Répondez par oui ou non.",
        "sessions": "La valeur doit être comprise entre 0 et 200.",
    }
    step = rules.pathway().step("first_reception")
    with pytest.raises(ValidationError) as caught:
        validate_outcome(
            step,
            {"meeting_on": "2020-01-01", "referred_by": "voisin", "extra": 1},
            enrolled_on=ENROLLED_ON,
            today=TODAY,
        )
    assert pydantic_errors(caught.value) == {
        "meeting_on": "La date doit être comprise entre le 02/11/2025 et le 29/11/2027.",
        "consent_given": "Ce champ est obligatoire.",
        "referred_by": "Choisissez une valeur de la liste.",
        "expectation": "Ce champ est obligatoire.",
        "extra": "Ce champ n'est pas prévu dans ce formulaire.",
    }


@pytest.mark.parametrize(
    ("english", "in_french"),
    [
        ("Field required", "Ce champ est obligatoire."),
        ("unknown field", "Ce champ n'est pas prévu dans ce formulaire."),
        ("expected true or false", "Répondez par oui ou non."),
        ("expected a whole number", "Un nombre entier est attendu."),
        ("value should be between 0 and 200", "La valeur doit être comprise entre 0 et 200."),
        ("value should be at least -5", "La valeur doit être supérieure ou égale à -5."),
        ("value should be at most 9", "La valeur doit être inférieure ou égale à 9."),
        ("expected a date written YYYY-MM-DD", "Date invalide (JJ/MM/AAAA)."),
        (
            "date should be between 2025-11-02 and 2027-11-29",
            "La date doit être comprise entre le 02/11/2025 et le 29/11/2027.",
        ),
        ("Input should be 'creation' or 'exit'", "Choisissez une valeur de la liste."),
        (
            "Input should be less than or equal to 2100",
            "La valeur doit être inférieure ou égale à 2100.",
        ),
        ("String should have at least 1 character", "Ce champ est obligatoire."),
        ("expected a company number", COMPANY_NUMBER_EXPECTED),
        ("expected 10 digits starting with 0 or 1 (0123.456.749)", COMPANY_NUMBER_FORMAT),
        ("the check digits do not match (modulo 97): a typing error?", COMPANY_NUMBER_CHECK),
        ("String should have at most 100 characters", "100 caractères au maximum."),
        (
            f"note too long: at most {NOTE_MAX_CHARS} characters, got 6000",
            f"La note est trop longue : {NOTE_MAX_CHARS} caractères au maximum.",
        ),
    ],
)
def test_a_message_from_a_service_reads_in_french(english: str, in_french: str) -> None:
    assert french(english) == in_french


def test_a_message_that_is_not_known_is_shown_as_it_is_rather_than_guessed() -> None:
    assert french("something new") == "something new"
    assert french("Field required, and more") == "Field required, and more"
    assert (
        french("value should be between 0 and 200 hours")
        == "value should be between 0 and 200 hours"
    )


def test_only_an_unanswered_question_reads_as_required() -> None:
    step = StepSpec(
        key="check",
        title="Point",
        concerns="integra-plus",
        due="P7D",
        form={
            "done": FieldSpec(type=FieldType.BOOL, label="Fait"),
            "hours": FieldSpec(type=FieldType.INT, label="Heures", min=1, max=9),
            "on": FieldSpec(type=FieldType.DATE, label="Le"),
            "left": FieldSpec(type=FieldType.BOOL, label="Parti"),
        },
    )
    with pytest.raises(ValidationError) as caught:
        validate_outcome(
            step,
            {"done": 1, "hours": 10, "on": "29/11/2026", "left": None},
            enrolled_on=ENROLLED_ON,
            today=TODAY,
        )
    assert pydantic_errors(caught.value) == {
        "done": "Répondez par oui ou non.",
        "hours": "La valeur doit être comprise entre 1 et 9.",
        "on": "Date invalide (JJ/MM/AAAA).",
        "left": "Ce champ est obligatoire.",
    }


@pytest.mark.parametrize(
    ("written", "in_french"),
    [
        (123456749, COMPANY_NUMBER_EXPECTED),
        ("0123.456", COMPANY_NUMBER_FORMAT),
        ("2123.456.749", COMPANY_NUMBER_FORMAT),
        ("0123.456.748", COMPANY_NUMBER_CHECK),
    ],
)
def test_a_refused_company_number_says_why_in_french(
    rules: Rules, written: object, in_french: str
) -> None:
    step = rules.pathway().step("business_creation")
    with pytest.raises(ValidationError) as caught:
        validate_outcome(
            step,
            {
                "status": "principal",
                "started_on": "2026-11-20",
                "joined_village": True,
                "business_plan_ready": True,
                "sector": "crafts",
                "company_number": written,
            },
            enrolled_on=ENROLLED_ON,
            today=TODAY,
        )
    assert pydantic_errors(caught.value) == {"company_number": in_french}


def test_company_number_messages_are_not_taken_for_one_another() -> None:
    messages = {COMPANY_NUMBER_EXPECTED, COMPANY_NUMBER_FORMAT, COMPANY_NUMBER_CHECK}
    assert len(messages) == 3
    assert french("expected a company number, or not") == "expected a company number, or not"


def test_a_note_too_long_reads_in_french() -> None:
    with pytest.raises(ValueError) as caught:
        check_note("x" * (NOTE_MAX_CHARS + 1))
    assert french(str(caught.value)) == (
        f"La note est trop longue : {NOTE_MAX_CHARS} caractères au maximum."
    )


def ask_sessions() -> None:
    import streamlit as st

    from dashboards.forms import FieldKind, FormField, render_field

    question = FormField(
        name="sessions",
        kind=FieldKind.INT,
        label="Entretiens",
        help=None,
        required=True,
        minimum=0,
        maximum=200,
    )
    st.session_state["answer"] = render_field(question, key="sessions")


def test_a_number_out_of_bounds_reaches_the_service_rather_than_reading_as_unanswered() -> None:
    app = AppTest.from_function(ask_sessions).run()
    number = app.number_input(key="sessions")
    assert number.placeholder == "De 0 à 200"
    number.set_value(500).run()
    assert app.session_state["answer"] == 500


def rate_confidence() -> None:
    import streamlit as st

    from dashboards.forms import FieldKind, FormField, render_field

    question = FormField(
        name="confidence",
        kind=FieldKind.SCALE,
        label="Confiance en moi",
        help="1 = pas du tout, 5 = tout à fait",
        required=True,
        minimum=1,
        maximum=5,
    )
    with st.form("rating"):
        st.session_state["answer"] = render_field(question, key="confidence")
        st.form_submit_button("Enregistrer")


def test_a_scale_shows_its_points_side_by_side_and_none_is_chosen_for_the_participant() -> None:
    app = AppTest.from_function(rate_confidence).run()
    assert not app.exception
    [scale] = app.segmented_control
    assert scale.label == "Confiance en moi"
    assert scale.options == ["1", "2", "3", "4", "5"]
    assert scale.value is None
    assert app.session_state["answer"] is None
    scale.set_value(4)
    app.button[0].click().run()
    assert app.session_state["answer"] == 4


def ask_company_number() -> None:
    import streamlit as st

    from dashboards.forms import FieldKind, FormField, render_field

    question = FormField(
        name="company_number",
        kind=FieldKind.COMPANY_NUMBER,
        label="Numéro d'entreprise (BCE)",
        help="10 chiffres",
        required=False,
    )
    st.session_state["answer"] = render_field(question, key="company_number")


def test_a_company_number_is_typed_as_the_participant_has_it_and_an_empty_box_is_no_answer() -> (
    None
):
    app = AppTest.from_function(ask_company_number).run()
    box = app.text_input(key="company_number")
    assert box.placeholder == "0123.456.749"
    assert box.label == "Numéro d'entreprise (BCE) (facultatif)"
    assert app.session_state["answer"] is None
    box.input(" BE 0123 456 749 ").run()
    assert app.session_state["answer"] == "BE 0123 456 749"
    box.input("   ").run()
    assert app.session_state["answer"] is None


def test_an_outcome_reads_with_the_labels_of_its_step(rules: Rules) -> None:
    step = rules.pathway().step("business_creation")
    lines = outcome_lines(
        step,
        {"status": "principal", "started_on": "2027-01-04", "joined_village": True, "old": 3},
    )
    assert [(line.label, line.value) for line in lines] == [
        ("A suivi le Village des créateurs", "Oui"),
        ("Statut", "Indépendant à titre principal"),
        ("Date de début d'activité", "04/01/2027"),
        ("old", "3"),  # a field the rules no longer define is still shown
    ]
