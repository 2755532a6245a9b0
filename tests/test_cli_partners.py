"""`crealux partners list|show` in process (typer's CliRunner), against the test's migrated
instance: what each user reads of the registry, channels masked, errors with their exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crealux.cli import Code, app
from crealux_core.runtime import Runtime
from crealux_core.settings import REPO_RULES_DIR
from tests.rules.conftest import edit
from tests.test_cli_outreach import instance, json_of, run  # noqa: F401  (fixture)

SECRET = "Zq8-secret-pw-77"


@pytest.fixture
def secret_instance(
    instance: Runtime,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Runtime:
    """The instance on a copy of the rules where the Forem's mail server takes a password (from
    an environment variable) and a Teams channel is tagged."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_RULES_DIR, rules)
    edit(
        rules / "organisations.yaml",
        '- "mailto://127.0.0.1:${CREALUX_SMTP_PORT:-8025}?from=crealux@integraplus.example'
        '&to=conseil@forem-marche.example"',
        '- "mailtos://crealux:${FOREM_SMTP_PASSWORD}@smtp.forem.example:587'
        '?to=conseil@forem-marche.example"\n'
        '      - {url: "msteams://${FOREM_TEAMS}", tags: [referrals]}',
    )
    monkeypatch.setenv("CREALUX_RULES_DIR", str(rules))
    monkeypatch.setenv("FOREM_SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("FOREM_TEAMS", "TokenA7f3e2d1c0b9a8/TokenB6e5d4c3b2a19/TokenC0f1e2d3c")
    return instance


def test_the_coordinator_reads_an_organisation_with_its_channels_masked(
    secret_instance: Runtime,
) -> None:
    result = run(app, "partners", "show", "forem-marche", "--as", "coordination", "--json")
    assert result.exit_code == 0, result.output
    forem = json_of(result)
    assert (forem["kind"], forem["kind_label"]) == (
        "public_employment",
        "Service public de l'emploi",
    )
    assert forem["channels"] == [
        {"service": "E-mail", "url": "mailtos://***@smtp.forem.example:587?to=***", "tags": []},
        {"service": "Microsoft Teams", "url": "msteams://***", "tags": ["referrals"]},
    ]
    assert forem["offers"][0]["key"] == "job-club"
    text = run(app, "partners", "show", "forem-marche", "--as", "coordination")
    assert text.exit_code == 0, text.output
    assert "    - Microsoft Teams : msteams://*** [referrals]" in text.stdout
    for output in (result.stdout, text.stdout):
        assert SECRET not in output and "TokenA" not in output and "conseil@forem" not in output
    integra = json_of(
        run(app, "partners", "show", "integra-plus", "--as", "coordination", "--json")
    )
    assert integra["own"] is True
    assert {"coordination@integraplus.example"} <= {m.get("email") for m in integra["staff"]}


@pytest.mark.parametrize("username", ["conseillere", "trusquin"])
def test_advisors_and_partners_read_no_channel_and_no_address(
    secret_instance: Runtime, username: str
) -> None:
    result = run(app, "partners", "list", "--as", username, "--json")
    assert result.exit_code == 0, result.output
    found = json_of(result)
    assert [view["key"] for view in found][:2] == ["integra-plus", "promotion-sociale-marche"]
    assert all(view["channels"] is None for view in found)
    assert all("email" not in member for view in found for member in view["staff"])
    for hidden in ("mailto", "msteams", "@integraplus.example", SECRET, "TokenA"):
        assert hidden not in result.stdout
    shown = run(app, "partners", "show", "promotion-sociale-marche", "--as", username)
    assert "    - home-help : Aide familiale (formation, 600 h, qualifiante)" in shown.stdout
    assert "Canaux" not in shown.stdout and "mailto" not in shown.stdout


def test_the_list_filters_by_kind_and_searches(instance: Runtime) -> None:  # noqa: F811
    result = run(app, "partners", "list", "--kind", "work_integration", "--as", "cpas")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "le-trusquin                  work_integration   ASBL Le Trusquin EFT"
        "  (offre : environmental-worker, eco-construction)"
    ]
    found = json_of(
        run(app, "partners", "list", "--search", "ecoconstruction", "--as", "cpas", "--json")
    )
    assert [view["key"] for view in found] == ["le-trusquin"]
    none = run(app, "partners", "list", "--kind", "first_line", "--as", "cpas")
    assert none.stdout == "Aucune organisation ne correspond.\n"


def test_errors_say_what_is_wrong_with_their_exit_code(instance: Runtime) -> None:  # noqa: F811
    unknown = run(app, "partners", "show", "forem", "--as", "cpas", "--json")
    assert unknown.exit_code == Code.NOT_FOUND
    assert json_of(unknown)["error"].startswith("no organisation 'forem' (known: challenge,")
    kind = run(app, "partners", "list", "--kind", "school", "--as", "cpas", "--json")
    assert kind.exit_code == Code.INVALID
    assert "unknown kind 'school'" in json_of(kind)["fields"]["kind"]
    nobody = run(app, "partners", "list")
    assert nobody.exit_code == Code.INVALID
    assert "--as USERNAME" in nobody.stderr
    stranger = run(app, "partners", "list", "--as", "nobody", "--json")
    assert stranger.exit_code == Code.NOT_FOUND
