"""The typed outcome of a step, built once from its spec.

The same model generates the dashboard form, validates what the CLI and the dashboard submit, and
is what Prefect validates when a waiting pathway run is resumed (wrapped with the decision id).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from crealux_core.rules.specs import FieldSpec, FieldType, StepSpec

_CONFIG = ConfigDict(extra="forbid", frozen=True)


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.replace("-", "_").split("_"))


def _annotation(spec: FieldSpec) -> Any:
    if spec.type is FieldType.BOOL:
        return bool
    if spec.type is FieldType.DATE:
        return dt.date
    if spec.type is FieldType.INT:
        return Annotated[int, Field(strict=False, ge=spec.min, le=spec.max)]
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
    return (annotation if spec.required else annotation | None), info


@lru_cache(maxsize=256)
def _outcome_model(step_json: str) -> type[BaseModel]:
    step = StepSpec.model_validate_json(step_json)
    fields = {name: _field(spec) for name, spec in step.form.items()}
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{_camel(step.key)}Outcome", __config__=_CONFIG, **fields
    )


def outcome_model(step: StepSpec) -> type[BaseModel]:
    """Return the pydantic model of a step's outcome (route, dates, yes/no answers, numbers)."""
    return _outcome_model(step.model_dump_json())


class StepInput(BaseModel):
    """What a resume hands a waiting run: the decision's id; each step adds its typed `outcome`."""

    model_config = _CONFIG

    decision_id: int = Field(ge=1, title="Decision id")


@lru_cache(maxsize=256)
def _input_model(step_json: str) -> type[StepInput]:
    step = StepSpec.model_validate_json(step_json)
    return create_model(
        f"{_camel(step.key)}Input", __base__=StepInput, outcome=(outcome_model(step), ...)
    )


def step_input_model(step: StepSpec) -> type[StepInput]:
    """Return what a waiting pathway run accepts for this step: the decision's id and outcome."""
    return _input_model(step.model_dump_json())
