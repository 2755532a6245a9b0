"""The CSV report, read back as a Belgian Excel would split it."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from crealux_core.exports import report_csv
from crealux_core.exports.tables import neutralise
from tests.exports.sample import MALICIOUS, line, sample_report

HEADER = [
    "Section",
    "Code",
    "Clé",
    "Indicateur",
    "Ventilation",
    "Valeur",
    "Objectif",
    "Atteint",
    "Pourcentage",
]


def rows_of(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel reads UTF-8 only after a byte order mark"
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";")
    assert reader.fieldnames == HEADER
    return list(reader)


def test_each_indicator_has_a_total_row_with_target_achieved_and_a_decimal_comma_percent():
    rows = rows_of(report_csv(sample_report()))
    totals = {row["Clé"]: row for row in rows if not row["Ventilation"]}
    accompanied = totals["candidates_accompanied"]
    assert accompanied["Section"] == "Programme"
    assert accompanied["Indicateur"] == "Candidats accompagnés"
    assert (accompanied["Objectif"], accompanied["Atteint"]) == ("50", "12")
    assert accompanied["Pourcentage"] == "24,0"
    workshops = totals["prospective_workshops"]
    assert (workshops["Objectif"], workshops["Atteint"], workshops["Pourcentage"]) == ("", "2", "")
    esf = totals["long_term_unemployed"]
    assert (esf["Section"], esf["Code"], esf["Atteint"]) == ("FSE+", "EECO03", "4")
    assert list(totals) == [
        "candidates_sensitised",
        "first_line_structures",
        "candidates_accompanied",
        "self_employment_creations",
        "placed_in_employment",
        "prospective_workshops",
        "total",
        "long_term_unemployed",
        "employed_six_months",
    ]


def test_breakdown_rows_carry_french_labels_and_the_gender_rows_sum_to_the_total():
    rows = rows_of(report_csv(sample_report()))
    accompanied = [row for row in rows if row["Clé"] == "candidates_accompanied"]
    by_gender = {r["Valeur"]: r["Atteint"] for r in accompanied if r["Ventilation"] == "Genre"}
    assert by_gender == {"Femmes": "7", "Hommes": "4", "Autre genre": "1", "Non précisé": "0"}
    assert sum(int(n) for n in by_gender.values()) == 12
    ages = [
        (r["Valeur"], r["Atteint"]) for r in accompanied if r["Ventilation"] == "Âge à l'entrée"
    ]
    assert ages == [("18 à 29 ans", "5"), ("30 à 54 ans", "6"), ("Non renseigné", "1")]
    organisations = {
        r["Valeur"]: r["Atteint"]
        for r in accompanied
        if r["Ventilation"] == "Organisation partenaire"
    }
    assert organisations["Integraplus"] == "10"
    assert all(r["Objectif"] == r["Pourcentage"] == "" for r in accompanied if r["Ventilation"])


def test_a_participant_line_of_zero_still_has_its_gender_rows():
    rows = rows_of(report_csv(sample_report()))
    placed = [
        (r["Ventilation"], r["Valeur"], r["Atteint"])
        for r in rows
        if r["Clé"] == "placed_in_employment"
    ]
    assert placed == [
        ("", "", "0"),
        ("Genre", "Femmes", "0"),
        ("Genre", "Hommes", "0"),
        ("Genre", "Autre genre", "0"),
        ("Genre", "Non précisé", "0"),
    ]


def test_the_detail_of_creations_comes_as_its_own_rows():
    rows = rows_of(report_csv(sample_report()))
    detail = [
        (r["Valeur"], r["Atteint"])
        for r in rows
        if r["Clé"] == "self_employment_creations" and r["Ventilation"] == "Détail"
    ]
    assert detail == [
        ("Indépendant à titre principal", "3"),
        ("Indépendant à titre complémentaire", "2"),
    ]


def test_breakdowns_not_asked_for_are_left_out_but_gender_always_comes():
    rows = rows_of(report_csv(sample_report(by=())))
    assert {r["Ventilation"] for r in rows} == {"", "Genre", "Détail"}


def test_a_municipality_that_reads_as_a_formula_is_neutralised():
    rows = rows_of(report_csv(sample_report()))
    communes = {r["Valeur"]: r["Atteint"] for r in rows if r["Ventilation"] == "Commune"}
    assert communes["'" + MALICIOUS] == "12"
    assert MALICIOUS not in communes


@pytest.mark.parametrize("name", ["=1+1", "+32 63 00 00", "-2", "@SUM(A1)", "\tTab", "\rCr"])
def test_every_formula_start_gets_a_quote(name: str):
    report = replace(
        sample_report(by=("municipality",)),
        lines=(
            line(
                "candidates_accompanied",
                "Candidats accompagnés",
                3,
                50,
                municipality={name: 2, "Saint-Léger": 1, "a=b": 0},
            ),
        ),
        esf=(),
    )
    values = [r["Valeur"] for r in rows_of(report_csv(report)) if r["Ventilation"] == "Commune"]
    assert sorted(values) == sorted(["'" + name, "Saint-Léger", "a=b"])


def test_neutralise_leaves_ordinary_text_alone():
    assert neutralise("Arlon") == "Arlon"
    assert neutralise("Entreprise - Arlon") == "Entreprise - Arlon"
    assert neutralise("-5") == "'-5"
