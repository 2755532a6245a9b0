"""Conditions in rules are rule-engine expressions over a step's typed outcome, never `eval`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import rule_engine

from crealux_core.rules.specs import FieldSpec, FieldType

_DATA_TYPES = {
    FieldType.BOOL: rule_engine.DataType.BOOLEAN,
    FieldType.INT: rule_engine.DataType.FLOAT,
    FieldType.DATE: rule_engine.DataType.DATETIME,
    FieldType.CHOICE: rule_engine.DataType.STRING,
    FieldType.SCALE: rule_engine.DataType.FLOAT,
    FieldType.COMPANY_NUMBER: rule_engine.DataType.STRING,
}


class ConditionError(ValueError):
    """A condition that does not compile against the fields it may read."""


def _signature(form: Mapping[str, FieldSpec]) -> tuple[tuple[str, FieldType], ...]:
    return tuple(sorted((name, spec.type) for name, spec in form.items()))


@lru_cache(maxsize=512)
def _compile(expression: str, signature: tuple[tuple[str, FieldType], ...]) -> rule_engine.Rule:
    types = {name: _DATA_TYPES[field_type] for name, field_type in signature}
    context = rule_engine.Context(type_resolver=rule_engine.type_resolver_from_dict(types))
    try:
        return rule_engine.Rule(expression, context=context)
    except rule_engine.errors.SymbolResolutionError as error:
        known = ", ".join(name for name, _ in signature) or "none"
        raise ConditionError(
            f"condition {expression!r} reads unknown field {error.symbol_name!r} (fields: {known})"
        ) from error
    except rule_engine.errors.EngineError as error:
        raise ConditionError(f"condition {expression!r} is not valid: {error.message}") from error


def compile_condition(expression: str, form: Mapping[str, FieldSpec]) -> rule_engine.Rule:
    """Compile a condition, checking its names and types against the step's form."""
    return _compile(expression, _signature(form))


def _as_rule_value(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def condition_holds(
    expression: str, form: Mapping[str, FieldSpec], outcome: Mapping[str, Any]
) -> bool:
    """Evaluate a condition on an outcome; a comparison with a missing answer does not hold."""
    rule = compile_condition(expression, form)
    values = {name: _as_rule_value(outcome.get(name)) for name in form}
    try:
        return bool(rule.matches(values))
    except rule_engine.errors.EvaluationError:
        return False
