"""Orientation advice: the route the answers of earlier steps suggest, and why.

The rules are `rules/orientation.yaml` (`Rules.orientation`); the advisor decides. Use
`Rules.orientation_for(pathway_key, version)` to get the spec for a run: a run on a version of
the pathway that does not ask every field the advice reads gets none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crealux_core.rules.conditions import holds_on_answers
from crealux_core.rules.specs import OrientationSpec


@dataclass(frozen=True)
class Advice:
    """A recommended route: the rule that gave it and its reason, in French."""

    route: str
    rule_key: str
    reason: str
    route_label: str


def read_answers(spec: OrientationSpec, answers: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Return the answers the advice reads, by field name, from the outcomes of its steps."""
    found: dict[str, Any] = {}
    for step_key in spec.reads:
        outcome = answers.get(step_key) or {}
        found.update({name: value for name, value in outcome.items() if name in spec.fields})
    return found


def advise(spec: OrientationSpec, answers: Mapping[str, Mapping[str, Any]]) -> Advice | None:
    """Return the advice of the first rule that holds on the answers, None when none does.

    `answers` is the latest outcome of each step by step key, JSON values as stored (dates
    written YYYY-MM-DD). A rule that needs an answer not given does not hold.
    """
    values = read_answers(spec, answers)
    for rule in spec.advice:
        if holds_on_answers(rule.when, spec.fields, values):
            return Advice(
                route=rule.route,
                rule_key=rule.key,
                reason=rule.because,
                route_label=spec.routes.get(rule.route, rule.route),
            )
    return None
