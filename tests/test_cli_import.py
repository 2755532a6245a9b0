"""`crealux import` and `crealux import-template` as a script runs them (a subprocess, no
Prefect server): the same service as the dashboard, its counts and errors on the terminal."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import select

from crealux_core.models import Participant, PathwayRun
from crealux_core.runtime import Runtime
from crealux_core.services.import_layout import template_bytes
from crealux_core.settings import Settings
from tests.services.test_imports import history_file, person, sheet_contents, xlsx
from tests.test_cli import fresh_env, instance_env, json_of, run_cli

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"


def test_import_a_file_twice_then_one_with_errors(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    env = instance_env(settings)
    path = tmp_path / "historique.xlsx"
    path.write_bytes(history_file())

    first = run_cli(env, "import", str(path), "--as", "coordination", "--json")
    assert first.returncode == 0, first.stderr
    summary = json_of(first)
    assert summary["written"] is True and summary["problems"] == []
    assert summary["counts"]["participants"] == {"created": 3, "present": 0, "rejected": 0}
    assert len(summary["pathway_run_ids"]) == 1 and summary["flows_started"] == 0

    again = run_cli(env, "import", str(path), "--as", "coordination")
    assert again.returncode == 0, again.stderr
    assert "historique.xlsx: imported" in again.stdout
    assert "participants     created      0   already present      3" in again.stdout

    wrong = tmp_path / "erreurs.xlsx"
    wrong.write_bytes(xlsx(participants=[person("E-1", gender="Z"), person("E-2")]))
    refused = run_cli(env, "import", str(wrong), "--as", "coordination")
    assert refused.returncode == 2
    assert (
        "Feuille « participants », ligne 2, colonne « Genre » : valeur « Z » inconnue ;"
        " attendu F, H, X ou ?" in refused.stderr
    )
    assert "nothing was written (1 error(s))" in refused.stderr

    kept = run_cli(env, "import", str(wrong), "--keep-valid", "--as", "coordination")
    assert kept.returncode == 0, kept.stderr
    rejected = tmp_path / "erreurs-a-corriger.xlsx"
    assert f"rejected rows, with their errors: {rejected}" in kept.stdout
    rows = list(load_workbook(io.BytesIO(rejected.read_bytes()))["participants"].values)
    assert [row[0] for row in rows] == ["Référence", "E-1"]

    with runtime.session() as session:
        refs = sorted(session.exec(select(Participant.external_ref)).all())
        assert refs == ["E-2", "P-001", "P-002", "P-003"]
        assert len(session.exec(select(PathwayRun)).all()) == 1


def test_only_the_coordinator_imports_and_a_csv_goes_where_asked(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    env = instance_env(settings)
    people = str(FIXTURES / "participants.csv")
    refused = run_cli(env, "import", people, "--as", "conseillere", "--json")
    assert refused.returncode == 4
    assert "may not import" in json_of(refused)["error"]

    rejected = tmp_path / "a-revoir.csv"
    wrong = tmp_path / "liste.csv"
    wrong.write_text(
        "Référence;Prénom;Nom;Genre;Accompagnateur;Date d'inscription;Date de sortie\n"
        "L-1;Léa;Dubois;F;conseillere;01/02/2026;01/06/2026\n"
        "L-2;Tom;Petit;F;personne;01/02/2026;01/06/2026\n",
        encoding="utf-8",
    )
    kept = run_cli(
        env,
        "import",
        str(wrong),
        "--keep-valid",
        "--rejected",
        str(rejected),
        "--as",
        "coordination",
        "--json",
    )
    assert kept.returncode == 0, kept.stderr
    assert json_of(kept)["rejected_file"] == str(rejected)
    assert rejected.read_text(encoding="utf-8-sig").splitlines()[1].startswith("L-2;Tom;")

    unreadable = tmp_path / "faux.xlsx"
    unreadable.write_bytes(b"not a workbook")
    broken = run_cli(env, "import", str(unreadable), "--as", "coordination")
    assert broken.returncode == 2
    assert "« faux.xlsx » n'est pas un classeur XLSX lisible" in broken.stderr


def test_the_template_command_writes_the_template(tmp_path: Path) -> None:
    target = tmp_path / "modele.xlsx"
    done = run_cli(fresh_env(tmp_path / "home"), "import-template", str(target))
    assert done.returncode == 0, done.stderr
    assert sheet_contents(target.read_bytes()) == sheet_contents(template_bytes())
