from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from crealux_core.domain.pathway import due_at, next_step
from crealux_core.rules import Rules, outcome_model, step_input_model


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("creation", "business_creation"),
        ("training", "training"),
        ("employment", "job_search"),
        ("social", "social_accompaniment"),
        ("exit", None),
    ],
)
def test_orientation_routes_by_its_outcome(rules: Rules, route: str, expected: str | None) -> None:
    pathway = rules.pathway()
    following = next_step(pathway, pathway.step("orientation"), {"route": route})
    assert (following.key if following else None) == expected


def test_first_reception_without_consent_ends_the_pathway(rules: Rules) -> None:
    pathway = rules.pathway()
    step = pathway.step("first_reception")
    assert next_step(pathway, step, {"consent_given": False}) is None
    assert next_step(pathway, step, {"consent_given": True}).key == "socio_professional_assessment"  # type: ignore[union-attr]


def test_a_step_falls_due_after_its_duration(rules: Rules) -> None:
    opened = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert due_at(rules.pathway().step("orientation"), opened) == opened + timedelta(days=14)


def test_outcome_model_refuses_wrong_types_field_by_field(rules: Rules) -> None:
    model = outcome_model(rules.pathway().step("first_reception"))
    with pytest.raises(ValidationError) as caught:
        model.model_validate(
            {"meeting_on": "yesterday", "consent_given": "maybe", "referred_by": "cpas"}
        )
    fields = {error["loc"][0] for error in caught.value.errors()}
    assert fields == {"meeting_on", "consent_given", "expectation"}


def test_step_input_carries_the_decision_id_and_typed_outcome_only(rules: Rules) -> None:
    model = step_input_model(rules.pathway().step("orientation"))
    received = model.model_validate(
        {"decision_id": 7, "outcome": {"decided_on": "2026-11-20", "route": "creation"}}
    )
    assert received.decision_id == 7
    assert received.outcome.decided_on == date(2026, 11, 20)  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        model.model_validate(
            {
                "decision_id": 7,
                "outcome": {"decided_on": "2026-11-20", "route": "creation"},
                "note": "x",
            }
        )
    schema = model.model_json_schema()
    assert schema["additionalProperties"] is False
