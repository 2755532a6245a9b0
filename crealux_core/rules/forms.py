"""The typed outcome of a step, built once from its spec.

The same model generates the dashboard form, validates what the CLI and the dashboard submit, and
never goes to Prefect: a resume carries an event id only, the answers stay in the database.

Answers are taken as JSON gives them: a yes/no question takes true or false (not "yes", not 1),
a number takes an integer (not "12", not true), a date takes "YYYY-MM-DD" (or a `date`). A
refusal has its own error type and says what was expected, bounds included, so the dashboard can
say it in French. A date must also fall in its field's window (`FieldSpec.date_window`), which
depends on the participant's enrolment and on today: `validate_outcome` checks it; validating
the model without that context (a resume, a stored decision read again) does not.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, PydanticKnownError, core_schema

from crealux_core.rules.specs import DateAnchor, DateBound, FieldSpec, FieldType, StepSpec

_CONFIG = ConfigDict(extra="forbid", frozen=True)

# A note is a few paragraphs for the team, not a file: about two typed pages.
NOTE_MAX_CHARS = 5000

_YYYY_MM_DD = re.compile(r"\d{4}-\d{2}-\d{2}")


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.replace("-", "_").split("_"))


def _answered(value: Any) -> Any:
    """Refuse null for a required field as the missing answer it is."""
    if value is None:
        raise PydanticKnownError("missing")
    return value


def _true_or_false(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise PydanticCustomError("bool_expected", "expected true or false")


def _whole_number(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("int_expected", "expected a whole number")


def _iso_date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _YYYY_MM_DD.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:  # 2026-02-30
            pass
    raise PydanticCustomError("date_expected", "expected a date written YYYY-MM-DD")


@dataclass(frozen=True)
class Between:
    """The bounds of a number field, checked with one message that gives them."""

    minimum: int | None
    maximum: int | None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        found = handler(schema)
        bounds = {"minimum": self.minimum, "maximum": self.maximum}
        return found | {name: bound for name, bound in bounds.items() if bound is not None}

    def _check(self, value: int) -> int:
        low, high = self.minimum, self.maximum
        if (low is None or value >= low) and (high is None or value <= high):
            return value
        if low is not None and high is not None:
            message = "value should be between {minimum} and {maximum}"
        elif low is not None:
            message = "value should be at least {minimum}"
        else:
            message = "value should be at most {maximum}"
        raise PydanticCustomError("number_out_of_range", message, {"minimum": low, "maximum": high})


@dataclass(frozen=True)
class DateWindow:
    """The window of a date field, checked when the validation context gives the dates."""

    earliest: DateBound
    latest: DateBound

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.with_info_after_validator_function(self._check, handler(source))

    def _check(self, value: dt.date, info: ValidationInfo) -> dt.date:
        dates = _window_dates(info.context)
        if dates is None:
            return value
        earliest, latest = (day_of(bound, **dates) for bound in (self.earliest, self.latest))
        if earliest <= value <= latest:
            return value
        raise PydanticCustomError(
            "date_out_of_range",
            "date should be between {earliest} and {latest}",
            {"earliest": earliest.isoformat(), "latest": latest.isoformat()},
        )


def _window_dates(context: Any) -> dict[str, dt.date] | None:
    """Return `enrolled_on` and `today` from a validation context, None when it has no dates."""
    if not isinstance(context, Mapping) or not {"enrolled_on", "today"} <= context.keys():
        return None
    dates = {name: context[name] for name in ("enrolled_on", "today")}
    for name, day in dates.items():
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise TypeError(f"{name} must be a local date, not {day!r}")
    return dates


def day_of(bound: DateBound, *, enrolled_on: dt.date, today: dt.date) -> dt.date:
    """Return the day a date limit falls on for a participant, today."""
    anchor = enrolled_on if bound.anchor is DateAnchor.ENROLMENT else today
    return anchor + dt.timedelta(days=bound.days)


_ENTERPRISE_NUMBER = re.compile(r"[01]\d{9}")


def enterprise_number(value: Any) -> str:
    """Return a Belgian enterprise number as 0123.456.749, its modulo-97 check verified.

    Accepted written with or without dots, spaces or a BE prefix; the last two digits are
    97 minus the first eight modulo 97.
    """
    if not isinstance(value, str):
        raise PydanticCustomError("company_number_expected", "expected a company number")
    digits = re.sub(r"[\s.\-]", "", value.strip().upper().removeprefix("BE"))
    if not _ENTERPRISE_NUMBER.fullmatch(digits):
        raise PydanticCustomError(
            "company_number_format", "expected 10 digits starting with 0 or 1 (0123.456.749)"
        )
    if 97 - int(digits[:8]) % 97 != int(digits[8:]):
        raise PydanticCustomError(
            "company_number_check", "the check digits do not match (modulo 97): a typing error?"
        )
    return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"


def _annotation(spec: FieldSpec) -> Any:
    if spec.type is FieldType.COMPANY_NUMBER:
        return Annotated[str, BeforeValidator(enterprise_number)]
    if spec.type is FieldType.BOOL:
        return Annotated[bool, BeforeValidator(_true_or_false)]
    if spec.type is FieldType.DATE:
        return Annotated[dt.date, BeforeValidator(_iso_date), DateWindow(*spec.date_window())]
    if spec.type in (FieldType.INT, FieldType.SCALE):
        return Annotated[int, BeforeValidator(_whole_number), Between(spec.min, spec.max)]
    assert spec.choices is not None
    return Literal[tuple(spec.choices)]


def _field(spec: FieldSpec) -> tuple[Any, Any]:
    extra: dict[str, Any] = {}
    if spec.choices:
        extra["choice_labels"] = dict(spec.choices)
    annotation = _annotation(spec)
    info = Field(
        default=... if spec.required else None,
        title=spec.label,
        description=spec.help,
        json_schema_extra=extra or None,
    )
    if spec.required:
        # The last validator of an Annotated runs first: null is refused before its type.
        return Annotated[annotation, BeforeValidator(_answered)], info
    return annotation | None, info


@lru_cache(maxsize=256)
def _outcome_model(step_json: str) -> type[BaseModel]:
    step = StepSpec.model_validate_json(step_json)
    fields = {name: _field(spec) for name, spec in step.form.items()}
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{_camel(step.key)}Outcome", __config__=_CONFIG, **fields
    )


def outcome_model(step: StepSpec) -> type[BaseModel]:
    """Return the pydantic model of a step's outcome (route, dates, yes/no answers, numbers).

    Validated without context, dates are not held to their window: use `validate_outcome`
    for what a person submits.
    """
    return _outcome_model(step.model_dump_json())


def validate_outcome(
    step: StepSpec, data: Mapping[str, Any], *, enrolled_on: dt.date, today: dt.date
) -> BaseModel:
    """Return a submitted outcome checked field by field, dates within their window.

    `enrolled_on` and `today` are local dates (Europe/Brussels), not datetimes. Raise
    pydantic's ValidationError, one error per refused field.
    """
    context = {"enrolled_on": enrolled_on, "today": today}
    _window_dates(context)  # a datetime is refused even by a form without dates
    return outcome_model(step).model_validate(data, context=context)


def check_note(note: str | None) -> str | None:
    """Return a note without surrounding blanks (None when empty); refuse one too long."""
    text = (note or "").strip()
    if len(text) > NOTE_MAX_CHARS:
        raise ValueError(
            f"note too long: at most {NOTE_MAX_CHARS} characters, got {len(text)}"
            f" (note trop longue : {NOTE_MAX_CHARS} caractères au maximum)"
        )
    return text or None
