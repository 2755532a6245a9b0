"""The terminal table and the JSON values of the report, and the tables they share."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from crealux_core.exports import report_data, report_text
from crealux_core.exports.tables import dimension_values, dimensions, percent_text
from tests.exports.sample import MALICIOUS, line, sample_report


def test_the_table_lines_up_the_numbers_under_their_headers():
    text = report_text(sample_report())
    lines = text.splitlines()
    assert lines[:5] == [
        "Rapport d'indicateurs",
        "CREALux - parcours individualisé vers l'emploi et la création d'activité",
        "Financeur : Fonds social européen (FSE+)",
        "Période : du 1er janvier 2026 au 31 décembre 2027",
        "Généré le 30 juin 2026 à 14:05",
    ]
    header = next(n for n in lines if n.startswith("Indicateur") and "Objectif" in n)
    row = next(n for n in lines if n.startswith("Candidats accompagnés"))
    assert re.fullmatch(r"Candidats accompagnés +50 +12 +24\xa0%", row)
    assert row.index("50") + 2 == header.index("Objectif") + len("Objectif")  # right-aligned
    assert "  dont indépendant à titre principal : 3," in text
    for title in ("Indicateurs communs FSE+", "Par genre", "Par âge", "Par organisation"):
        assert title in lines
    assert re.search(r"EECO03 Chômeurs de longue durée +4 +3 +1 +0 +0", text)


def test_a_long_label_wraps_under_itself_and_keeps_its_numbers_on_the_first_line():
    text = report_text(sample_report(), label_width=30)
    assert re.search(r"EECR05 En emploi, y compris +0 +0 +0 +0 +0\n  indépendant, six mois", text)


def test_json_has_keys_for_scripts_and_labels_for_people():
    data = json.loads(json.dumps(report_data(sample_report())))
    assert data["period"] == {"start": "2026-01-01", "end": "2027-12-31"}
    assert data["generated_at"] == "2026-06-30T12:05:00+00:00"
    creations = next(i for i in data["indicators"] if i["key"] == "self_employment_creations")
    assert creations["target"] == 20 and creations["achieved"] == 5 and creations["percent"] == 25.0
    assert creations["detail"] == [
        {"value": "principal", "label": "Indépendant à titre principal", "count": 3},
        {"value": "complementary", "label": "Indépendant à titre complémentaire", "count": 2},
    ]
    assert creations["breakdowns"]["gender"][3] == {
        "value": "undisclosed",
        "label": "Non précisé",
        "count": 0,
    }
    sensitised = data["indicators"][0]
    assert "gender" not in sensitised["breakdowns"]  # people reached, not participants
    assert {b["value"] for b in sensitised["breakdowns"]["municipality"]} == {"Arlon", MALICIOUS}
    assert [e["code"] for e in data["esf"]] == ["EECO01", "EECO03", "EECR05"]


def test_gender_always_comes_first_and_a_breakdown_no_line_has_is_not_shown():
    report = sample_report(by=("sector", "municipality", "gender"))
    assert dimensions(report) == ("gender", "municipality")


def test_values_come_in_the_order_of_their_labels_with_not_recorded_last():
    report = replace(
        sample_report(),
        lines=(
            line("a", "A", 6, age_band={"unknown": 1, "55_plus": 2, "18_29": 3}),
            line("b", "B", 6, municipality={"unknown": 1, "Étalle": 2, "arlon": 2, "Virton": 1}),
        ),
    )
    assert dimension_values(report, "age_band", report.lines) == ("18_29", "55_plus", "unknown")
    assert dimension_values(report, "municipality", report.lines) == (
        "arlon",
        "Étalle",
        "Virton",
        "unknown",
    )
    assert dimension_values(report, "gender", []) == ("female", "male", "non_binary", "undisclosed")


def test_percentages_are_written_the_french_way():
    assert percent_text(None) == "—"
    assert percent_text(24.0) == "24\xa0%"
    assert percent_text(12.345) == "12,3\xa0%"
