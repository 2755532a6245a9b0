"""Each rule of the shipped orientation advice advises what it says; the first that holds wins."""

from __future__ import annotations

from typing import Any

import pytest

from crealux_core.domain.orientation import Advice, advise
from crealux_core.rules import Rules
from crealux_core.rules.specs import OrientationSpec


@pytest.fixture(scope="module")
def spec(rules: Rules) -> OrientationSpec:
    found = rules.orientation_for("crealux", rules.pathway("crealux").version)
    assert found is not None
    return found


def answers(**changes: Any) -> dict[str, dict[str, Any]]:
    """Return the answers of a participant who fits no rule, with `changes` made."""
    reception: dict[str, Any] = {
        "meeting_on": "2026-11-03",
        "consent_given": True,
        "referred_by": "forem",
        "expectation": "undecided",
    }
    assessment: dict[str, Any] = {
        "assessed_on": "2026-11-17",
        "labour_status": "unemployed",
        "education_level": "isced_3_4",
        "has_qualification": True,
        "barrier_housing": False,
        "barrier_health": False,
        "barrier_mobility": False,
        "barrier_childcare": False,
        "barrier_debt": False,
        "project_maturity": "idea",
    }
    for name, value in changes.items():
        (reception if name in reception else assessment)[name] = value
    return {"first_reception": reception, "socio_professional_assessment": assessment}


def test_an_undecided_participant_with_an_idea_and_no_barrier_gets_no_advice(
    spec: OrientationSpec,
) -> None:
    assert advise(spec, answers()) is None


@pytest.mark.parametrize("barrier", ["barrier_housing", "barrier_health", "barrier_debt"])
def test_a_major_barrier_advises_social_accompaniment_first(
    spec: OrientationSpec, barrier: str
) -> None:
    advice = advise(spec, answers(**{barrier: True}, expectation="creation"))
    assert isinstance(advice, Advice)
    assert (advice.route, advice.rule_key, advice.route_label) == (
        "social",
        "barriers_first",
        "Accompagnement social d'abord",
    )
    assert advice.reason.startswith("Des freins importants (logement, santé ou dettes)")


@pytest.mark.parametrize("barrier", ["barrier_mobility", "barrier_childcare"])
def test_mobility_and_childcare_are_worked_on_alongside_and_do_not_decide(
    spec: OrientationSpec, barrier: str
) -> None:
    advice = advise(spec, answers(**{barrier: True}, expectation="employment"))
    assert advice is not None and advice.route == "employment"


@pytest.mark.parametrize("maturity", ["outline", "ready"])
def test_a_shaped_creation_project_advises_creation(spec: OrientationSpec, maturity: str) -> None:
    advice = advise(spec, answers(expectation="creation", project_maturity=maturity))
    assert advice is not None
    assert (advice.route, advice.rule_key) == ("creation", "creation_project_shaped")
    assert advice.route_label == "Création d'activité (Village des créateurs)"


@pytest.mark.parametrize("maturity", ["none", "idea"])
def test_a_wish_to_create_on_a_mere_idea_is_left_to_the_advisor(
    spec: OrientationSpec, maturity: str
) -> None:
    assert advise(spec, answers(expectation="creation", project_maturity=maturity)) is None


def test_no_qualification_and_little_schooling_advise_training_over_a_wish_for_a_job(
    spec: OrientationSpec,
) -> None:
    advice = advise(
        spec,
        answers(expectation="employment", has_qualification=False, education_level="isced_0_2"),
    )
    assert advice is not None
    assert (advice.route, advice.rule_key) == ("training", "qualification_first")


def test_a_qualification_or_more_schooling_leaves_the_wish_for_a_job(
    spec: OrientationSpec,
) -> None:
    for changes in ({"has_qualification": True}, {"education_level": "isced_3_4"}):
        advice = advise(
            spec,
            answers(
                **{"has_qualification": False, "education_level": "isced_0_2", **changes},
                expectation="employment",
            ),
        )
        assert advice is not None
        assert (advice.route, advice.rule_key) == ("employment", "wants_employment")


def test_a_wish_to_train_advises_training(spec: OrientationSpec) -> None:
    advice = advise(spec, answers(expectation="training"))
    assert advice is not None
    assert (advice.route, advice.rule_key, advice.route_label) == (
        "training",
        "wants_training",
        "Formation",
    )


def test_the_first_rule_that_holds_wins(spec: OrientationSpec) -> None:
    shaped = {"expectation": "creation", "project_maturity": "ready"}
    low = {"has_qualification": False, "education_level": "isced_0_2"}
    advice = advise(spec, answers(**shaped, **low, barrier_debt=True))
    assert advice is not None and advice.rule_key == "barriers_first"
    advice = advise(spec, answers(**shaped, **low))
    assert advice is not None and advice.rule_key == "creation_project_shaped"


def test_a_rule_that_needs_an_answer_not_given_does_not_hold(spec: OrientationSpec) -> None:
    given = answers(expectation="employment", education_level="isced_0_2")
    del given["socio_professional_assessment"]["has_qualification"]
    advice = advise(spec, given)
    assert advice is not None and advice.rule_key == "wants_employment"
    assert advise(spec, {"first_reception": answers()["first_reception"]}) is None
    assert advise(spec, {}) is None


def test_answers_of_other_steps_and_unknown_fields_are_not_read(spec: OrientationSpec) -> None:
    given = answers()
    given["orientation"] = {"expectation": "training"}
    given["socio_professional_assessment"]["old_question"] = "x"
    assert advise(spec, given) is None


def test_an_answer_of_the_wrong_type_does_not_hold_rather_than_fail(
    spec: OrientationSpec,
) -> None:
    advice = advise(spec, answers(barrier_debt="yes", expectation="training"))
    assert advice is not None and advice.rule_key == "wants_training"
