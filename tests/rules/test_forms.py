"""A step's outcome takes answers as JSON gives them, dates within a plausible window."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from crealux_core.rules.forms import (
    NOTE_MAX_CHARS,
    check_note,
    outcome_model,
    validate_outcome,
)
from crealux_core.rules.specs import DateAnchor, DateBound, FieldSpec, StepSpec

ENROLLED_ON = date(2026, 11, 2)
TODAY = date(2026, 11, 29)


def step(**form: dict[str, Any]) -> StepSpec:
    return StepSpec(key="check", title="Point", concerns="integra-plus", due="P7D", form=form)


def refusals(step: StepSpec, data: dict[str, Any], **dates: date) -> dict[str, tuple[str, str]]:
    """Return each refused field's error type and English message."""
    context = {"enrolled_on": ENROLLED_ON, "today": TODAY} | dates
    with pytest.raises(ValidationError) as caught:
        validate_outcome(step, data, **context)
    return {str(error["loc"][0]): (error["type"], error["msg"]) for error in caught.value.errors()}


MEETING = step(met_on={"type": "date", "label": "Date de l'entretien"})
PLANNED = step(starts_on={"type": "date", "label": "Début prévu", "future": True})


def test_a_date_by_default_falls_from_a_year_before_enrolment_to_a_year_after_today() -> None:
    for day in (date(2025, 11, 2), TODAY, date(2027, 11, 29)):
        validate_outcome(MEETING, {"met_on": day}, enrolled_on=ENROLLED_ON, today=TODAY)
    for day in ("2025-11-01", "2027-11-30"):
        assert refusals(MEETING, {"met_on": day}) == {
            "met_on": ("date_out_of_range", "date should be between 2025-11-02 and 2027-11-29")
        }


def test_a_date_window_comes_from_the_rules() -> None:
    rules = step(
        started_on={
            "type": "date",
            "label": "Début d'activité",
            "earliest": "enrolment",
            "latest": "today + P7D",
        }
    )
    spec = rules.form["started_on"]
    assert spec.date_window() == (
        DateBound(anchor=DateAnchor.ENROLMENT, days=0),
        DateBound(anchor=DateAnchor.TODAY, days=7),
    )
    assert refusals(rules, {"started_on": "2026-11-01"}) == {
        "started_on": ("date_out_of_range", "date should be between 2026-11-02 and 2026-12-06")
    }
    validate_outcome(rules, {"started_on": "2026-12-06"}, enrolled_on=ENROLLED_ON, today=TODAY)


def test_a_future_date_falls_from_a_month_ago_to_two_years_ahead() -> None:
    for day in ("2026-10-30", "2028-11-28"):
        validate_outcome(PLANNED, {"starts_on": day}, enrolled_on=ENROLLED_ON, today=TODAY)
    assert refusals(PLANNED, {"starts_on": "2026-10-29"}) == {
        "starts_on": ("date_out_of_range", "date should be between 2026-10-30 and 2028-11-28")
    }


def test_the_window_is_not_checked_without_the_dates_so_a_stored_outcome_reads_again() -> None:
    outcome = outcome_model(MEETING).model_validate({"met_on": "1990-01-01"})
    assert outcome.met_on == date(1990, 1, 1)  # type: ignore[attr-defined]


def test_the_window_needs_local_dates_not_datetimes() -> None:
    with pytest.raises(TypeError, match="today"):
        validate_outcome(
            MEETING, {"met_on": TODAY}, enrolled_on=ENROLLED_ON, today=datetime(2026, 11, 29)
        )


def test_a_date_is_written_year_month_day() -> None:
    for written in ("29/11/2026", "2026-11-29T10:00:00", "2026-02-30", "2026-W48-7", 20261129):
        assert refusals(MEETING, {"met_on": written}) == {
            "met_on": ("date_expected", "expected a date written YYYY-MM-DD")
        }, written
    assert refusals(MEETING, {"met_on": datetime(2026, 11, 29, 10)})["met_on"][0] == "date_expected"


@pytest.mark.parametrize(
    ("spec", "refused"),
    [
        ({"type": "int", "label": "Heures", "earliest": "today"}, "only for date fields"),
        ({"type": "bool", "label": "Prévu", "future": True}, "only for date fields"),
        ({"type": "date", "label": "Date", "latest": "tomorrow"}, "anchor"),
        ({"type": "date", "label": "Date", "latest": "today + PT12H"}, "whole days"),
        ({"type": "date", "label": "Date", "earliest": "today + 3 days"}, "not a date limit"),
        ({"type": "date", "label": "Date", "future": True, "latest": "today - P60D"}, "no date"),
        ({"type": "int", "label": "Heures", "min": 9, "max": 1}, "above 'max'"),
    ],
)
def test_a_field_spec_that_cannot_work_is_refused_when_the_rules_load(
    spec: dict[str, Any], refused: str
) -> None:
    with pytest.raises(ValidationError, match=refused):
        FieldSpec.model_validate(spec)


SESSIONS = step(
    sessions={"type": "int", "label": "Entretiens", "min": 0, "max": 200},
    hours={"type": "int", "label": "Heures", "min": 1, "required": False},
    late={"type": "int", "label": "Retards", "max": 9, "required": False},
)


def test_a_number_out_of_its_bounds_is_refused_with_the_bounds() -> None:
    assert refusals(SESSIONS, {"sessions": 500, "hours": 0, "late": 10}) == {
        "sessions": ("number_out_of_range", "value should be between 0 and 200"),
        "hours": ("number_out_of_range", "value should be at least 1"),
        "late": ("number_out_of_range", "value should be at most 9"),
    }


def test_a_number_is_a_json_integer_not_text_nor_a_boolean() -> None:
    for given in ("12", True, 12.0):
        assert refusals(SESSIONS, {"sessions": given}) == {
            "sessions": ("int_expected", "expected a whole number")
        }, given
    assert outcome_model(SESSIONS).model_validate_json('{"sessions": 12}').sessions == 12  # type: ignore[attr-defined]


CONSENT = step(consent={"type": "bool", "label": "Consentement"})


def test_a_yes_no_question_takes_true_or_false_only() -> None:
    for given in ("yes", "true", 1, 0, "oui"):
        assert refusals(CONSENT, {"consent": given}) == {
            "consent": ("bool_expected", "expected true or false")
        }, given
    model = outcome_model(CONSENT)
    assert model.model_validate_json('{"consent": false}').consent is False  # type: ignore[attr-defined]
    assert model.model_validate({"consent": True}).consent is True  # type: ignore[attr-defined]


def test_a_missing_answer_and_a_null_one_are_missing_while_a_wrong_one_says_what_is_wrong() -> None:
    form = step(
        consent={"type": "bool", "label": "Consentement"},
        sessions={"type": "int", "label": "Entretiens"},
        route={"type": "choice", "label": "Orientation", "choices": {"creation": "Création"}},
    )
    assert refusals(form, {"sessions": None}) == {
        "consent": ("missing", "Field required"),
        "sessions": ("missing", "Field required"),
        "route": ("missing", "Field required"),
    }
    wrong = refusals(form, {"consent": "maybe", "sessions": "many", "route": "exit"})
    assert {name: kind for name, (kind, _) in wrong.items()} == {
        "consent": "bool_expected",
        "sessions": "int_expected",
        "route": "literal_error",
    }


def test_an_optional_answer_may_be_null_or_left_out() -> None:
    form = step(started_on={"type": "date", "label": "Début", "required": False})
    for data in ({}, {"started_on": None}):
        outcome = validate_outcome(form, data, enrolled_on=ENROLLED_ON, today=TODAY)
        assert outcome.started_on is None  # type: ignore[attr-defined]


def test_the_outcome_schema_gives_the_bounds_and_the_date_format() -> None:
    properties = outcome_model(SESSIONS).model_json_schema()["properties"]
    assert (properties["sessions"]["minimum"], properties["sessions"]["maximum"]) == (0, 200)
    assert outcome_model(MEETING).model_json_schema()["properties"]["met_on"]["format"] == "date"


def test_a_note_is_trimmed_and_limited_in_size() -> None:
    assert check_note("  à revoir \n") == "à revoir"
    assert check_note("   ") is None
    assert check_note(None) is None
    assert check_note("x" * NOTE_MAX_CHARS) == "x" * NOTE_MAX_CHARS
    with pytest.raises(ValueError, match=f"at most {NOTE_MAX_CHARS} characters"):
        check_note("x" * (NOTE_MAX_CHARS + 1))
