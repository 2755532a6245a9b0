"""Conditions in rules are rule-engine expressions over a step's typed outcome, never `eval`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import rule_engine
from rule_engine import ast

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


_TYPE_WORDS = {
    rule_engine.DataType.BOOLEAN.name: "yes/no",
    rule_engine.DataType.FLOAT.name: "number",
    rule_engine.DataType.STRING.name: "text",
    rule_engine.DataType.DATETIME.name: "date",
}
_UNTYPED = (rule_engine.DataType.UNDEFINED, rule_engine.DataType.NULL)


def _type_word(data_type: Any) -> str:
    name = str(data_type.name)
    return _TYPE_WORDS.get(name, name.lower())


def _nodes(node: Any) -> Iterator[Any]:
    """Yield an expression and every expression inside it."""
    yield node
    for name in ("left", "right", "container", "member", "condition", "case_true", "case_false"):
        child = getattr(node, name, None)
        if isinstance(child, ast.ExpressionBase):
            yield from _nodes(child)
    if isinstance(node, ast.ArrayExpression | ast.SetExpression):
        for item in node.value:
            yield from _nodes(item)


def _choice_literals(node: Any) -> Iterator[tuple[str, Any]]:
    """Yield (field, literal) for each text literal a choice field is compared with."""
    pairs: list[tuple[Any, Any]] = []
    if type(node) is ast.ComparisonExpression:  # == and !=
        pairs = [(node.left, node.right), (node.right, node.left)]
    elif isinstance(node, ast.ContainsExpression) and isinstance(
        node.container, ast.ArrayExpression | ast.SetExpression
    ):
        pairs = [(node.member, item) for item in node.container.value]
    for symbol, literal in pairs:
        if isinstance(symbol, ast.SymbolExpression) and isinstance(literal, ast.StringExpression):
            yield symbol.name, literal.value


def check_condition(expression: str, form: Mapping[str, FieldSpec]) -> None:
    """Refuse a condition that compiles but cannot mean what it says: one that is not a
    yes/no question, compares values of two types (`expectation == true` is never true), or
    names a choice its field does not have (`expectation == "creaton"`)."""
    statement = compile_condition(expression, form).statement.expression
    result = statement.result_type
    if result not in (rule_engine.DataType.BOOLEAN, *_UNTYPED):
        raise ConditionError(f"condition {expression!r} gives a {_type_word(result)}, not a yes/no")
    for node in _nodes(statement):
        if type(node) is ast.ComparisonExpression:
            left, right = node.left.result_type, node.right.result_type
            if left not in _UNTYPED and right not in _UNTYPED and left != right:
                raise ConditionError(
                    f"condition {expression!r} compares a {_type_word(left)} with a"
                    f" {_type_word(right)}: it can never hold"
                )
        for name, value in _choice_literals(node):
            choices = form[name].choices
            if choices is not None and value not in choices:
                raise ConditionError(
                    f"condition {expression!r}: {value!r} is not a choice of {name}"
                    f" (choices: {', '.join(choices)})"
                )


def _from_json(value: Any, field_type: FieldType) -> Any:
    if field_type is FieldType.DATE and isinstance(value, str):
        try:
            return _as_rule_value(dt.date.fromisoformat(value))
        except ValueError:
            return value  # refused by the typed context: the condition does not hold
    return _as_rule_value(value)


def holds_on_answers(
    expression: str, form: Mapping[str, FieldSpec], answers: Mapping[str, Any]
) -> bool:
    """Evaluate a condition on stored answers (JSON values, dates as YYYY-MM-DD).

    A question without an answer is unknown rather than null: a condition that reads it does
    not hold (`not has_qualification` does not hold when the question was never asked). It is
    read from left to right: `barrier_debt or barrier_housing` holds on debts answered yes,
    whatever housing, but not on housing answered yes with debts unanswered.
    """
    rule = compile_condition(expression, form)
    values = {
        name: _from_json(answers[name], spec.type)
        for name, spec in form.items()
        if answers.get(name) is not None
    }
    try:
        return bool(rule.matches(values))
    except rule_engine.errors.EvaluationError:
        return False
