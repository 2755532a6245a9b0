"""Rules are data: YAML files loaded into frozen pydantic specs, validated at start."""

from crealux_core.rules.forms import outcome_model, step_input_model
from crealux_core.rules.loader import RulesError, load_rules
from crealux_core.rules.specs import (
    FieldSpec,
    FieldType,
    OrganisationSpec,
    PathwaySpec,
    Rules,
    StepSpec,
    TransitionSpec,
)

__all__ = [
    "FieldSpec",
    "FieldType",
    "OrganisationSpec",
    "PathwaySpec",
    "Rules",
    "RulesError",
    "StepSpec",
    "TransitionSpec",
    "load_rules",
    "outcome_model",
    "step_input_model",
]
