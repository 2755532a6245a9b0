"""Generate a step's form from its outcome model, and say in French what a refusal means.

The widgets come from the pydantic model the services validate with (`StepForm.model`), so a
field added to a step in `rules/` appears in the dashboard without code. Every answer starts
empty, yes/no questions included: a box left unticked would silently mean "no" (for the consent
question, that ends the pathway), so an unanswered required question is refused instead. The
check is the service's, not the browser's (Streamlit's own `required=` marks fields in English):
the refusal comes back field by field and is shown in French under each question.

A scale (the participant's own rating) is asked as its points side by side; a company number
as text, written as the participant has it: the service checks it and writes it 0123.456.749.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import streamlit as st
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from crealux_core.rules.forms import Between, enterprise_number
from crealux_core.rules.specs import FieldType, StepSpec
from dashboards.display import YES_NO

DATE_FORMAT = "DD/MM/YYYY"
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


class FieldKind(StrEnum):
    BOOL = "bool"
    DATE = "date"
    INT = "int"
    CHOICE = "choice"
    SCALE = "scale"
    COMPANY_NUMBER = "company_number"


COMPANY_NUMBER_EXAMPLE = "0123.456.749"


@dataclass(frozen=True)
class FormField:
    """One question of a generated form, read from a pydantic field."""

    name: str
    kind: FieldKind
    label: str
    help: str | None
    required: bool
    choices: dict[Any, str] = field(default_factory=dict)
    minimum: int | None = None
    maximum: int | None = None


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _constraints(info: FieldInfo, annotation: Any) -> tuple[Any, list[Any]]:
    """Return the bare type and every constraint, including those of an `Annotated` in a union."""
    metadata = list(info.metadata)
    if get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, metadata


def _between(metadata: Iterable[Any]) -> Between:
    return next((item for item in metadata if isinstance(item, Between)), Between(None, None))


def _is_company_number(metadata: Iterable[Any]) -> bool:
    return any(getattr(item, "func", None) is enterprise_number for item in metadata)


def _is_scale(step: StepSpec | None, name: str) -> bool:
    spec = step.form.get(name) if step else None
    return spec is not None and spec.type is FieldType.SCALE


def describe(model: type[BaseModel], step: StepSpec | None = None) -> list[FormField]:
    """Return the questions of an outcome model in declaration order.

    A scale validates as a whole number between its bounds: only the step it was built from
    (`step`) tells it from an int field. Without the step, a scale is asked as a number.
    """
    fields = []
    for name, info in model.model_fields.items():
        annotation, metadata = _constraints(info, _without_none(info.annotation))
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        labels = extra.get("choice_labels")
        common: dict[str, Any] = {
            "name": name,
            "label": info.title or name,
            "help": info.description,
            "required": info.is_required(),
        }
        if annotation is bool:
            fields.append(FormField(kind=FieldKind.BOOL, choices=dict(YES_NO), **common))
        elif annotation is dt.date:
            fields.append(FormField(kind=FieldKind.DATE, **common))
        elif annotation is int:
            bounds = _between(metadata)
            kind = FieldKind.SCALE if _is_scale(step, name) else FieldKind.INT
            fields.append(
                FormField(kind=kind, minimum=bounds.minimum, maximum=bounds.maximum, **common)
            )
        elif annotation is str and _is_company_number(metadata):
            fields.append(FormField(kind=FieldKind.COMPANY_NUMBER, **common))
        elif get_origin(annotation) is Literal:
            shown = labels if isinstance(labels, dict) else {}
            choices = {value: str(shown.get(value, value)) for value in get_args(annotation)}
            fields.append(FormField(kind=FieldKind.CHOICE, choices=choices, **common))
        else:
            raise TypeError(f"no widget for field {name!r} of type {annotation!r}")
    return fields


def _range_hint(minimum: int | None, maximum: int | None) -> str | None:
    if minimum is not None and maximum is not None:
        return f"De {minimum} à {maximum}"
    if minimum is not None:
        return f"Au moins {minimum}"
    if maximum is not None:
        return f"Au plus {maximum}"
    return None


def render_field(question: FormField, *, key: str, disabled: bool = False) -> Any:
    """Show the widget of one question and return its value (None while unanswered)."""
    label = question.label if question.required else f"{question.label} (facultatif)"
    if question.kind is FieldKind.BOOL:
        return st.radio(
            label,
            options=list(question.choices),
            format_func=question.choices.__getitem__,
            index=None,
            horizontal=True,
            key=key,
            help=question.help,
            disabled=disabled,
        )
    if question.kind is FieldKind.DATE:
        return st.date_input(
            label,
            value=None,
            min_value=EARLIEST_DATE,
            max_value=LATEST_DATE,
            format=DATE_FORMAT,
            key=key,
            help=question.help,
            disabled=disabled,
        )
    if question.kind is FieldKind.SCALE:
        return _scale(question, label=label, key=key, disabled=disabled)
    if question.kind is FieldKind.COMPANY_NUMBER:
        text = st.text_input(
            label,
            value=None,
            max_chars=20,
            placeholder=COMPANY_NUMBER_EXAMPLE,
            key=key,
            help=question.help,
            disabled=disabled,
        )
        return (text or "").strip() or None  # a cleared box is no answer, not a wrong number
    if question.kind is FieldKind.INT:
        # No min_value/max_value: the widget would drop a number out of bounds and the service
        # would then say the question was not answered. The service says what the bounds are.
        return st.number_input(
            label,
            value=None,
            step=1,
            placeholder=_range_hint(question.minimum, question.maximum),
            key=key,
            help=question.help,
            disabled=disabled,
        )
    return st.selectbox(
        label,
        options=list(question.choices),
        format_func=question.choices.__getitem__,
        index=None,
        placeholder="Choisir…",
        key=key,
        help=question.help,
        disabled=disabled,
    )


def _scale(question: FormField, *, label: str, key: str, disabled: bool) -> Any:
    """Show a rating as its points side by side, none chosen until the participant says."""
    assert question.minimum is not None and question.maximum is not None  # FieldSpec checks it
    return st.segmented_control(
        label,
        options=list(range(question.minimum, question.maximum + 1)),
        format_func=str,
        selection_mode="single",
        default=None,
        key=key,
        help=question.help,
        disabled=disabled,
    )


REQUIRED_HINT = "Toutes les réponses sont obligatoires, sauf mention « facultatif »."


def answers(values: dict[str, Any]) -> dict[str, Any]:
    """Return what to submit: unanswered questions are left out, so a required one is refused."""
    return {name: value for name, value in values.items() if value is not None}


REQUIRED = "Ce champ est obligatoire."
YES_OR_NO = "Répondez par oui ou non."
WHOLE_NUMBER = "Un nombre entier est attendu."
INVALID_DATE = "Date invalide (JJ/MM/AAAA)."
CHOOSE = "Choisissez une valeur de la liste."
COMPANY_NUMBER_EXPECTED = f"Un numéro d'entreprise est attendu ({COMPANY_NUMBER_EXAMPLE})."
COMPANY_NUMBER_FORMAT = (
    f"Le numéro d'entreprise compte 10 chiffres et commence par 0 ou 1 ({COMPANY_NUMBER_EXAMPLE})."
)
COMPANY_NUMBER_CHECK = (
    "Ce numéro d'entreprise n'est pas valide (ses deux derniers chiffres ne correspondent pas) :"
    " une faute de frappe ?"
)

# Error types (ours from crealux_core.rules.forms, or pydantic's) whose French needs no ctx.
_FIXED = {
    "missing": REQUIRED,
    "extra_forbidden": "Ce champ n'est pas prévu dans ce formulaire.",
    "bool_expected": YES_OR_NO,
    "bool_type": YES_OR_NO,
    "bool_parsing": YES_OR_NO,
    "int_expected": WHOLE_NUMBER,
    "int_type": WHOLE_NUMBER,
    "int_parsing": WHOLE_NUMBER,
    "date_expected": INVALID_DATE,
    "date_type": INVALID_DATE,
    "date_parsing": INVALID_DATE,
    "date_from_datetime_parsing": INVALID_DATE,
    "date_from_datetime_inexact": INVALID_DATE,
    "literal_error": CHOOSE,
    "enum": CHOOSE,
    "company_number_expected": COMPANY_NUMBER_EXPECTED,
    "company_number_format": COMPANY_NUMBER_FORMAT,
    "company_number_check": COMPANY_NUMBER_CHECK,
}


def _day(iso: Any) -> str:
    return dt.date.fromisoformat(str(iso)).strftime("%d/%m/%Y")


def _with_ctx(kind: str, ctx: Mapping[str, Any]) -> str | None:
    """Return the French of an error whose message carries values (bounds, lengths)."""
    low, high = ctx.get("minimum"), ctx.get("maximum")
    match kind:
        case "number_out_of_range" if low is not None and high is not None:
            return f"La valeur doit être comprise entre {low} et {high}."
        case "number_out_of_range" if low is not None:
            return f"La valeur doit être supérieure ou égale à {low}."
        case "number_out_of_range":
            return f"La valeur doit être inférieure ou égale à {high}."
        case "greater_than_equal":
            return f"La valeur doit être supérieure ou égale à {ctx['ge']}."
        case "less_than_equal":
            return f"La valeur doit être inférieure ou égale à {ctx['le']}."
        case "date_out_of_range":
            earliest, latest = _day(ctx["earliest"]), _day(ctx["latest"])
            return f"La date doit être comprise entre le {earliest} et le {latest}."
        case "string_too_short" if int(ctx["min_length"]) == 1:  # an empty text is no answer
            return REQUIRED
        case "string_too_short":
            return f"{ctx['min_length']} caractères au minimum."
        case "string_too_long":
            return f"{ctx['max_length']} caractères au maximum."
        case "note_too_long":
            return f"La note est trop longue : {high} caractères au maximum."
    return None


_NUMBER = r"-?\d+"
_ISO_DAY = r"\d{4}-\d{2}-\d{2}"

# A message that reached us as text (a service's field errors) -> its error type; named groups
# give the ctx. Each pattern is a whole message: one is never taken for another that starts alike.
_MESSAGES = [
    (re.compile(pattern), kind)
    for pattern, kind in [
        (r"Field required", "missing"),
        (r"unknown field|Extra inputs are not permitted", "extra_forbidden"),
        (r"expected true or false|Input should be a valid boolean.*", "bool_expected"),
        (r"expected a whole number|Input should be a valid integer.*", "int_expected"),
        (
            rf"value should be between (?P<minimum>{_NUMBER}) and (?P<maximum>{_NUMBER})",
            "number_out_of_range",
        ),
        (rf"value should be at least (?P<minimum>{_NUMBER})", "number_out_of_range"),
        (rf"value should be at most (?P<maximum>{_NUMBER})", "number_out_of_range"),
        (rf"Input should be greater than or equal to (?P<ge>{_NUMBER})", "greater_than_equal"),
        (rf"Input should be less than or equal to (?P<le>{_NUMBER})", "less_than_equal"),
        (r"expected a date written YYYY-MM-DD|Input should be a valid date.*", "date_expected"),
        (
            rf"date should be between (?P<earliest>{_ISO_DAY}) and (?P<latest>{_ISO_DAY})",
            "date_out_of_range",
        ),
        (r"Input should be '.*", "literal_error"),
        (r"expected a company number", "company_number_expected"),
        (r"expected 10 digits starting with 0 or 1 \(0123\.456\.749\)", "company_number_format"),
        (
            r"the check digits do not match \(modulo 97\): a typing error\?",
            "company_number_check",
        ),
        (r"String should have at least (?P<min_length>\d+) characters?", "string_too_short"),
        (r"String should have at most (?P<max_length>\d+) characters?", "string_too_long"),
        (rf"note too long: at most (?P<maximum>{_NUMBER}) characters.*", "note_too_long"),
    ]
]


def _recognise(message: str) -> tuple[str, dict[str, Any]]:
    """Return the error type and ctx of a known message ("" when it is not one of ours)."""
    for pattern, kind in _MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            return kind, match.groupdict()
    return "", {}


def french(error: str | Mapping[str, Any]) -> str:
    """Return a validation error in French: a pydantic error by its type and ctx, or a message.

    A message that is not recognised is returned as it is, never guessed at.
    """
    if isinstance(error, str):
        kind, ctx = _recognise(error)
        english = error
    else:
        kind, ctx, english = str(error["type"]), dict(error.get("ctx") or {}), str(error["msg"])
    return _FIXED.get(kind) or _with_ctx(kind, ctx) or english


def pydantic_errors(error: ValidationError) -> dict[str, str]:
    """Return the first message of each field of a pydantic refusal, in French."""
    found: dict[str, str] = {}
    for detail in error.errors():
        name = ".".join(str(part) for part in detail["loc"]) or "form"
        found.setdefault(name, french(detail))
    return found
