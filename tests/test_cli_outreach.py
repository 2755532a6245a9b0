"""`crealux outreach ...` and `crealux support ...` in process (typer's CliRunner), against the
test's migrated instance: the same services, checked as the named user would be."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import typer
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from crealux.cli import app
from crealux_core.clock import utcnow
from crealux_core.models import OutreachAction, StructureSensitisation, SupportTime
from crealux_core.runtime import Runtime
from tests.dashboards.conftest import app_environ

runner = CliRunner()
TODAY = utcnow().date()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()


@pytest.fixture
def instance(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The commands use the test's instance; what they add to os.environ is undone after."""
    saved = dict(os.environ)
    for name, value in app_environ(runtime.settings).items():
        monkeypatch.setenv(name, value)
    yield runtime
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)


def run(command: typer.Typer, *args: str) -> Result:
    return runner.invoke(command, list(args), catch_exceptions=False)


def json_of(result: Result) -> Any:
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON: {result.stdout!r} {result.stderr!r}") from None


def add(*extra: str) -> Result:
    return run(
        app,
        "outreach",
        "add",
        "--category",
        "candidates",
        "--kind",
        "fair",
        "--date",
        YESTERDAY,
        "--title",
        "Salon du parcours du créateur",
        "--organiser",
        "integra-plus",
        "--reached",
        "40",
        "--candidates",
        "6",
        "--municipality",
        "Marche-en-Famenne",
        *extra,
    )


def test_outreach_is_recorded_listed_and_refused_from_the_command_line(
    instance: Runtime, session: Session
) -> None:
    result = add("--as", "conseillere", "--json")
    assert result.exit_code == 0, result.output
    recorded = json_of(result)
    assert recorded["category"] == "candidates"
    row = session.get(OutreachAction, recorded["id"])
    assert row is not None and (row.people_reached, row.became_candidates) == (40, 6)

    workshop = run(
        app,
        "outreach",
        "add",
        "--category",
        "prospective",
        "--kind",
        "workshop",
        "--date",
        YESTERDAY,
        "--title",
        "L'artisanat en 2030",
        "--organiser",
        "challenge",
        "--reached",
        "12",
        "--outputs",
        "Trois pistes",
        "--hours",
        "3",
        "--as",
        "coordination",
    )
    assert workshop.exit_code == 0, workshop.output
    assert "recorded: L'artisanat en 2030 (12 reached)" in workshop.stdout

    refused = add("--as", "conseillere", "--json", "--reached", "3")
    assert refused.exit_code == 2
    assert json_of(refused)["fields"] == {
        "became_candidates": "Pas plus de candidats que de personnes touchées."
    }
    unknown = run(
        app,
        "outreach",
        "add",
        "--category",
        "party",
        "--kind",
        "fair",
        "--date",
        "2999-01-01",
        "--title",
        "x",
        "--organiser",
        "nowhere",
        "--reached",
        "1",
        "--as",
        "conseillere",
    )
    assert unknown.exit_code == 2
    assert "error: invalid input" in unknown.stderr
    assert "organiser: L'organisation « nowhere » n'existe pas." in unknown.stderr
    assert "held_on: La date ne peut pas être dans le futur" in unknown.stderr
    assert "category: Choisissez parmi" in unknown.stderr

    partner = add("--as", "promsoc", "--json")
    assert partner.exit_code == 4
    nobody = add()
    assert nobody.exit_code == 2 and "--as USERNAME" in nobody.stderr
    assert len(session.exec(select(OutreachAction)).all()) == 2

    listed = run(app, "outreach", "list", "--as", "conseillere", "--json")
    assert listed.exit_code == 0, listed.output
    data = json_of(listed)
    assert data["total"] == 2
    # Newest first: the same day, the later record first.
    assert [r["title"] for r in data["rows"]] == [
        "L'artisanat en 2030",
        "Salon du parcours du créateur",
    ]
    assert data["totals"]["candidates_reached"] == 40
    assert data["totals"]["workshops_held"] == 1
    only = json_of(
        run(app, "outreach", "list", "--category", "prospective", "--as", "conseillere", "--json")
    )
    assert [r["outputs"] for r in only["rows"]] == ["Trois pistes"]
    before = json_of(
        run(app, "outreach", "list", "--to", "2020-01-01", "--as", "conseillere", "--json")
    )
    assert (before["total"], before["totals"]["candidates_reached"]) == (0, 0)
    text = run(app, "outreach", "list", "--as", "coordination")
    assert "2 action(s); candidates sensitised 40 (became candidates 6)" in text.stdout
    bad_day = run(app, "outreach", "list", "--from", "hier", "--as", "coordination")
    assert bad_day.exit_code == 2 and "--from: 'hier' is not a date" in bad_day.stderr

    deleted = run(app, "outreach", "delete", str(recorded["id"]), "--as", "conseiller")
    assert deleted.exit_code == 4  # not who recorded it
    deleted = run(app, "outreach", "delete", str(recorded["id"]), "--as", "conseillere")
    assert deleted.exit_code == 0 and "deleted" in deleted.stdout
    session.expire_all()
    assert session.get(OutreachAction, recorded["id"]) is None


def test_a_structure_sensitised_twice_counts_once_from_the_command_line(
    instance: Runtime, session: Session
) -> None:
    for name, by in (("CPAS de Durbuy", "integra-plus"), (" cpas  de DURBUY", "challenge")):
        result = run(
            app,
            "outreach",
            "structure",
            "--name",
            name,
            "--kind",
            "first_line",
            "--date",
            YESTERDAY,
            "--by",
            by,
            "--as",
            "conseillere",
            "--json",
        )
        assert result.exit_code == 0, result.output
        assert json_of(result)["structure_key"] == "cpas de durbuy"
    refused = run(
        app,
        "outreach",
        "structure",
        "--name",
        "Forem",
        "--kind",
        "friendly",
        "--date",
        YESTERDAY,
        "--by",
        "integra-plus",
        "--as",
        "conseillere",
        "--json",
    )
    assert refused.exit_code == 2
    assert list(json_of(refused)["fields"]) == ["kind"]
    assert len(session.exec(select(StructureSensitisation)).all()) == 2
    listed = json_of(run(app, "outreach", "list", "--structures", "--as", "conseillere", "--json"))
    assert listed["total"] == 2
    assert [row["times_sensitised"] for row in listed["rows"]] == [2, 2]
    assert listed["totals"]["first_line_structures"] == 1
    text = run(app, "outreach", "list", "--structures", "--as", "conseillere")
    assert "2 sensitisation(s); distinct structures: 1 first-line, 0 professional" in text.stdout


def test_support_hours_are_shown_and_corrected_with_a_reason(
    instance: Runtime, session: Session, enroll
) -> None:
    participant = str(enroll().participant_id)
    corrected = run(
        app,
        "support",
        "correct",
        "--participant",
        participant,
        "--kind",
        "interview",
        "--hours",
        "2.5",
        "--reason",
        "Entretien téléphonique non encodé",
        "--as",
        "conseillere",
        "--json",
    )
    assert corrected.exit_code == 0, corrected.output
    assert json_of(corrected)["hours"] == 2.5
    removed = run(
        app,
        "support",
        "correct",
        "--participant",
        participant,
        "--kind",
        "interview",
        "--hours",
        "-1",
        "--reason",
        "Une heure de trop",
        "--as",
        "coordination",
    )
    assert removed.exit_code == 0, removed.output
    assert "-1 h interview" in removed.stdout
    no_reason = run(
        app,
        "support",
        "correct",
        "--participant",
        participant,
        "--kind",
        "interview",
        "--hours",
        "1",
        "--reason",
        " ",
        "--as",
        "conseillere",
        "--json",
    )
    assert no_reason.exit_code == 2
    assert list(json_of(no_reason)["fields"]) == ["reason"]
    other = run(app, "support", "show", "--participant", participant, "--as", "conseiller")
    assert other.exit_code == 4

    shown = json_of(
        run(app, "support", "show", "--participant", participant, "--as", "conseillere", "--json")
    )
    assert shown["kinds"]["interview"]["corrections"] == 1.5
    assert [(c["hours"], c["by"]) for c in shown["corrections"]] == [
        (2.5, "Claire Lambert"),
        (-1, "Anne Coordination"),
    ]
    text = run(app, "support", "show", "--participant", participant, "--as", "coordination")
    assert "corrections +1.5" in text.stdout
    assert "Une heure de trop" in text.stdout
    reasons = session.exec(
        select(SupportTime.reason).where(col(SupportTime.correction)).order_by(col(SupportTime.id))
    ).all()
    assert reasons == ["Entretien téléphonique non encodé", "Une heure de trop"]
