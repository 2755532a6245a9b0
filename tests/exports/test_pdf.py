"""The PDF report turned back into text with pypdf, and what it must never do."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from pypdf import PdfReader

from crealux_core.domain.indicators import Funnel, MonthFlow, ReportCharts
from crealux_core.exports import report_html, report_pdf
from crealux_core.exports.pdf_report import _offline, _segments
from tests.exports.sample import MARKUP, line, sample_report


def pages_of(pdf: bytes) -> list[str]:
    """The text of each page, its spaces (no-break ones too) and line breaks made one space."""
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().replace("\xa0", " ").split()) for page in reader.pages]


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return report_pdf(sample_report())


@pytest.fixture(scope="module")
def text(pdf: bytes) -> str:
    return " ".join(pages_of(pdf))


def test_the_document_is_a4_titled_and_numbered(pdf: bytes):
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == (
        "Rapport d'indicateurs - CREALux - parcours individualisé vers l'emploi et la création"
        " d'activité"
    )
    pages = pages_of(pdf)
    for number, page in enumerate(reader.pages, start=1):
        assert round(float(page.mediabox.width)) == 595  # A4: 210 x 297 mm in points
        assert round(float(page.mediabox.height)) == 842
        assert pages[number - 1].endswith(f"Page {number} / {len(pages)}")


def test_the_heading_says_what_for_whom_over_when_and_made_when(text: str):
    assert text.startswith(
        "RAPPORT D'INDICATEURS CREALux - parcours individualisé vers l'emploi et la création"
        " d'activité Financeur Fonds social européen (FSE+)"
        " Période du 1er janvier 2026 au 31 décembre 2027 Généré le 30 juin 2026 à 14:05"
        " Objectifs objectif du programme"
    )


def test_each_indicator_comes_with_its_target_achieved_and_percentage(text: str):
    for row in (
        "Candidats potentiels sensibilisés 100 42 42 %",
        "Structures de 1ère ligne sensibilisées 25 25 100 %",
        "Candidats accompagnés 50 12 24 %",
        "(Auto) créations d'emploi dont indépendant à titre principal : 3, indépendant à titre"
        " complémentaire : 2 20 5 25 %",
        "Personnes mises à l'emploi 20 0 0 %",
        "Ateliers de prospective (démarche prospective) — 2 —",
    ):
        assert row in text


def test_the_gender_esf_and_asked_breakdowns_follow(text: str):
    for part in (
        "Répartition par genre Indicateur Femmes Hommes Autre genre Non précisé Total",
        "Candidats accompagnés 7 4 1 0 12",
        "Indicateurs communs FSE+",
        "EECO01 Nombre total de participants 7 4 1 0 12",
        "EECO03 Chômeurs de longue durée 3 1 0 0 4",
        "EECR05 En emploi, y compris indépendant, six mois après la sortie 0 0 0 0 0",
        "Répartition par âge à l'entrée Indicateur 18 à 29 ans 30 à 54 ans Non renseigné Total",
        "Répartition par organisation partenaire",
        "Répartition par commune",
    ):
        assert part in text
    assert text.index("Répartition par genre") < text.index("Indicateurs communs FSE+")


def test_a_breakdown_of_many_values_is_listed_one_indicator_under_another():
    municipalities = {f"Commune {n:02}": n for n in range(1, 10)} | {"Vide": 0}
    report = replace(
        sample_report(by=("municipality",)),
        lines=(
            line(
                "candidates_accompanied",
                "Candidats accompagnés",
                45,
                50,
                municipality=municipalities,
            ),
        ),
    )
    text = " ".join(pages_of(report_pdf(report)))
    assert "Candidats accompagnés 45 Commune 01 1 Commune 02 2" in text
    assert "Commune 09 9" in text
    assert "Vide" not in text  # a value with no one is not listed


def test_an_organisation_name_with_markup_is_printed_as_text(text: str):
    assert MARKUP in text
    html = report_html(sample_report())
    assert (
        "&lt;b&gt;Évasion&lt;/b&gt; &amp; &lt;img src=&#34;http://127.0.0.1:9/x.png&#34;&gt;"
        in html
    )
    assert "<img" not in html


class Recorder(BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.asked.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listening() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.asked = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_pdf_fetches_nothing_even_an_image_in_the_html(listening: str):
    from weasyprint import HTML

    page = (
        f'<p>Logo</p><img src="{listening}/logo.png"><link rel=stylesheet href="{listening}/s.css">'
    )
    HTML(string=page).write_pdf()
    assert sorted(Recorder.asked) == ["/logo.png", "/s.css"]  # what an ordinary fetcher does
    Recorder.asked = []
    HTML(string=page, url_fetcher=_offline()).write_pdf()
    assert Recorder.asked == []


@pytest.mark.parametrize("counts", [(1, 2, 0, 0), (1, 1, 1, 0), (1, 5, 0, 7), (3, 3, 3, 3)])
def test_the_parts_of_a_gender_bar_fill_its_track_and_never_more(counts: tuple[int, ...]) -> None:
    # 1 woman and 2 men once drew a bar on two lines (its parts' widths rounded past the track).
    parts = _segments(counts, ("a", "b", "c", "d"))
    assert len(parts) == sum(1 for n in counts if n)
    assert 99.5 < round(sum(part.width for part in parts), 6) <= 100.0
    assert 'class="stack"' in report_html(sample_report())


def test_the_funnel_and_the_monthly_flows_are_drawn_when_given() -> None:
    charts = ReportCharts(
        funnel=Funnel(
            sensitised=120, accompanied=40, created=6, employed=9, created_or_employed=14
        ),
        flows=(
            MonthFlow(date(2026, 11, 1), enrolments=12, exits=0),
            MonthFlow(date(2026, 12, 1), enrolments=7, exits=3),
            MonthFlow(date(2027, 1, 1), enrolments=0, exits=5),
        ),
    )
    drawn = " ".join(pages_of(report_pdf(sample_report(), charts)))
    assert "Graphiques De la sensibilisation à la création ou l'emploi" in drawn
    assert (
        "Sensibilisés (candidats potentiels) 120 Accompagnés 40 "
        "Ont créé leur activité ou trouvé un emploi 14"
    ) in drawn
    assert "lancé leur activité (6) ou trouvé un emploi (9), comptés une fois" in drawn
    assert "Entrées et sorties par mois 12/0 7/3 0/5 nov. déc. janv. 2026 2027" in drawn
    html = report_html(sample_report(), charts)
    assert "height: 28.0mm" in html  # November, the tallest month
    assert "Graphiques" not in " ".join(pages_of(report_pdf(sample_report())))
