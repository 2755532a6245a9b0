from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from crealux_core.domain.pathway import due_at, next_step, opening_time, step_times
from crealux_core.rules import Rules, outcome_model
from crealux_core.rules.specs import Anchored
from crealux_core.services.progress import Wake


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("creation", "business_creation"),
        ("training", "training"),
        ("employment", "job_search"),
        ("social", "social_accompaniment"),
        ("exit", "self_evaluation_end"),
    ],
)
def test_orientation_routes_by_its_outcome(rules: Rules, route: str, expected: str) -> None:
    pathway = rules.pathway()
    following = next_step(pathway, pathway.step("orientation"), {"route": route})
    assert following is not None and following.key == expected


def test_first_reception_without_consent_ends_the_pathway(rules: Rules) -> None:
    pathway = rules.pathway()
    step = pathway.step("first_reception")
    assert next_step(pathway, step, {"consent_given": False}) is None
    assert next_step(pathway, step, {"consent_given": True}).key == "self_evaluation_entry"  # type: ignore[union-attr]


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


def test_the_wake_envelope_takes_an_event_id_and_nothing_else() -> None:
    assert Wake.model_validate({"event_id": 7}).event_id == 7
    with pytest.raises(ValidationError):
        Wake.model_validate({"event_id": 7, "outcome": {"route": "creation"}})
    schema = Wake.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"event_id"}


def test_months_count_on_the_calendar_and_clamp_to_the_month_end() -> None:
    three_months = Anchored.model_validate("P3M after business_creation.started_on")
    assert three_months.span.after(datetime(2026, 11, 30, tzinfo=UTC)) == datetime(
        2027, 2, 28, tzinfo=UTC
    )
    assert Anchored.model_validate("P1Y2W").span.after(datetime(2026, 1, 1, tzinfo=UTC)) == (
        datetime(2027, 1, 15, tzinfo=UTC)
    )


def test_a_date_anchor_counts_from_the_answer_or_else_from_the_opening(rules: Rules) -> None:
    checkpoint = rules.pathway().step("post_creation_3m")
    now = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
    answers = {"business_creation": {"started_on": "2026-12-01"}}
    assert opening_time(checkpoint, now, answers) == datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    assert opening_time(checkpoint, now, {}) == datetime(2027, 2, 28, 15, 0, tzinfo=UTC)


def test_a_step_has_its_reminder_before_and_escalation_after_its_due_date(rules: Rules) -> None:
    opened = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    times = step_times(rules.pathway().step("orientation"), opened, {})
    assert times.due_at == opened + timedelta(days=14)
    assert times.remind_at == opened + timedelta(days=11)
    assert times.escalate_at == opened + timedelta(days=21)
    assert times.overdue_at is None
