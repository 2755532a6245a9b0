"""The XLSX report read back with openpyxl, cell by cell."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from openpyxl import load_workbook

from crealux_core.exports import report_xlsx
from tests.exports.sample import MALICIOUS, MARKUP, line, sample_report

HEADER_ROW = 7  # below the five heading lines and an empty row


def workbook(**kwargs: Any) -> Any:
    return load_workbook(io.BytesIO(report_xlsx(sample_report(**kwargs))))


def rows(sheet: Any, first: int = HEADER_ROW) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in sheet.iter_rows(min_row=first)]


def test_one_sheet_for_the_indicators_one_for_esf_and_one_per_breakdown_shown():
    assert workbook().sheetnames == [
        "Indicateurs",
        "FSE+",
        "Par genre",
        "Par âge",
        "Par organisation",
        "Par commune",
    ]
    assert workbook(by=()).sheetnames == ["Indicateurs", "FSE+", "Par genre"]


def test_every_sheet_has_the_heading_on_top_and_a_bold_frozen_header():
    for sheet in workbook():
        assert [sheet.cell(row=r, column=1).value for r in range(1, 6)] == [
            "Rapport d'indicateurs",
            "CREALux - parcours individualisé vers l'emploi et la création d'activité",
            "Financeur : Fonds social européen (FSE+)",
            "Période : du 1er janvier 2026 au 31 décembre 2027",
            "Généré le 30 juin 2026 à 14:05",  # 12:05 UTC is 14:05 in Brussels in June
        ], sheet.title
        assert sheet["A1"].font.bold and sheet["A1"].font.size == 14
        assert sheet.freeze_panes == f"A{HEADER_ROW + 1}"
        header = sheet[HEADER_ROW]
        assert all(cell.font.bold for cell in header), sheet.title
        assert sheet.column_dimensions["A"].width >= 10


def test_the_indicators_sheet_cell_by_cell():
    sheet = workbook()["Indicateurs"]
    assert rows(sheet) == [
        ["Indicateur", "Objectif", "Atteint", "% de l'objectif", "Détail", "Base de l'objectif"],
        ["Candidats potentiels sensibilisés", 100, 42, 0.42, None, "objectif du programme"],
        ["Structures de 1ère ligne sensibilisées", 25, 25, 1, None, "objectif du programme"],
        ["Candidats accompagnés", 50, 12, 0.24, None, "objectif du programme"],
        [
            "(Auto) créations d'emploi",
            20,
            5,
            0.25,
            "dont indépendant à titre principal : 3, indépendant à titre complémentaire : 2",
            "objectif du programme",
        ],
        ["Personnes mises à l'emploi", 20, 0, 0, None, "objectif du programme"],
        ["Ateliers de prospective (démarche prospective)", None, 2, None, None, "pas d'objectif"],
    ]
    assert sheet["D9"].number_format == "0.0%"
    assert sheet["B9"].number_format == "#,##0"
    assert sheet["C9"].number_format == "#,##0"
    assert sheet.column_dimensions["A"].width >= 45


def test_the_esf_sheet_has_each_code_with_its_total_by_gender():
    sheet = workbook()["FSE+"]
    assert rows(sheet) == [
        ["Code", "Indicateur", "Total", "Femmes", "Hommes", "Autre genre", "Non précisé"],
        ["EECO01", "Nombre total de participants", 12, 7, 4, 1, 0],
        ["EECO03", "Chômeurs de longue durée", 4, 3, 1, 0, 0],
        ["EECR05", "En emploi, y compris indépendant, six mois après la sortie", 0, 0, 0, 0, 0],
    ]


def test_a_breakdown_sheet_has_the_indicators_as_rows_and_the_values_as_columns():
    book = workbook()
    assert rows(book["Par genre"]) == [
        ["Indicateur", "Femmes", "Hommes", "Autre genre", "Non précisé", "Total"],
        ["Candidats accompagnés", 7, 4, 1, 0, 12],
        ["(Auto) créations d'emploi", 3, 2, 0, 0, 5],
        ["Personnes mises à l'emploi", 0, 0, 0, 0, 0],  # no gender counts: zeros
    ]
    assert rows(book["Par âge"]) == [
        ["Indicateur", "18 à 29 ans", "30 à 54 ans", "Non renseigné", "Total"],
        ["Candidats accompagnés", 5, 6, 1, 12],
        ["(Auto) créations d'emploi", 0, 5, 0, 5],
        ["EECO01 Nombre total de participants", 5, 6, 1, 12],
    ]


def test_a_name_that_reads_as_a_formula_stays_text():
    book = workbook()
    sheet = book["Par commune"]
    assert rows(sheet)[0] == ["Indicateur", "'" + MALICIOUS, "Arlon", "Habay", "Total"]
    assert sheet["B7"].data_type == "s"
    formulas = [
        (s.title, c.coordinate)
        for s in book
        for row in s.iter_rows()
        for c in row
        if c.data_type == "f"
    ]
    assert formulas == []


def test_an_organisation_name_with_markup_is_written_as_it_is():
    sheet = workbook()["Par organisation"]
    assert rows(sheet)[0] == ["Indicateur", MARKUP, "Integraplus", "Total"]


def test_characters_a_workbook_cannot_hold_are_dropped_instead_of_failing():
    report = replace(
        sample_report(by=("municipality",)),
        lines=(
            line(
                "candidates_accompanied",
                "Candidats accompagnés",
                1,
                50,
                municipality={"Vir\x00ton\x1b": 1},
            ),
        ),
    )
    book = load_workbook(io.BytesIO(report_xlsx(report)))
    assert rows(book["Par commune"])[0] == ["Indicateur", "Virton", "Total"]
