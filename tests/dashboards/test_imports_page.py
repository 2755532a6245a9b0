"""The « Import » page driven through Streamlit's AppTest against a real, migrated database:
the template to download, a file uploaded and imported, its errors, the rejected rows."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect, sync_playwright
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from crealux.launcher import Supervisor, start_dashboard
from crealux_core.models import Participant, PathwayRun
from crealux_core.runtime import Runtime
from crealux_core.services.import_layout import template_bytes
from crealux_core.services.imports import ImportResult
from crealux_core.services.users import get_user
from dashboards.context import Context
from dashboards.views import imports as page
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.browser import sign_in as browser_sign_in
from tests.conftest import clean_environ
from tests.dashboards.conftest import APP_FILE, app_environ
from tests.dashboards.test_app import (  # noqa: F401  (fixtures)
    TIMEOUT,
    app,
    button,
    fixed_clock,
    messages,
    shown,
    sign_in,
    visit,
)
from tests.services.test_imports import history_file, mid_way, person, sheet_contents, xlsx

PAGE = "views/imports.py"
PAGE_FILE = APP_FILE.parent / PAGE
XLSX = page.XLSX_MIME


def import_page(at: AppTest, username: str = "coordination") -> AppTest:
    visit(sign_in(at, username), PAGE)
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, *, keep_valid: bool = False) -> AppTest:
    at.file_uploader(key="import-file").set_value((name, data, XLSX))
    at.checkbox(key="import-keep-valid").set_value(keep_valid)
    at.run()
    at.button(key="import-run").click().run()
    assert not at.exception, at.exception
    return at


def result_of(at: AppTest) -> ImportResult:
    result = at.session_state[page.RESULT]
    assert isinstance(result, ImportResult)
    return result


def test_the_coordinator_downloads_the_template_and_imports_a_file_twice(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    import_page(app)
    assert messages(app, "title") == ["Import"]
    [template] = [b for b in app.get("download_button") if b.label.startswith("Télécharger le")]
    assert template.label == "Télécharger le modèle (XLSX)"
    assert app.button(key="import-run").disabled  # nothing uploaded yet
    steps = app.table[0].value
    assert "Premier accueil" in set(steps["Étape"])

    upload(app, "historique.xlsx", history_file())

    assert messages(app, "success") == ["« historique.xlsx » importé : 9 lignes créées."]
    counts = app.table[-1].value
    assert list(counts["Feuille"]) == [
        "participants",
        "formations",
        "creations",
        "emplois",
        "sensibilisation",
        "structures",
    ]
    assert list(counts["Créées"]) == [3, 1, 1, 1, 1, 2]
    assert "1 parcours en cours démarré : chaque participant attend sur son étape." in shown(app)
    session.expire_all()
    assert len(session.exec(select(Participant)).all()) == 3
    assert len(session.exec(select(PathwayRun)).all()) == 1

    app.button(key="import-run").click().run()  # the same file again
    assert messages(app, "success") == [
        "« historique.xlsx » importé : 0 ligne créée, 9 lignes déjà présentes (importées"
        " auparavant : rien n'y change)."
    ]
    session.expire_all()
    assert len(session.exec(select(Participant)).all()) == 3


def test_a_file_with_errors_writes_nothing_and_lists_every_error(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    import_page(app)
    upload(app, "erreurs.xlsx", xlsx(participants=[person("A", gender="Z"), person("B")]))

    [error] = messages(app, "error")
    assert error.startswith("Rien n'a été écrit : 1 erreur dans « erreurs.xlsx ».")
    problems = app.table[-1]
    assert problems.value.to_dict("records") == [
        {
            "Feuille": "participants",
            "Ligne": 2,
            "Colonne": "Genre",
            "Erreur": "valeur « Z » inconnue ; attendu F, H, X ou ?",
        }
    ]
    assert not [b for b in app.get("download_button") if b.label.endswith("rejetées")]
    session.expire_all()
    assert session.exec(select(Participant)).all() == []


def test_a_row_rejected_with_its_participant_is_explained(
    app: AppTest,  # noqa: F811
) -> None:
    import_page(app)
    creation = {"participant": "A", "status": "principal", "started_on": "01/04/2026"}
    upload(app, "e.xlsx", xlsx(participants=[person("A", gender="Z")], creations=[creation]))
    assert len(app.table[-1].value) == 1  # the one error, on the participant's row
    assert "Les autres lignes rejetées le sont avec leur participant" in shown(app)


def test_keeping_the_valid_rows_offers_the_rejected_ones_to_download(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    import_page(app)
    upload(
        app,
        "liste.xlsx",
        xlsx(participants=[person("A", gender="Z"), person("B")]),
        keep_valid=True,
    )

    [warning] = messages(app, "warning")
    assert warning.startswith("« liste.xlsx » importé en partie : 1 ligne créée")
    assert "1 ligne rejetée" in warning
    labels = [b.label for b in app.get("download_button")]
    assert "Télécharger les lignes rejetées" in labels
    result = result_of(app)
    assert result.rejected_filename == "liste-a-corriger.xlsx"
    assert result.rejected_file is not None
    rows = list(load_workbook(io.BytesIO(result.rejected_file))["participants"].values)
    assert [row[0] for row in rows] == ["Référence", "A"]
    session.expire_all()
    assert session.exec(select(Participant.external_ref)).all() == ["B"]


def test_an_unreadable_file_is_said_so(app: AppTest) -> None:  # noqa: F811
    import_page(app)
    upload(app, "faux.xlsx", b"PK\x03\x04 not really a workbook")
    [error] = messages(app, "error")
    assert error.startswith("« faux.xlsx » n'est pas un classeur XLSX lisible")


def test_the_template_it_offers_imports_empty(app: AppTest, session: Session) -> None:  # noqa: F811
    import_page(app)
    upload(app, page.TEMPLATE_NAME, template_bytes())
    assert messages(app, "success") == [f"« {page.TEMPLATE_NAME} » importé : 0 ligne créée."]
    assert sheet_contents(template_bytes())["participants"][0][0] == "Référence *"


def test_an_advisor_does_not_have_the_page_and_its_address_refuses_them(
    app: AppTest,  # noqa: F811
    runtime: Runtime,
    session: Session,
) -> None:
    sign_in(app, "conseillere")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(PAGE)
    # Opened by its address all the same, the page itself refuses.
    alone = AppTest.from_file(PAGE_FILE, default_timeout=TIMEOUT)
    alone.session_state["_crealux_context"] = Context(
        runtime=runtime, user=get_user(session=session, username="conseillere")
    )
    alone.run()
    assert not alone.exception
    assert messages(alone, "error") == [page.REFUSED]
    assert not alone.file_uploader and not alone.get("download_button")


def test_the_progress_bar_says_what_it_is_doing() -> None:
    assert page.progress_text(0, 20) == "Vérification : 0 / 10 lignes"
    assert page.progress_text(10, 20) == "Vérification : 10 / 10 lignes"
    assert page.progress_text(13, 20) == "Écriture : 3 / 10 lignes"
    assert page.progress_text(20, 20) == "Écriture : 10 / 10 lignes"


@pytest.mark.browser
def test_the_coordinator_uploads_a_file_in_a_real_browser(
    runtime: Runtime, session: Session, tmp_path: Path
) -> None:
    """The page served by `streamlit run`: upload a file with errors, tick the box, import,
    and download the rejected rows (screenshots in tmp_path)."""
    require_chromium()
    supervisor = Supervisor(
        log_dir=tmp_path, env={**clean_environ(), **app_environ(runtime.settings)}
    )
    wrong = tmp_path / "historique.xlsx"
    wrong.write_bytes(
        xlsx(participants=[person("A", gender="Z"), person("B"), mid_way("C", "orientation")])
    )
    try:
        start_dashboard(supervisor, runtime.settings)
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            browser_page = chromium.new_page(
                viewport={"width": 1280, "height": 1000}, locale="fr-BE"
            )
            browser_page.set_default_timeout(30_000)
            browser_page.goto(runtime.settings.dashboard_url)
            browser_sign_in(browser_page, "coordination")
            browser_page.get_by_role("link", name="Import").click()
            expect(browser_page.get_by_role("heading", name="Import")).to_be_visible()
            with browser_page.expect_download() as template:
                browser_page.get_by_role("button", name="Télécharger le modèle (XLSX)").click()
            saved = tmp_path / "modele.xlsx"
            template.value.save_as(saved)
            assert sheet_contents(saved.read_bytes()) == sheet_contents(template_bytes())

            browser_page.locator("input[type=file]").set_input_files(str(wrong))
            browser_page.get_by_text("Écrire les lignes valides").click()
            browser_page.get_by_role("button", name="Importer", exact=True).click()
            expect(browser_page.get_by_text("importé en partie")).to_be_visible()
            browser_page.get_by_role("heading", name="1 erreur").scroll_into_view_if_needed()
            browser_page.screenshot(path=str(tmp_path / "import-partial.png"))
            with browser_page.expect_download() as rejected:
                browser_page.get_by_role("button", name="Télécharger les lignes rejetées").click()
            assert rejected.value.suggested_filename == "historique-a-corriger.xlsx"
            chromium.close()
    finally:
        supervisor.stop_all()
    session.expire_all()
    assert sorted(session.exec(select(Participant.external_ref)).all()) == ["B", "C"]
