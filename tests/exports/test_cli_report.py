"""`crealux report indicators` as a script runs it, against an instance with two participants
and an outreach action (the report service counts them; the exporters write them)."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import Session

from crealux_core.models import Gender, ParticipantCreate
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules
from crealux_core.services.outreach import record_outreach
from crealux_core.services.participants import enroll_participant
from crealux_core.services.users import get_user
from crealux_core.settings import Settings
from tests.conftest import DASHBOARD_URL
from tests.test_cli import REPO, instance_env, json_of, run_cli

ENROLLED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://example.invalid","Cliquez")'


@pytest.fixture
def env(
    settings: Settings,
    session: Session,
    rules: Rules,
    unreachable_orchestrator: PrefectOrchestrator,
) -> dict[str, str]:
    """Two participants enrolled in November 2026 (one from a municipality that reads as a
    formula), and an information session that reached 30 potential candidates in October."""
    advisor = get_user(session=session, username="conseillere")
    for first_name, gender, municipality in (
        ("Awa", Gender.FEMALE, FORMULA),
        ("Marc", Gender.MALE, "Durbuy"),
    ):
        enroll_participant(
            session=session,
            rules=rules,
            data=ParticipantCreate(
                first_name=first_name, last_name="Rapport", gender=gender, municipality=municipality
            ),
            advisor=advisor,
            now=ENROLLED_AT,
            orchestrator=unreachable_orchestrator,
            dashboard_url=DASHBOARD_URL,
        )
    record_outreach(
        session=session,
        user=advisor,
        data={
            "category": "candidates",
            "kind": "information_session",
            "held_on": "2026-10-06",
            "title": "Séance d'information à Durbuy",
            "organiser": "integra-plus",
            "municipality": "Durbuy",
            "people_reached": 30,
        },
        now=ENROLLED_AT,
    )
    return instance_env(settings, CREALUX_USER="coordination")


def one_spaced(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


def test_the_table_in_the_terminal_and_json_for_scripts(env: dict[str, str]):
    table = run_cli(env, "report", "indicators")
    assert table.returncode == 0, table.stderr
    assert "Période : du 1er janvier 2026 au 31 décembre 2027" in table.stdout
    assert re.search(r"Candidats accompagnés +50 +2 +4\xa0%", table.stdout), table.stdout
    assert re.search(r"Candidats potentiels sensibilisés +100 +30 +30\xa0%", table.stdout)
    assert "EECO01 Nombre total de participants" in table.stdout

    data = json_of(run_cli(env, "report", "indicators", "--format", "json", "--by", "age,commune"))
    assert data["period"] == {"start": "2026-01-01", "end": "2027-12-31"}
    assert data["by"] == ["gender", "age_band", "municipality"]
    lines = {line["key"]: line for line in data["indicators"]}
    accompanied = lines["candidates_accompanied"]
    assert (accompanied["target"], accompanied["achieved"], accompanied["percent"]) == (50, 2, 4.0)
    by_gender = {b["label"]: b["count"] for b in accompanied["breakdowns"]["gender"]}
    assert by_gender == {"Femmes": 1, "Hommes": 1, "Autre genre": 0, "Non précisé": 0}
    municipalities = {b["value"] for b in accompanied["breakdowns"]["municipality"]}
    assert municipalities == {FORMULA, "Durbuy"}  # JSON keeps the data as it is


def test_csv_to_standard_output_and_a_period_of_its_own(env: dict[str, str]):
    result = subprocess.run(
        [sys.executable, "-m", "crealux.cli", "report", "indicators", "--format", "csv",
         "--from", "2026-11-01", "--to", "2026-11-30", "--by", "municipality"],
        env=env, cwd=REPO, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(result.stdout.decode("utf-8-sig")), delimiter=";"))
    accompanied = {
        (r["Ventilation"], r["Valeur"]): r["Atteint"]
        for r in rows
        if r["Clé"] == "candidates_accompanied"
    }
    assert accompanied[("", "")] == "2"
    assert accompanied[("Commune", "'" + FORMULA)] == "1"
    assert accompanied[("Commune", "Durbuy")] == "1"  # as it was written
    sensitised = [r for r in rows if r["Clé"] == "candidates_sensitised" and not r["Ventilation"]]
    assert sensitised[0]["Atteint"] == "0"  # the session was in October


def test_xlsx_and_pdf_files(env: dict[str, str], tmp_path: Path):
    xlsx, pdf = tmp_path / "rapport.xlsx", tmp_path / "rapport.pdf"
    made = run_cli(env, "report", "indicators", "-f", "xlsx", "--by", "commune", "-o", str(xlsx))
    assert made.returncode == 0, made.stderr
    assert made.stdout == ""
    assert f"xlsx report written to {xlsx}" in made.stderr
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Indicateurs", "FSE+", "Par genre", "Par commune"]
    header = {cell.value for cell in book["Par commune"][7]}
    assert {"'" + FORMULA, "Durbuy"} <= header
    indicators = {row[0].value: row for row in book["Indicateurs"].iter_rows(min_row=8)}
    assert [c.value for c in indicators["Candidats accompagnés"][1:4]] == [50, 2, 0.04]

    made = run_cli(env, "report", "indicators", "--format", "pdf", "--output", str(pdf))
    assert made.returncode == 0, made.stderr
    text = one_spaced(" ".join(p.extract_text() for p in PdfReader(pdf).pages))
    assert "Période du 1er janvier 2026 au 31 décembre 2027" in text
    assert "Candidats accompagnés 50 2 4 %" in text
    assert "Candidats potentiels sensibilisés 100 30 30 %" in text
    # The charts of the Indicateurs page, drawn in the file too.
    assert "Graphiques De la sensibilisation à la création ou l'emploi" in text
    assert "Sensibilisés (candidats potentiels) 30 Accompagnés 2" in text
    assert "Entrées et sorties par mois" in text


def test_wrong_options_say_which_and_exit_2(env: dict[str, str]):
    for args, message in (
        (("--from", "2026-13-01"), "error: --from: '2026-13-01' is not a date (YYYY-MM-DD)"),
        (("--to", "demain"), "error: --to: 'demain' is not a date (YYYY-MM-DD)"),
        (("--by", "age,planet"), "error: --by: ventilation inconnue : planet"),
        (("--to", "2025-12-31"), "error: --to (2025-12-31) is before the programme's start"),
    ):
        result = run_cli(env, "report", "indicators", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith(message), result.stderr
    refused = run_cli(env, "report", "indicators", "--format", "json", "--as", "conseillere")
    assert refused.returncode == 4
    assert json_of(refused)["code"] == 4


def test_a_binary_format_is_not_written_to_a_terminal(env: dict[str, str]):
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "crealux.cli", "report", "indicators", "--format", "pdf"],
            env=env, cwd=REPO, stdout=terminal, stderr=subprocess.PIPE, text=True,
            timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 2
    assert "--format pdf writes a binary file: give --output FILE" in result.stderr
