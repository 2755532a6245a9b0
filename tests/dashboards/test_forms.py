"""The form generator reads every step of the real rules, and refusals read in French."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from crealux_core.rules import Rules, outcome_model
from crealux_core.rules.specs import FieldSpec, FieldType, StepSpec
from dashboards.display import outcome_lines
from dashboards.forms import FieldKind, answers, describe, french, pydantic_errors


def all_steps(rules: Rules) -> list[StepSpec]:
    return [step for pathway in rules.pathways.values() for step in pathway.steps.values()]


def test_every_field_of_every_step_gets_a_widget_as_the_rules_define_it(rules: Rules) -> None:
    steps = all_steps(rules)
    assert len(steps) >= 7
    for step in steps:
        questions = describe(outcome_model(step))
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


def test_a_field_without_a_widget_is_an_error_not_a_silent_gap() -> None:
    class Odd(BaseModel):
        ratio: float

    with pytest.raises(TypeError, match="ratio"):
        describe(Odd)


def test_unanswered_questions_are_left_out_so_the_service_can_refuse_them() -> None:
    assert answers({"a": None, "b": False, "c": 0, "d": "x"}) == {"b": False, "c": 0, "d": "x"}


def test_refusals_of_the_real_outcome_models_read_in_french(rules: Rules) -> None:
    model = outcome_model(rules.pathway().step("social_accompaniment"))
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"barriers_lifted": "peut-être", "sessions": 500})
    assert pydantic_errors(caught.value) == {
        "barriers_lifted": "Répondez par Oui ou Non.",
        "sessions": "Au plus 200.",
    }
    model = outcome_model(rules.pathway().step("first_reception"))
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"meeting_on": "hier", "referred_by": "voisin"})
    assert pydantic_errors(caught.value) == {
        "meeting_on": "Date invalide (JJ/MM/AAAA).",
        "consent_given": "Ce champ est obligatoire.",
        "referred_by": "Choisissez une valeur de la liste.",
        "expectation": "Ce champ est obligatoire.",
    }
    assert french("unknown field") == "Ce champ n'est pas prévu dans ce formulaire."
    assert french("something new") == "something new"


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
