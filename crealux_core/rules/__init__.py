"""Rules are data: YAML files loaded into frozen pydantic specs, validated at start."""

from crealux_core.rules.forms import NOTE_MAX_CHARS, outcome_model, validate_outcome
from crealux_core.rules.loader import RulesError, load_rules
from crealux_core.rules.specs import (
    AdviceRuleSpec,
    FieldSpec,
    FieldType,
    OrganisationSpec,
    OrientationSpec,
    PathwaySpec,
    Rules,
    StepSpec,
    TransitionSpec,
)

__all__ = [
    "NOTE_MAX_CHARS",
    "AdviceRuleSpec",
    "FieldSpec",
    "FieldType",
    "OrganisationSpec",
    "OrientationSpec",
    "PathwaySpec",
    "Rules",
    "RulesError",
    "StepSpec",
    "TransitionSpec",
    "load_rules",
    "outcome_model",
    "validate_outcome",
]
