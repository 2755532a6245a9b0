"""Generate a step's form from its outcome model, and say in French what a refusal means.

The widgets come from the pydantic model the services validate with (`StepForm.model`), so a
field added to a step in `rules/` appears in the dashboard without code. Every answer starts
empty, yes/no questions included: a box left unticked would silently mean "no" (for the consent
question, that ends the pathway), so an unanswered required question is refused instead. The
check is the service's, not the browser's (Streamlit's own `required=` marks fields in English):
the refusal comes back field by field and is shown in French under each question.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import streamlit as st
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from dashboards.display import YES_NO

DATE_FORMAT = "DD/MM/YYYY"
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


class FieldKind(StrEnum):
    BOOL = "bool"
    DATE = "date"
    INT = "int"
    CHOICE = "choice"


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


def _bound(metadata: Iterable[Any], kind: type[Any], attribute: str) -> int | None:
    for item in metadata:
        if isinstance(item, kind):
            return int(getattr(item, attribute))
    return None


def describe(model: type[BaseModel]) -> list[FormField]:
    """Return the questions of an outcome model in declaration order."""
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
            fields.append(
                FormField(
                    kind=FieldKind.INT,
                    minimum=_bound(metadata, annotated_types.Ge, "ge"),
                    maximum=_bound(metadata, annotated_types.Le, "le"),
                    **common,
                )
            )
        elif get_origin(annotation) is Literal:
            shown = labels if isinstance(labels, dict) else {}
            choices = {value: str(shown.get(value, value)) for value in get_args(annotation)}
            fields.append(FormField(kind=FieldKind.CHOICE, choices=choices, **common))
        else:
            raise TypeError(f"no widget for field {name!r} of type {annotation!r}")
    return fields


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
    if question.kind is FieldKind.INT:
        return st.number_input(
            label,
            min_value=question.minimum,
            max_value=question.maximum,
            value=None,
            step=1,
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


REQUIRED_HINT = "Toutes les réponses sont obligatoires, sauf mention « facultatif »."


def answers(values: dict[str, Any]) -> dict[str, Any]:
    """Return what to submit: unanswered questions are left out, so a required one is refused."""
    return {name: value for name, value in values.items() if value is not None}


_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Field required"), "Ce champ est obligatoire."),
    (re.compile(r"^unknown field"), "Ce champ n'est pas prévu dans ce formulaire."),
    (re.compile(r"^String should have at least 1 character"), "Ce champ est obligatoire."),
    (re.compile(r"^String should have at most (\d+)"), "{0} caractères au maximum."),
    (re.compile(r"^Input should be greater than or equal to (-?\d+)"), "Au moins {0}."),
    (re.compile(r"^Input should be less than or equal to (-?\d+)"), "Au plus {0}."),
    (re.compile(r"^Input should be a valid date"), "Date invalide (JJ/MM/AAAA)."),
    (re.compile(r"^Input should be a valid boolean"), "Répondez par Oui ou Non."),
    (re.compile(r"^Input should be a valid integer"), "Un nombre entier est attendu."),
    (re.compile(r"^Input should be '"), "Choisissez une valeur de la liste."),
]


def french(message: str) -> str:
    """Return a validation message in French when it is one of the usual ones."""
    for pattern, text in _RULES:
        match = pattern.match(message)
        if match:
            return text.format(*match.groups())
    return message


def pydantic_errors(error: ValidationError) -> dict[str, str]:
    """Return the first message of each field of a pydantic refusal, in French."""
    found: dict[str, str] = {}
    for detail in error.errors():
        name = ".".join(str(part) for part in detail["loc"]) or "form"
        found.setdefault(name, french(detail["msg"]))
    return found
