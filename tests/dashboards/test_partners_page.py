"""« Partenaires » driven through Streamlit's AppTest against a real, migrated database: what each
role reads of the registry, and never a channel's secret."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crealux_core.rules.specs import OrganisationKind
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.dashboards.conftest import APP_FILE
from tests.dashboards.test_app import (  # noqa: F401  (fixtures)
    TIMEOUT,
    fixed_clock,
    messages,
    shown,
    sign_in,
    visit,
)
from tests.rules.conftest import edit

PAGE = "views/partners.py"
SECRET = "Zq8-secret-pw-77"
TEAMS_TOKENS = "TokenA7f3e2d1c0b9a8/TokenB6e5d4c3b2a19/TokenC0f1e2d3c4b5a6"


@pytest.fixture
def app(app_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The dashboard on a copy of the rules where the Forem is told by e-mail through a server
    with a password (from a file) and by Teams (tokens from the environment)."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_RULES_DIR, rules)
    secret = tmp_path / "smtp-password"
    secret.write_text(SECRET, encoding="utf-8")
    edit(
        rules / "organisations.yaml",
        '- "mailto://127.0.0.1:${CREALUX_SMTP_PORT:-8025}?from=crealux@integraplus.example'
        '&to=conseil@forem-marche.example"',
        f'- "mailtos://crealux:${{file:{secret}}}@smtp.forem.example:587'
        '?to=conseil@forem-marche.example"\n'
        '      - {url: "msteams://${FOREM_TEAMS}", tags: [referrals, job_club]}',
    )
    monkeypatch.setenv("CREALUX_RULES_DIR", str(rules))
    monkeypatch.setenv("FOREM_TEAMS", TEAMS_TOKENS)
    return AppTest.from_file(APP_FILE, default_timeout=TIMEOUT).run()


def partners_page(at: AppTest, username: str) -> str:
    visit(sign_in(at, username), PAGE)
    assert not at.exception, at.exception
    return shown(at)


def markdown(at: AppTest) -> str:
    """Return the page's Markdown as written (`shown` reads `***` as bold markers)."""
    return "\n".join(str(element.value) for element in at.markdown)


def test_the_coordinator_sees_channels_masked_with_their_tags(app: AppTest) -> None:
    page = partners_page(app, "coordination")
    assert "Service public de l'emploi" in page
    written = markdown(app)
    assert "- E-mail · `mailtos://***@smtp.forem.example:587?to=***` · étiquettes : aucune" in (
        written
    )
    assert "- Microsoft Teams · `msteams://***` · étiquettes : `referrals`, `job_club`" in written
    assert "claire.lambert@integraplus.example" in page
    assert "Résumé quotidien" in page  # the training centre's digest
    for hidden in (SECRET, "TokenA", "conseil@forem", "crealux:"):
        assert hidden not in written and hidden not in page


@pytest.mark.parametrize("username", ["conseillere", "promsoc"])
def test_advisors_and_partners_see_offers_and_names_only(app: AppTest, username: str) -> None:
    page = partners_page(app, username)
    assert "Aide familiale (formation, 600 h, qualifiante)" in page
    assert "Job club (recherche active d'emploi) (service)" in page
    assert "Claire Lambert (Accompagnement)" in page
    assert "Équipe Challenge (Partenaire)" in page
    assert "Canaux de notification" not in page
    for hidden in ("mailto", "msteams", "@integraplus.example", SECRET, "TokenA", "étiquettes"):
        assert hidden not in page
    own = "Enseignement de Promotion Sociale de Marche" if username == "promsoc" else "Integra Plus"
    assert f"{own}\n`" in page
    assert page.count("votre organisation") == 1


def test_the_organisations_come_under_their_kind_and_filter_by_it(app: AppTest) -> None:
    partners_page(app, "challenge")
    headings = [element.value for element in app.subheader]
    assert headings == [
        "Coordination du partenariat",
        "Centre de formation",
        "Programme d'aide à la création d'activité",
        "Entreprise de formation par le travail (EFT)",
        "Service public de l'emploi",
        "Centre public d'action sociale (CPAS)",
    ]
    app.selectbox(key="partners-kind").set_value(OrganisationKind.WORK_INTEGRATION).run()
    assert [element.value for element in app.subheader] == [
        "Entreprise de formation par le travail (EFT)"
    ]
    assert "ASBL Le Trusquin EFT" in shown(app)
    assert "Integra Plus" not in shown(app)
    app.selectbox(key="partners-kind").set_value(OrganisationKind.FIRST_LINE).run()
    assert messages(app, "info") == ["Aucune organisation ne correspond."]


def test_the_search_finds_an_offer_without_its_accent(app: AppTest) -> None:
    partners_page(app, "cpas")
    app.text_input(key="partners-search").input("ecoconstruction").run()
    assert not app.exception, app.exception
    page = shown(app)
    assert "1 organisation(s)." in page
    assert "ASBL Le Trusquin EFT" in page and "Écoconstruction" in page
