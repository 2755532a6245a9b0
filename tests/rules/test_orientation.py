"""rules/orientation.yaml loads, and each mistake in it is refused with its file, line and path."""

from __future__ import annotations

from pathlib import Path

import pytest

from crealux_core.rules import RulesError, load_rules
from crealux_core.settings import REPO_RULES_DIR
from tests.rules.conftest import ENV, edit


def lines_of(path: Path, needle: str) -> list[int]:
    """Return the numbers of the lines that hold `needle` (the whole line, blanks aside)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [number for number, line in enumerate(lines, start=1) if line.strip() == needle]
    assert found, needle
    return found


def refusal(rules_dir: Path) -> RulesError:
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=ENV)
    return caught.value


def test_the_shipped_advice_loads_against_the_newest_pathway() -> None:
    orientation = load_rules(REPO_RULES_DIR, env=ENV).orientation
    assert orientation is not None
    assert (orientation.pathway, orientation.decides) == ("crealux", "orientation.route")
    assert {"expectation", "barrier_debt", "has_qualification"} <= set(orientation.fields)
    assert orientation.routes["social"] == "Accompagnement social d'abord"
    assert orientation.advice[0].route == "social"


def test_advice_is_given_only_on_versions_that_ask_every_field_it_reads() -> None:
    rules = load_rules(REPO_RULES_DIR, env=ENV)
    assert rules.orientation is not None
    # Versions 1 and 2 do not ask has_qualification; version 4 asks more than the advice
    # reads (the situations on entry), which keeps the advice on version 3 too.
    assert rules.orientation.versions == (3, 4, 5)
    assert rules.orientation_for("crealux", 3) is rules.orientation
    assert rules.orientation_for("crealux", 4) is rules.orientation
    assert rules.orientation_for("crealux", 2) is None
    assert rules.orientation_for("other", 3) is None


def test_without_the_file_there_is_no_advice(rules_dir: Path) -> None:
    (rules_dir / "orientation.yaml").unlink()
    rules = load_rules(rules_dir, env=ENV)
    assert rules.orientation is None
    assert rules.orientation_for("crealux", 3) is None


def test_a_condition_reading_an_unknown_field_is_refused_with_file_line_and_path(
    rules_dir: Path,
) -> None:
    advice_file = rules_dir / "orientation.yaml"
    edit(advice_file, 'when: expectation == "employment"', 'when: wish == "employment"')
    [problem] = refusal(rules_dir).problems
    assert problem.file == advice_file
    assert problem.path == ("advice", 3, "when")
    assert [problem.line] == lines_of(advice_file, 'when: wish == "employment"')
    assert "unknown field 'wish'" in problem.message
    assert f"orientation.yaml:{problem.line}: advice[3].when:" in str(problem)


@pytest.mark.parametrize(
    ("condition", "says"),
    [
        ("education_level > 3", "not valid: data type mismatch"),
        ("expectation == true", "compares a text with a yes/no"),
        ("barrier_debt == 1", "compares a yes/no with a number"),
        ("expectation", "gives a text, not a yes/no"),
        ('expectation == "creaton"', "'creaton' is not a choice of expectation"),
        ('project_maturity in ["idea", "sketch"]', "'sketch' is not a choice of project_maturity"),
    ],
)
def test_a_condition_of_the_wrong_type_is_refused_with_file_and_path(
    rules_dir: Path, condition: str, says: str
) -> None:
    advice_file = rules_dir / "orientation.yaml"
    edit(advice_file, 'when: expectation == "training"', f"when: {condition}")
    [problem] = refusal(rules_dir).problems
    assert (problem.file, problem.path) == (advice_file, ("advice", 4, "when"))
    assert [problem.line] == lines_of(advice_file, f"when: {condition}")
    assert says in problem.message


def test_a_route_that_is_not_a_choice_of_the_decided_field_is_refused(rules_dir: Path) -> None:
    advice_file = rules_dir / "orientation.yaml"
    edit(advice_file, "route: employment", "route: job")
    [problem] = refusal(rules_dir).problems
    assert problem.path == ("advice", 3, "route")
    assert [problem.line] == lines_of(advice_file, "route: job")
    assert "'job' is not a choice of orientation.route" in problem.message


def test_an_unknown_step_read_and_a_duplicate_key_are_reported_together(rules_dir: Path) -> None:
    advice_file = rules_dir / "orientation.yaml"
    edit(advice_file, "reads: [first_reception,", "reads: [first_welcome,")
    edit(advice_file, "key: wants_training", "key: wants_employment")
    problems = refusal(rules_dir).problems
    assert [(problem.path, problem.line) for problem in problems] == [
        (
            ("reads", 0),
            lines_of(advice_file, "reads: [first_welcome, socio_professional_assessment]")[0],
        ),
        (("advice", 4, "key"), lines_of(advice_file, "- key: wants_employment")[1]),
    ]
    assert "unknown step 'first_welcome'" in problems[0].message
    assert "duplicate key 'wants_employment'" in problems[1].message


def test_a_field_name_in_two_steps_read_is_refused(rules_dir: Path) -> None:
    advice_file = rules_dir / "orientation.yaml"
    edit(
        advice_file,
        "reads: [first_reception,",
        "reads: [first_reception, self_evaluation_entry, self_evaluation_mid,",
    )
    problems = refusal(rules_dir).problems
    assert {problem.path for problem in problems} == {("reads", 2)}
    assert "field 'confidence' is in both self_evaluation_entry and self_evaluation_mid" in str(
        problems[0]
    )


def test_a_decided_field_that_is_not_a_choice_is_refused(rules_dir: Path) -> None:
    edit(
        rules_dir / "orientation.yaml",
        "decides: orientation.route",
        "decides: orientation.decided_on",
    )
    [problem] = refusal(rules_dir).problems
    assert problem.path == ("decides",)
    assert "not a choice field of that step (choice fields: route)" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "path", "says"),
    [
        ("pathway: crealux", "pathway: crealuxe", ("pathway",), "unknown pathway 'crealuxe'"),
        ("decides: orientation.route", "decides: route", ("decides",), "should match pattern"),
        (
            "    because: Le participant souhaite se former.",
            "",
            ("advice", 4, "because"),
            "Field required",
        ),
        ("\nadvice:", "\nroutes: {}\nadvice:", ("routes",), "unknown key"),
    ],
)
def test_the_shape_of_the_file_is_checked(
    rules_dir: Path, old: str, new: str, path: tuple[str | int, ...], says: str
) -> None:
    edit(rules_dir / "orientation.yaml", old, new)
    [problem] = refusal(rules_dir).problems
    assert problem.path == path
    assert says in problem.message


def test_a_broken_pathway_file_is_reported_alone_not_as_advice_on_an_older_version(
    rules_dir: Path,
) -> None:
    pathway_file = rules_dir / "pathways" / "crealux.yaml"
    edit(pathway_file, "due: P21D", "due: 21 days")
    problems = refusal(rules_dir).problems
    assert {problem.file for problem in problems} == {pathway_file}
