"""Import of past records from a spreadsheet, against a real migrated database.

The files are built here from rows keyed by the layout's column keys (readable), or read from
tests/fixtures/import/ (CSV samples as a coordinator's Excel saves them).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func
from sqlmodel import Session, col, select

from crealux_core.models import (
    BusinessCreation,
    EntrySituation,
    EventKind,
    ExitSituation,
    Moment,
    Notification,
    OutreachAction,
    Participant,
    PathwayEvent,
    PathwayRun,
    Placement,
    Stay,
    StepRun,
    StepStatus,
    StructureSensitisation,
    SupportTime,
    TrainingRecord,
)
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules
from crealux_core.services.errors import Conflict, Forbidden
from crealux_core.services.events import current_step
from crealux_core.services.import_layout import (
    ERRORS_HEADER,
    LAYOUT,
    README_SHEET,
    SHEETS,
    Kind,
    read_file,
    template_bytes,
    template_header,
)
from crealux_core.services.import_values import CellError, as_date, as_int
from crealux_core.services.imports import (
    Counts,
    ImportResult,
    UnreadableFile,
    current_step_choices,
    import_records,
)
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.services.helpers import SIX_MONTHS, decide

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
TEMPLATE = Path(__file__).resolve().parents[2] / "docs" / "import-template.xlsx"
NOW = T0  # 2 November 2026


def xlsx(**sheets: list[dict[str, Any]]) -> bytes:
    """Return a workbook with one sheet per kind (named as the layout names it), headers in
    French, and a row per dict (keys: the columns' English keys)."""
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    by_name = {sheet.name: sheet for sheet in LAYOUT}
    for name, rows in sheets.items():
        layout = by_name[name]
        worksheet = workbook.create_sheet(name)
        worksheet.append([column.header for column in layout.columns])
        for row in rows:
            unknown = set(row) - {column.key for column in layout.columns}
            assert not unknown, unknown
            worksheet.append([row.get(column.key) for column in layout.columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def person(ref: str, **values: Any) -> dict[str, Any]:
    """A finished participant (left in June 2026), unless `values` say otherwise."""
    return {
        "reference": ref,
        "first_name": "Anne",
        "last_name": f"Import {ref}",
        "gender": "F",
        "birth_year": 1985,
        "municipality": "Durbuy",
        "advisor": "conseillere",
        "enrolled_on": "15/01/2026",
        "labour_status": "DELD",
        "education_level": "CITE 3-4",
        "disability": "non",
        "rural_area": "oui",
        "left_on": "30/06/2026",
        "exit_reason": "Emploi trouvé",
        "leaving_situation": "en emploi",
    } | values


def mid_way(ref: str, step: str, **values: Any) -> dict[str, Any]:
    stepping = {"current_step": step, "left_on": None, "exit_reason": None}
    return person(ref, **(stepping | {"leaving_situation": None} | values))


def run_import(
    session: Session,
    rules: Rules,
    data: bytes,
    *,
    filename: str = "historique.xlsx",
    user: str = "coordination",
    keep_valid: bool = False,
    now: datetime = NOW,
    **options: Any,
) -> ImportResult:
    return import_records(
        session=session,
        rules=rules,
        user=get_user(session=session, username=user),
        data=data,
        filename=filename,
        now=now,
        dashboard_url=DASHBOARD_URL,
        keep_valid=keep_valid,
        **options,
    )


TABLES = (
    Participant,
    PathwayRun,
    StepRun,
    Stay,
    EntrySituation,
    ExitSituation,
    TrainingRecord,
    BusinessCreation,
    Placement,
    SupportTime,
    OutreachAction,
    StructureSensitisation,
)


def table_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        model.__name__: session.exec(select(func.count()).select_from(model)).one()
        for model in TABLES
    }


def participant(session: Session, ref: str) -> Participant:
    session.expire_all()
    return session.exec(select(Participant).where(Participant.external_ref == ref)).one()


def history_file() -> bytes:
    """Two finished participants with a training, a creation and a job; one mid-way; outreach."""
    return xlsx(
        participants=[
            person("P-001", interview_hours="12,5"),
            person(
                "P-002",
                first_name="Marc",
                gender="homme",
                birth_year=1970,
                enrolled_on=datetime(2025, 9, 1),
                left_on="2026-05-31",
                exit_reason="Activité lancée",
                leaving_situation="indépendant",
                six_months_situation="indépendant",
                improved="oui",
            ),
            mid_way("P-003", "Formation", gender="X", route="formation"),
        ],
        formations=[
            {
                "participant": "P-001",
                "kind": "Qualifiante",
                "organisation": "promotion-sociale-marche",
                "ended_on": "20/05/2026",
                "completed": "oui",
                "qualification": "oui",
                "hours": 320,
            },
        ],
        creations=[
            {
                "participant": "P-002",
                "status": "principal",
                "started_on": "01/04/2026",
                "sector": "Artisanat",
                "company_number": "0403.170.701",
                "organisation": "Challenge SCRL (Village des créateurs)",
            },
        ],
        emplois=[
            {"participant": "P-001", "started_on": "15/06/2026", "contract": "Intérim"},
        ],
        sensibilisation=[
            {
                "held_on": "12/03/2026",
                "category": "candidats",
                "kind": "salon",
                "title": "Salon du parcours du créateur",
                "organiser": "integra-plus",
                "municipality": "Barvaux",
                "people_reached": 80,
                "became_candidates": 6,
                "hours": "6,5",
            },
        ],
        structures=[
            {
                "name": "CPAS de Durbuy",
                "kind": "première ligne",
                "sensitised_on": "2026-02-10",
                "by_organisation": "integra-plus",
            },
            {
                "name": "  cpas de DURBUY ",
                "kind": "première ligne",
                "sensitised_on": "2026-06-10",
                "by_organisation": "integra-plus",
            },
        ],
    )


# --- a valid file -------------------------------------------------------------------------------


def test_a_valid_file_writes_participants_their_history_and_outreach(
    session: Session, rules: Rules
) -> None:
    result = run_import(session, rules, history_file())

    assert result.ok and result.written, [str(p) for p in result.problems]
    assert {kind: (c.created, c.present, c.rejected) for kind, c in result.counts.items()} == {
        Kind.PARTICIPANTS: (3, 0, 0),
        Kind.TRAININGS: (1, 0, 0),
        Kind.CREATIONS: (1, 0, 0),
        Kind.PLACEMENTS: (1, 0, 0),
        Kind.OUTREACH: (1, 0, 0),
        Kind.STRUCTURES: (2, 0, 0),
    }
    first = participant(session, "P-001")
    assert (first.first_name, first.gender, first.birth_year) == ("Anne", "female", 1985)
    assert first.enrolled_at.date() == date(2026, 1, 15)
    [stay] = session.exec(select(Stay).where(Stay.participant_id == first.id)).all()
    assert (stay.started_on, stay.ended_on, stay.pathway_run_id) == (
        date(2026, 1, 15),
        date(2026, 6, 30),
        None,
    )
    entry = session.exec(
        select(EntrySituation).where(EntrySituation.participant_id == first.id)
    ).one()
    assert (entry.labour_status, entry.education_level, entry.age_at_entry) == (
        "long_term_unemployed",
        "isced_3_4",
        41,
    )
    assert (entry.disability, entry.rural_area, entry.minority) == ("no", "yes", None)
    [leaving] = session.exec(select(ExitSituation).where(ExitSituation.stay_id == stay.id)).all()
    assert (leaving.moment, leaving.left_on, leaving.reason, leaving.situation) == (
        Moment.LEAVING,
        date(2026, 6, 30),
        "employment_found",
        "employed",
    )
    training = session.exec(select(TrainingRecord)).one()
    assert (training.participant_id, training.kind, training.hours, training.qualification) == (
        first.id,
        "qualifying",
        320,
        True,
    )
    support = session.exec(select(SupportTime)).one()
    assert (support.kind, support.hours, support.given_on) == ("interview", 12.5, date(2026, 1, 15))
    job = session.exec(select(Placement)).one()
    assert (job.participant_id, job.contract, job.employed) == (first.id, "interim", True)

    second = participant(session, "P-002")
    creation = session.exec(select(BusinessCreation)).one()
    assert (creation.participant_id, creation.status, creation.sector) == (
        second.id,
        "principal",
        "crafts",
    )
    moments = session.exec(
        select(ExitSituation.moment, ExitSituation.situation, ExitSituation.improved)
        .where(ExitSituation.participant_id == second.id)
        .order_by(col(ExitSituation.moment))
    ).all()
    assert moments == [("leaving", "self_employed", None), ("six_months", "self_employed", True)]

    action = session.exec(select(OutreachAction)).one()
    assert (action.category, action.kind, action.people_reached, action.became_candidates) == (
        "candidates",
        "fair",
        80,
        6,
    )
    assert action.hours == 6.5
    keys = session.exec(select(StructureSensitisation.structure_key)).all()
    assert keys == ["cpas de durbuy", "cpas de durbuy"]  # sensitised twice: one structure


def test_a_finished_participant_gets_no_pathway_and_a_mid_way_one_waits_on_their_step(
    session: Session, rules: Rules
) -> None:
    result = run_import(session, rules, history_file())
    assert result.ok

    finished = participant(session, "P-001")
    assert not session.exec(
        select(PathwayRun).where(PathwayRun.participant_id == finished.id)
    ).all()
    waiting = participant(session, "P-003")
    [run] = session.exec(select(PathwayRun).where(PathwayRun.participant_id == waiting.id)).all()
    assert result.pathway_run_ids == [run.id]
    step = current_step(session, run.id or 0)
    assert step is not None
    assert (step.step_key, step.status) == ("training", StepStatus.OPEN)
    assert step.due_at is not None and step.due_at > NOW
    # One stay, the run's own, from the enrolment date; one entry, with the file's values.
    [stay] = session.exec(select(Stay).where(Stay.participant_id == waiting.id)).all()
    assert (stay.pathway_run_id, stay.started_on, stay.ended_on) == (
        run.id,
        date(2026, 1, 15),
        None,
    )
    [entry] = session.exec(
        select(EntrySituation).where(EntrySituation.participant_id == waiting.id)
    ).all()
    assert (entry.entered_on, entry.labour_status, entry.pathway_run_id) == (
        date(2026, 1, 15),
        "long_term_unemployed",
        run.id,
    )
    [note] = session.exec(
        select(PathwayEvent.note).where(
            PathwayEvent.pathway_run_id == run.id, PathwayEvent.kind == EventKind.COMMENT
        )
    ).all()
    assert note == (
        "Parcours importé depuis « historique.xlsx » (référence P-003) ; orientation : Formation"
    )
    # Prefect down: no flow run yet; the reconciler starts it (needs_flow_at is set).
    assert run.flow_run_id is None and run.needs_flow_at == NOW
    # Their advisor is told, once, whom they now follow (the finished ones are nobody's work).
    told = session.exec(
        select(Notification.title).where(col(Notification.recipient_user_id).is_not(None))
    ).all()
    assert told == [f"CREALux - nouveau participant suivi - {waiting.reference}"]


def test_each_advisor_is_told_once_of_the_participants_they_now_follow(
    session: Session, rules: Rules
) -> None:
    people = [mid_way(f"M-{n}", "orientation") for n in range(3)]
    other = mid_way("M-9", "orientation", advisor="conseiller")
    run_import(session, rules, xlsx(participants=[*people, other, person("F-1")]))
    rows = session.exec(
        select(Notification.recipient_user_id, Notification.title)
        .where(col(Notification.recipient_user_id).is_not(None))
        .order_by(col(Notification.id))
    ).all()
    advisors = {get_user(session=session, username=n).id: n for n in ("conseillere", "conseiller")}
    assert [(advisors[user_id], title) for user_id, title in rows] == [
        ("conseillere", "CREALux - 3 participants vous sont confiés"),
        (
            "conseiller",
            f"CREALux - nouveau participant suivi - {participant(session, 'M-9').reference}",
        ),
    ]


def test_the_flow_runs_of_mid_way_participants_start_after_the_commit_or_later(
    session: Session, rules: Rules, unreachable_orchestrator: PrefectOrchestrator
) -> None:
    result = run_import(session, rules, history_file(), orchestrator=unreachable_orchestrator)
    assert result.written and result.flows_started == 0
    assert len(result.pathway_run_ids) == 1


def test_the_same_file_imported_twice_changes_nothing(session: Session, rules: Rules) -> None:
    data = history_file()
    run_import(session, rules, data)
    before = table_counts(session)

    again = run_import(session, rules, data)

    assert again.ok and again.written
    assert table_counts(session) == before
    assert {kind: (c.created, c.present) for kind, c in again.counts.items()} == {
        Kind.PARTICIPANTS: (0, 3),
        Kind.TRAININGS: (0, 1),
        Kind.CREATIONS: (0, 1),
        Kind.PLACEMENTS: (0, 1),
        Kind.OUTREACH: (0, 1),
        Kind.STRUCTURES: (0, 2),
    }
    assert again.pathway_run_ids == []


def test_a_training_added_to_the_file_later_is_the_only_row_a_second_import_writes(
    session: Session, rules: Rules
) -> None:
    training = {"participant": "P-1", "kind": "sociale", "ended_on": "01/03/2026"}
    assert run_import(session, rules, xlsx(participants=[person("P-1")], formations=[training])).ok
    later = {"participant": "P-1", "kind": "qualifiante", "ended_on": "01/05/2026", "hours": 40}
    # The row order changed and a row was added: the first training is still the same one.
    result = run_import(
        session, rules, xlsx(participants=[person("P-1")], formations=[later, training])
    )
    assert (result.counts[Kind.TRAININGS].created, result.counts[Kind.TRAININGS].present) == (
        1,
        1,
    )
    kinds = session.exec(select(TrainingRecord.kind).order_by(col(TrainingRecord.id))).all()
    assert kinds == ["social", "qualifying"]


# --- errors -------------------------------------------------------------------------------------


def test_every_error_is_reported_by_sheet_row_and_column_and_nothing_is_written(
    session: Session, rules: Rules
) -> None:
    before = table_counts(session)
    data = xlsx(
        participants=[
            person("P-1"),
            person("P-2", gender="Z"),
            person("P-3", enrolled_on="31/02/2026", advisor="inconnu"),
            person("P-1", first_name=None),
        ],
        formations=[
            {"participant": "P-1", "ended_on": "01/03/2026", "hours": "beaucoup"},
            {"participant": "P-9", "ended_on": "01/03/2026"},
        ],
        sensibilisation=[
            {
                "held_on": "12/03/2030",
                "category": "candidats",
                "kind": "salon",
                "title": "Salon",
                "organiser": "nulle-part",
                "people_reached": 5,
                "became_candidates": 8,
            }
        ],
    )

    result = run_import(session, rules, data)

    assert not result.written and not result.ok
    assert [str(problem) for problem in result.problems] == [
        "Feuille « participants », ligne 3, colonne « Genre » : valeur « Z » inconnue ; attendu"
        " F, H, X ou ?",
        "Feuille « participants », ligne 4, colonne « Accompagnateur » : accompagnateur"
        " « inconnu » inconnu ; attendu l'identifiant ou le nom d'un compte",
        "Feuille « participants », ligne 4, colonne « Date d'inscription » : date « 31/02/2026 »"
        " impossible ; attendu une date comme 01/03/2026 ou 2026-03-01",
        "Feuille « participants », ligne 5, colonne « Prénom » : valeur manquante",
        "Feuille « participants », ligne 5, colonne « Référence » : référence « P-1 » déjà"
        " donnée ligne 2",
        "Feuille « formations », ligne 2, colonne « Heures » : « beaucoup » n'est pas un nombre",
        "Feuille « formations », ligne 3, colonne « Référence participant » : participant"
        " « P-9 » inconnu : absent de la feuille « participants » et jamais importé",
        "Feuille « sensibilisation », ligne 2, colonne « Date » : date « 12/03/2030 » dans le"
        " futur (aujourd'hui : 02/11/2026)",
        "Feuille « sensibilisation », ligne 2, colonne « Organisateur » : organisation"
        " « nulle-part » inconnue ; attendu la clé ou le nom d'un partenaire",
        "Feuille « sensibilisation », ligne 2, colonne « Devenues candidates » : 8 candidats"
        " pour 5 personnes touchées",
    ]
    assert table_counts(session) == before
    assert result.counts[Kind.PARTICIPANTS].rejected == 4  # P-1 twice: both rows rejected
    assert result.rejected_file is None


def test_a_participant_s_rows_must_agree_with_their_step(session: Session, rules: Rules) -> None:
    data = xlsx(
        participants=[
            person("A", left_on=None),  # finished (no step) but never left
            mid_way("B", "training", left_on="01/06/2026"),  # mid-way yet left
            mid_way("C", "nowhere"),
            person("D", left_on="01/01/2026", enrolled_on="01/02/2026"),
            mid_way("E", "orientation", exit_reason="Abandon"),
        ]
    )
    result = run_import(session, rules, data)
    messages = {(p.line, p.column): p.message for p in result.problems}
    assert messages[(2, "Date de sortie")] == (
        "obligatoire quand « Étape en cours » est vide (parcours terminé)"
    )
    assert messages[(3, "Date de sortie")].startswith(
        "un participant à l'étape « Formation » n'est pas encore sorti"
    )
    assert messages[(4, "Étape en cours")].startswith(
        "valeur « nowhere » inconnue ; attendu la clé ou l'intitulé d'une étape"
    )
    assert messages[(5, "Date de sortie")] == (
        "sortie le 01/01/2026, avant l'inscription (01/02/2026)"
    )
    assert messages[(6, "Raison de la sortie")] == (
        "sans « Date de sortie », le participant n'est pas sorti"
    )


def test_a_wrong_header_stops_the_import_before_any_row(session: Session, rules: Rules) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "participants"
    sheet.append(["Référence", "Prénom", "Nom", "Genr", "Date d'inscription"])
    sheet.append(["P-1", "Anne", "Test", "F", "01/02/2026"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = run_import(session, rules, buffer.getvalue())
    assert [str(problem) for problem in result.problems] == [
        "Feuille « participants », ligne 1, colonne « Genr » : colonne inconnue ; les colonnes"
        " sont "
        + ", ".join(f"« {column.header} »" for column in SHEETS[Kind.PARTICIPANTS].columns),
        "Feuille « participants », ligne 1, colonne « Genre » : colonne obligatoire absente de"
        " l'en-tête",
        "Feuille « participants », ligne 1, colonne « Accompagnateur » : colonne obligatoire"
        " absente de l'en-tête",
    ]
    assert not result.written


def test_only_the_coordinator_imports(session: Session, rules: Rules) -> None:
    for username in ("conseillere", "challenge"):
        with pytest.raises(Forbidden):
            run_import(session, rules, history_file(), user=username)
    assert table_counts(session)["Participant"] == 0


# --- keeping the valid rows -----------------------------------------------------------------------


def test_keep_valid_writes_the_valid_rows_and_returns_the_rejected_ones_as_a_file(
    session: Session, rules: Rules
) -> None:
    data = xlsx(
        participants=[person("OK-1"), person("BAD-1"), person("BAD-2", gender="Z")],
        formations=[
            {"participant": "OK-1", "ended_on": "01/03/2026"},
            {"participant": "BAD-1", "ended_on": "01/03/2026", "completed": "peut-être"},
            {"participant": "BAD-1", "ended_on": "01/04/2026"},
        ],
        structures=[
            {
                "name": "Forem Marche",
                "kind": "première ligne",
                "sensitised_on": "01/03/2026",
                "by_organisation": "integra-plus",
            },
            {
                "name": "Banque",
                "kind": "banque",
                "sensitised_on": "01/03/2026",
                "by_organisation": "integra-plus",
            },
        ],
    )

    result = run_import(session, rules, data, keep_valid=True)

    assert result.written and not result.ok
    assert {kind: (c.created, c.rejected) for kind, c in result.counts.items()} == {
        Kind.PARTICIPANTS: (1, 2),
        Kind.TRAININGS: (1, 2),
        Kind.STRUCTURES: (1, 1),
    }
    session.expire_all()
    refs = session.exec(select(Participant.external_ref)).all()
    assert refs == ["OK-1"]  # BAD-1 is kept whole: rejected with its training's error
    assert result.rejected_filename == "historique-a-corriger.xlsx"
    assert result.rejected_file is not None
    workbook = load_workbook(io.BytesIO(result.rejected_file))
    assert workbook.sheetnames == ["participants", "formations", "structures"]
    people = list(workbook["participants"].iter_rows(values_only=True))
    headers = [column.header for column in SHEETS[Kind.PARTICIPANTS].columns]
    assert list(people[0]) == [*headers, ERRORS_HEADER]
    assert [(row[0], row[-1]) for row in people[1:]] == [
        (
            "BAD-1",
            "Ligne 3 : rejetée avec le participant « BAD-1 » (erreur en formations, ligne 3)",
        ),
        ("BAD-2", "Ligne 4, colonne « Genre » : valeur « Z » inconnue ; attendu F, H, X ou ?"),
    ]
    trainings = list(workbook["formations"].iter_rows(values_only=True))
    assert [row[-1] for row in trainings[1:]] == [
        "Ligne 3, colonne « Terminée » : valeur « peut-être » inconnue ; attendu oui ou non",
        "Ligne 4 : rejetée avec le participant « BAD-1 » (erreur en formations, ligne 3)",
    ]
    assert [row[0] for row in workbook["structures"].iter_rows(values_only=True)][1:] == ["Banque"]

    # The coordinator fixes the rejected file and imports it: its « Erreurs » column is ignored.
    workbook["participants"]["D3"] = "F"
    workbook["formations"]["E2"] = "non"
    workbook["structures"]["B2"] = "professionnelle"
    buffer = io.BytesIO()
    workbook.save(buffer)
    fixed = run_import(session, rules, buffer.getvalue(), filename="historique-a-corriger.xlsx")
    assert fixed.ok, [str(p) for p in fixed.problems]
    session.expire_all()
    assert sorted(session.exec(select(Participant.external_ref)).all()) == [
        "BAD-1",
        "BAD-2",
        "OK-1",
    ]
    assert session.exec(select(func.count()).select_from(TrainingRecord)).one() == 3


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_files_are_recognised_by_their_header(session: Session, rules: Rules) -> None:
    people = (FIXTURES / "participants.csv").read_bytes()
    trainings = (FIXTURES / "formations.csv").read_bytes()
    assert [s.sheet.kind for s in read_file(people, "participants.csv").sheets] == [
        Kind.PARTICIPANTS
    ]
    assert [s.sheet.kind for s in read_file(trainings, "export.csv").sheets] == [Kind.TRAININGS]

    first = run_import(session, rules, people, filename="participants.csv")
    second = run_import(session, rules, trainings, filename="export.csv")

    assert first.ok and second.ok, [str(p) for p in first.problems + second.problems]
    assert first.counts[Kind.PARTICIPANTS].created == 3
    assert second.counts[Kind.TRAININGS].created == 2
    wallon = participant(session, "2024-017")
    assert (wallon.first_name, wallon.municipality, wallon.gender) == ("Jérôme", "Érezée", "male")
    assert wallon.enrolled_at.date() == date(2024, 3, 1)
    run = session.exec(select(PathwayRun).where(PathwayRun.participant_id == wallon.id)).one()
    step = current_step(session, run.id or 0)
    assert step is not None and step.step_key == "business_creation"
    hours = session.exec(select(TrainingRecord.hours).order_by(col(TrainingRecord.id))).all()
    assert hours == [120, None]


def test_a_csv_with_errors_says_where_and_a_keep_valid_import_returns_a_csv(
    session: Session, rules: Rules
) -> None:
    data = (
        "Référence;Prénom;Nom;Genre;Accompagnateur;Date d'inscription;Date de sortie\n"
        "C-1;Léa;Dubois;F;conseillere;01/02/2026;01/06/2026\n"
        "C-2;Tom;Petit;M;conseillere;01/02/2026;01/06/2026\n"
    ).encode("cp1252")  # an Excel « CSV (séparateur : point-virgule) » on Windows
    result = run_import(session, rules, data, filename="liste.csv", keep_valid=True)
    assert [str(p) for p in result.problems] == [
        "Feuille « participants », ligne 3, colonne « Genre » : valeur « M » inconnue ;"
        " attendu F, H, X ou ?"
    ]
    assert result.counts[Kind.PARTICIPANTS].created == 1
    assert result.rejected_filename == "liste-a-corriger.csv"
    assert result.rejected_file is not None
    text = result.rejected_file.decode("utf-8-sig")
    header = "Référence;Prénom;Nom;Genre;Accompagnateur;Date d'inscription;Date de sortie"
    error = "Ligne 3, colonne « Genre » : valeur « M » inconnue ; attendu F, H, X ou ?"
    assert list(csv.reader(io.StringIO(text), delimiter=";")) == [
        [*header.split(";"), "Erreurs"],
        ["C-2", "Tom", "Petit", "M", "conseillere", "01/02/2026", "01/06/2026", error],
    ]


def test_a_csv_whose_header_fits_no_kind_is_refused(session: Session, rules: Rules) -> None:
    result = run_import(session, rules, b"Nom;Adresse\nA;B\n", filename="autre.csv")
    [problem] = result.problems
    assert problem.sheet == "autre.csv" and problem.line == 1
    assert problem.message.startswith(
        "en-tête non reconnu : aucune sorte de ligne n'y a toutes ses colonnes obligatoires"
        " (participants : « Référence », « Prénom », « Nom », « Genre », « Accompagnateur »,"
        " « Date d'inscription » ; formations : « Référence participant »,"
    )


def test_an_old_excel_file_is_refused_with_what_to_do(session: Session, rules: Rules) -> None:
    with pytest.raises(UnreadableFile, match=r"\(\.xls\) : enregistrez-le au format \.xlsx"):
        run_import(session, rules, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", filename="vieux.xls")


# --- steps that open at a date computed from an earlier answer ---------------------------------


def refused_steps(rules: Rules) -> dict[str, str]:
    return {choice.key: choice.refused for choice in current_step_choices(rules) if choice.refused}


def test_a_follow_up_after_leaving_counts_from_the_file_s_leaving_date(
    session: Session, rules: Rules
) -> None:
    [dated] = [c for c in current_step_choices(rules) if c.needs and c.needs[0] == "exit.left_on"]
    long_ago = mid_way(
        "LEFT-MARCH", dated.key, left_on="02/03/2026", leaving_situation="demandeur d'emploi"
    )
    recently = mid_way("LEFT-SEPT", dated.key, left_on="01/09/2026")
    result = run_import(session, rules, xlsx(participants=[long_ago, recently]))
    assert result.ok, [str(p) for p in result.problems]

    def step_of(ref: str) -> StepRun:
        run = session.exec(
            select(PathwayRun).where(PathwayRun.participant_id == participant(session, ref).id)
        ).one()
        step = current_step(session, run.id or 0)
        assert step is not None and step.step_key == dated.key
        return step

    # Six months after 2 March 2026 has passed: the step opened with the import.
    march = step_of("LEFT-MARCH")
    assert march.status is StepStatus.OPEN and march.opened_at == NOW
    assert march.opens_at == datetime(2026, 9, 2, 8, 0, tzinfo=UTC)
    # Six months after 1 September 2026 is to come: the step waits for its date.
    september = step_of("LEFT-SEPT")
    assert september.status is StepStatus.SCHEDULED
    assert september.opens_at == datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    # Their stay ended on the day they left, with the situation on leaving.
    stay = session.exec(
        select(Stay).where(Stay.participant_id == participant(session, "LEFT-MARCH").id)
    ).one()
    assert stay.ended_on == date(2026, 3, 2)
    leaving = session.exec(select(ExitSituation).where(ExitSituation.stay_id == stay.id)).one()
    assert (leaving.moment, leaving.situation) == ("leaving", "job_seeking")


def test_a_follow_up_counting_from_an_activity_needs_the_creation_in_the_file(
    session: Session, rules: Rules
) -> None:
    [dated] = [
        c for c in current_step_choices(rules) if c.needs and c.needs[0] == "business.started_on"
    ]
    without = run_import(session, rules, xlsx(participants=[mid_way("C-1", dated.key)]))
    [problem] = without.problems
    assert (problem.column, problem.line) == ("Étape en cours", 2)
    assert problem.message.endswith(
        ": ajoutez sa création (feuille « creations ») avec sa date de début"
    )

    creation = {"participant": "C-1", "status": "principal", "started_on": "01/12/2025"}
    result = run_import(
        session, rules, xlsx(participants=[mid_way("C-1", dated.key)], creations=[creation])
    )
    assert result.ok, [str(p) for p in result.problems]
    run = session.exec(select(PathwayRun)).one()
    step = current_step(session, run.id or 0)
    assert step is not None
    assert step.opens_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 12 months after the start
    assert step.status is StepStatus.SCHEDULED


def test_a_step_whose_later_dates_need_an_answer_the_import_lacks_is_refused(
    session: Session, rules: Rules
) -> None:
    refused = refused_steps(rules)
    assert "post_creation_3m" in refused
    title = rules.pathway().steps["post_creation_3m"].title
    creation = {"participant": "C-1", "status": "principal", "started_on": "01/09/2026"}
    result = run_import(
        session,
        rules,
        xlsx(participants=[mid_way("C-1", title)], creations=[creation]),
    )
    [problem] = result.problems
    assert problem.column == "Étape en cours"
    assert problem.message == refused["post_creation_3m"]
    assert "ne peut pas être l'étape en cours d'un participant importé" in problem.message


# --- one transaction, progress ------------------------------------------------------------------


def test_a_row_the_database_refuses_at_write_time_leaves_nothing_written(
    session: Session, rules: Rules
) -> None:
    """Between the check and the write, another coordinator imports the file's last row: its
    source key refuses the last write, after everything else was flushed, and the whole import
    is rolled back."""
    structure = {
        "name": "Chambre de commerce",
        "kind": "professionnelle",
        "sensitised_on": "01/03/2026",
        "by_organisation": "integra-plus",
    }
    data = xlsx(
        participants=[person("P-1"), mid_way("P-2", "orientation")],
        formations=[{"participant": "P-1", "ended_on": "01/03/2026"}],
        structures=[structure | {"name": "CPAS de Hotton", "kind": "première ligne"}, structure],
    )
    before = table_counts(session)
    calls: list[tuple[int, int]] = []

    def meanwhile(done: int, total: int) -> None:
        calls.append((done, total))
        if done == total // 2:  # every row checked, nothing written yet
            with Session(session.get_bind(), expire_on_commit=False) as other:
                run_import(other, rules, xlsx(structures=[structure]), filename="autre.xlsx")

    with pytest.raises(Conflict, match="L'import n'a rien écrit"):
        run_import(session, rules, data, progress=meanwhile)

    assert calls and calls[0][1] == 10
    assert table_counts(session) == before | {
        "StructureSensitisation": before["StructureSensitisation"] + 1  # the other import's
    }
    # The same file imported again now counts that row as present and writes the rest.
    again = run_import(session, rules, data)
    assert again.ok and again.counts[Kind.STRUCTURES] == Counts(created=1, present=1)
    assert again.counts[Kind.PARTICIPANTS].created == 2


def test_progress_is_reported_while_checking_and_writing(session: Session, rules: Rules) -> None:
    rows = [person(f"P-{n:04d}") for n in range(250)]
    calls: list[tuple[int, int]] = []
    run_import(session, rules, xlsx(participants=rows), progress=lambda d, t: calls.append((d, t)))
    assert {total for _, total in calls} == {500}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == 500 and len(calls) >= 50


# --- the template -------------------------------------------------------------------------------


def sheet_contents(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    workbook = load_workbook(io.BytesIO(data))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in workbook.worksheets}


def test_the_checked_in_template_is_the_code_s_layout(session: Session, rules: Rules) -> None:
    """docs/import-template.xlsx is what `crealux import-template` writes: regenerate it with
    `crealux import-template docs/import-template.xlsx` when the layout changes."""
    checked_in = sheet_contents(TEMPLATE.read_bytes())
    assert checked_in == sheet_contents(template_bytes())
    assert list(checked_in) == [README_SHEET, *(sheet.name for sheet in LAYOUT)]
    for sheet in LAYOUT:
        assert list(checked_in[sheet.name][0]) == [template_header(c) for c in sheet.columns]


def test_the_template_imports_empty_without_error(session: Session, rules: Rules) -> None:
    result = run_import(session, rules, TEMPLATE.read_bytes(), filename="import-template.xlsx")
    assert result.ok and result.written and not result.notices
    assert result.total("created") == 0 and result.total("rejected") == 0


# --- cells ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "day"),
    [
        (datetime(2026, 3, 1), date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 3, 1)),
        ("2026-03-01", date(2026, 3, 1)),
        ("01/03/2026", date(2026, 3, 1)),
        ("1/3/2026", date(2026, 3, 1)),
        ("01.03.2026", date(2026, 3, 1)),
        (46082, date(2026, 3, 1)),  # an Excel day number
    ],
)
def test_dates_are_read_in_every_accepted_form(cell: Any, day: date) -> None:
    assert as_date(cell) == day


@pytest.mark.parametrize("cell", ["03/31/2026", "2026-02-30", "mars 2026", 3.5, True])
def test_dates_that_are_not_days_are_refused(cell: Any) -> None:
    with pytest.raises(CellError):
        as_date(cell)


def test_numbers_say_what_is_wrong() -> None:
    assert as_int("1 200", low=0, high=5000) == 1200
    with pytest.raises(CellError, match="n'est pas un nombre entier"):
        as_int("2,5", low=0, high=10)
    with pytest.raises(CellError, match="hors limites ; attendu de 1900 à 2026"):
        as_int(1850, low=1900, high=2026)


def test_the_refused_steps_are_computed_from_the_rules(rules: Rules) -> None:
    choices = {choice.key: choice for choice in current_step_choices(rules)}
    assert list(choices) == list(rules.pathway().steps)
    assert choices[rules.pathway().start].refused is None
    for choice in choices.values():
        assert choice.refused is None or choice.needs is None


def test_support_hours_come_from_the_file_once(session: Session, rules: Rules) -> None:
    data = xlsx(participants=[person("H-1", interview_hours=3, information_hours="1,5")])
    run_import(session, rules, data)
    run_import(session, rules, data)
    rows = session.exec(select(SupportTime.kind, SupportTime.hours)).all()
    assert sorted(rows) == [("information_session", 1.5), ("interview", 3.0)]


def test_an_old_enrolment_keeps_its_day_whatever_the_time_zone(
    session: Session, rules: Rules
) -> None:
    run_import(session, rules, xlsx(participants=[person("D-1", enrolled_on="31/12/2025")]))
    enrolled = participant(session, "D-1").enrolled_at
    assert enrolled.date() == date(2025, 12, 31)
    assert (enrolled + timedelta(hours=2)).date() == date(2025, 12, 31)


def test_a_pathway_imported_at_its_last_step_keeps_its_stay_when_it_ends(
    session: Session, rules: Rules
) -> None:
    # Imported at the situation six months after leaving (its only step run, but not the
    # pathway's first): deciding it ends the pathway; the person did enter the programme.
    row = mid_way(
        "P-010",
        "six_month_result",
        left_on="30/04/2026",
        exit_reason="Emploi trouvé",
        leaving_situation="en emploi",
    )
    assert run_import(session, rules, xlsx(participants=[row])).ok
    who = participant(session, "P-010")
    step = session.exec(
        select(StepRun).join(PathwayRun).where(PathwayRun.participant_id == who.id)
    ).one()
    assert step.step_key == "six_month_result" and step.status is StepStatus.OPEN
    decide(session, rules, step.id or 0, SIX_MONTHS, now=NOW)
    session.expire_all()
    [stay] = session.exec(select(Stay).where(Stay.participant_id == who.id)).all()
    assert stay.ended_on == date(2026, 4, 30)
    assert session.exec(select(EntrySituation).where(EntrySituation.participant_id == who.id)).one()
