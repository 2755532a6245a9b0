from __future__ import annotations

from pathlib import Path

import pytest

from crealux_core.rules import RulesError, load_rules
from crealux_core.settings import REPO_RULES_DIR
from tests.rules.conftest import ENV, edit


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_the_shipped_rules_load() -> None:
    rules = load_rules(REPO_RULES_DIR, env=ENV)
    pathway = rules.pathway()
    assert pathway.start == "first_reception"
    assert {"first_reception", "socio_professional_assessment", "orientation"} <= set(pathway.steps)
    assert pathway.step("first_reception").due.span.delta.days == 7


def test_unknown_step_is_refused_with_file_line_and_path(rules_dir: Path) -> None:
    pathway_file = rules_dir / "pathways" / "crealux.yaml"
    edit(pathway_file, "to: business_creation}", "to: business_creaton}")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=ENV)
    [problem] = caught.value.problems
    assert problem.file == pathway_file
    assert problem.path == ("steps", "orientation", "next", 0, "to")
    assert problem.line == line_of(pathway_file, "business_creaton")
    assert "unknown step 'business_creaton'" in problem.message
    assert f"crealux.yaml:{problem.line}: steps.orientation.next[0].to:" in str(caught.value)


def test_malformed_duration_is_refused_with_file_and_path(rules_dir: Path) -> None:
    pathway_file = rules_dir / "pathways" / "crealux.yaml"
    edit(pathway_file, "due: P21D", "due: 21 days")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=ENV)
    [problem] = caught.value.problems
    assert problem.path == ("steps", "socio_professional_assessment", "due")
    assert problem.line == line_of(pathway_file, "due: 21 days")
    assert "not an ISO 8601 duration" in problem.message


def test_a_condition_reading_an_unknown_field_is_refused(rules_dir: Path) -> None:
    pathway_file = rules_dir / "pathways" / "crealux.yaml"
    edit(pathway_file, 'when: route == "training"', 'when: rout == "training"')
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=ENV)
    [problem] = caught.value.problems
    assert problem.path == ("steps", "orientation", "next", 1, "when")
    assert "unknown field 'rout'" in problem.message


def test_every_problem_is_reported_at_once(rules_dir: Path) -> None:
    pathway_file = rules_dir / "pathways" / "crealux.yaml"
    edit(pathway_file, "concerns: challenge", "concerns: nobody")
    edit(pathway_file, "start: first_reception", "start: welcome")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=ENV)
    paths = {problem.path for problem in caught.value.problems}
    assert ("start",) in paths
    assert ("steps", "business_creation", "concerns") in paths


def test_a_misspelt_key_is_refused(rules_dir: Path) -> None:
    pathway_file = rules_dir / "pathways" / "crealux.yaml"
    edit(pathway_file, "    due: P14D", "    deu: P14D")  # the first step due in 14 days
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=ENV)
    messages = {(p.path, p.message) for p in caught.value.problems}
    step = ("steps", "self_evaluation_entry")
    assert ((*step, "deu"), "unknown key (is it misspelt?)") in messages
    assert ((*step, "due"), "Field required") in messages


def test_invalid_yaml_names_its_line(rules_dir: Path) -> None:
    organisations = rules_dir / "organisations.yaml"
    organisations.write_text("organisations:\n  a: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=ENV)
    [problem] = caught.value.problems
    assert problem.file == organisations
    assert "not valid YAML" in problem.message
    assert problem.line == 3


def test_a_missing_variable_in_an_address_is_refused(rules_dir: Path) -> None:
    organisations = rules_dir / "organisations.yaml"
    edit(organisations, "${CREALUX_SMTP_PORT:-8025}", "${TEAMS_WEBHOOK}")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=ENV)
    [problem] = caught.value.problems
    assert problem.path == ("organisations", "integra-plus", "notify", 0)
    assert "${TEAMS_WEBHOOK} is not set" in problem.message


def test_variables_are_expanded_from_the_environment_given(rules_dir: Path) -> None:
    rules = load_rules(rules_dir, env={"CREALUX_SMTP_PORT": "2525"})
    assert rules.organisations["challenge"].notify[0].url.startswith("mailto://127.0.0.1:2525?")
