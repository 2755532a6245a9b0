"""A form field says which fact it records; the loader checks it against the facts reports
know, with the file, the line and the path of the field, and the indicators file likewise."""

from __future__ import annotations

from pathlib import Path

import pytest

from crealux_core.rules import RulesError, load_rules
from crealux_core.settings import REPO_RULES_DIR
from tests.rules.conftest import ENV, edit

PATHWAY = Path("pathways") / "crealux.yaml"


def problem_of(rules_dir: Path) -> str:
    with pytest.raises(RulesError) as refused:
        load_rules(rules_dir, env=ENV)
    [problem] = refused.value.problems
    return str(problem)


def test_the_shipped_rules_record_every_fact_the_default_indicators_read() -> None:
    rules = load_rules(REPO_RULES_DIR, env=ENV)
    recorded = {
        field.records
        for step in rules.pathway().steps.values()
        for field in step.form.values()
        if field.records
    }
    assert {
        "entry.labour_status",
        "entry.education_level",
        "entry.disability",
        "exit.left_on",
        "leaving.situation",
        "six_months.situation",
        "business.status",
        "training.completed",
        "placement.employed",
    } <= recorded
    assert rules.indicators is not None and len(rules.indicators.indicators) == 9


def test_an_unknown_fact_is_refused_with_file_line_and_field(rules_dir: Path) -> None:
    edit(rules_dir / PATHWAY, "records: entry.labour_status", "records: entry.labour")
    said = problem_of(rules_dir)
    assert "crealux.yaml:" in said
    assert "steps.socio_professional_assessment.form.labour_status" in said
    assert "'entry.labour' is not a fact reports know" in said


def test_a_choice_reports_do_not_know_is_refused(rules_dir: Path) -> None:
    edit(
        rules_dir / PATHWAY,
        "          inactive: Inactif\n          employed: En emploi (y compris indépendant)",
        "          inactive: Inactif\n          retired: Retraité",
    )
    assert "not retired" in problem_of(rules_dir)


def test_a_field_of_another_type_is_refused(rules_dir: Path) -> None:
    edit(
        rules_dir / PATHWAY,
        "{type: bool, label: Formation terminée, records: training.completed}",
        "{type: bool, label: Formation terminée, records: training.hours}",
    )
    assert "training.hours is a int fact, not a bool field" in problem_of(rules_dir)


def test_an_indicator_filtering_on_a_column_its_source_lacks_is_refused(rules_dir: Path) -> None:
    edit(rules_dir / "indicators.yaml", "where: {completed: true}", "where: {sector: crafts}")
    said = problem_of(rules_dir)
    assert "indicators.yaml:" in said and "indicators.people_trained" in said
    assert "trainings cannot be filtered on 'sector'" in said


def test_an_unknown_breakdown_is_refused(rules_dir: Path) -> None:
    edit(
        rules_dir / "indicators.yaml",
        "breakdowns: [gender, age_band, organisation, municipality]",
        "breakdowns: [gender, shoe_size]",
    )
    assert "stays cannot be broken down by 'shoe_size'" in problem_of(rules_dir)
