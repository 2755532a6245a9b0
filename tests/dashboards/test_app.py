"""The dashboard driven through Streamlit's AppTest against a real, migrated SQLite database.

Prefect is down in these tests (the orchestrator's port is closed): completing a step commits
the decision and leaves it undelivered, which is what the dashboard must then say.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from crealux_core import clock
from crealux_core.models import Decision, StepRun, StepStatus, User
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules
from crealux_core.services.participants import list_participants
from crealux_core.services.steps import complete_step, list_steps
from crealux_core.services.users import get_user
from crealux_core.settings import Settings
from tests.conftest import T0
from tests.dashboards.conftest import APP_FILE

TIMEOUT = 30
REQUIRED = "Ce champ est obligatoire."


@pytest.fixture
def app(app_settings: Settings) -> AppTest:
    """The dashboard, started and showing its first page (sign-in)."""
    return AppTest.from_file(APP_FILE, default_timeout=TIMEOUT).run()


def sign_in(at: AppTest, username: str, password: str = "demo") -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return button(at, "Se connecter").click().run()


def button(at: AppTest, label: str) -> Button:
    matches = [widget for widget in at.button if widget.label == label]
    assert len(matches) == 1, f"expected one button {label!r}, got {[b.label for b in at.button]}"
    return matches[0]


def shown(at: AppTest) -> str:
    """Return the text of the page as a reader sees it (Markdown escapes removed)."""
    parts = [element.value for kind in ("title", "markdown", "caption") for element in at.get(kind)]
    return "\n".join(str(part) for part in parts).replace("\\", "")


def messages(at: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in at.get(kind)]


def open_step(at: AppTest, step_id: int) -> AppTest:
    return at.button(key=f"open-step-{step_id}").click().run()


def fill_first_reception(at: AppTest, step_id: int, *, skip: str | None = None) -> None:
    values = {
        "meeting_on": ("date_input", date(2026, 11, 2)),
        "consent_given": ("radio", True),
        "referred_by": ("selectbox", "cpas"),
        "expectation": ("selectbox", "creation"),
    }
    for name, (kind, value) in values.items():
        if name != skip:
            getattr(at, kind)(key=f"step-{step_id}-{name}").set_value(value)


def test_a_wrong_password_is_refused_in_french(app: AppTest) -> None:
    sign_in(app, "conseillere", "not-the-password")
    assert messages(app, "error") == ["Identifiant ou mot de passe incorrect."]
    assert "user_id" not in app.session_state
    assert [field.label for field in app.text_input] == ["Identifiant", "Mot de passe"]


def test_the_worklist_shows_an_advisor_their_open_step(app: AppTest, enroll) -> None:
    enrolled = enroll("Sophie")
    enroll("Karim", advisor="conseiller")
    sign_in(app, "conseillere")
    assert not app.exception
    assert "Premier accueil" in shown(app)
    assert "Sophie Test" in shown(app)
    assert "Karim" not in shown(app)
    assert [b.key for b in app.button] == [f"open-step-{enrolled.first_step.id}"]


@pytest.mark.parametrize(("days_after_opening", "late"), [(1, False), (8, True)])
def test_a_step_past_its_due_date_is_marked_late(
    app: AppTest, enroll, monkeypatch: pytest.MonkeyPatch, days_after_opening: int, late: bool
) -> None:
    enroll()  # opened at T0, due seven days later
    monkeypatch.setattr(clock, "utcnow", lambda: T0 + timedelta(days=days_after_opening))
    sign_in(app, "conseillere")
    badges = [text for text in messages(app, "markdown") if "badge[" in text]
    assert badges == ([":red-badge[:material/schedule: en retard]"] if late else [])
    assert f"dont {int(late)} en retard" in shown(app)


def test_an_advisor_completes_a_step_through_the_generated_form(
    app: AppTest, enroll, session: Session, rules: Rules
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    open_step(sign_in(app, "conseillere"), step_id)
    assert messages(app, "title") == ["Premier accueil"]
    fill_first_reception(app, step_id)
    app.text_area(key=f"step-{step_id}-note").input("Projet de boulangerie, très motivée.")
    button(app, "Enregistrer la décision").click().run()

    assert not app.exception
    assert messages(app, "error") == []
    assert messages(app, "success") == ["Décision enregistrée."]
    assert any("transmise automatiquement" in text for text in messages(app, "info"))
    advisor = get_user(session=session, username="conseillere")
    completed = list_steps(session=session, rules=rules, user=advisor, status=StepStatus.COMPLETED)
    assert [view.id for view in completed] == [step_id]
    decision = session.exec(select(Decision).where(Decision.step_run_id == step_id)).one()
    assert decision.outcome == {
        "meeting_on": "2026-11-02",
        "consent_given": True,
        "referred_by": "cpas",
        "expectation": "creation",
    }
    assert decision.note == "Projet de boulangerie, très motivée."
    assert decision.delivered_at is None  # Prefect is down: the reconciler delivers it later

    # The page now shows the decision, read-only, with the form's labels.
    assert "Enregistrer la décision" not in [b.label for b in app.button]
    assert "Envoyé par (prescripteur) : **CPAS**" in shown(app)
    assert "Date de l'entretien : **02/11/2026**" in shown(app)

    app.switch_page("pages/worklist.py").run()
    assert "Premier accueil" not in shown(app)
    assert any("Aucune étape ouverte" in text for text in messages(app, "info"))


def test_a_missing_answer_is_shown_under_its_field_and_nothing_is_written(
    app: AppTest, enroll, session: Session
) -> None:
    # The browser lets an advisor submit with a question unanswered; the service refuses it.
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    open_step(sign_in(app, "conseillere"), step_id)
    fill_first_reception(app, step_id, skip="expectation")
    button(app, "Enregistrer la décision").click().run()

    assert messages(app, "error") == [
        "Rien n'a été enregistré : corrigez ce qui est signalé.",
        REQUIRED,
    ]
    # In the form, the message sits right under the question left unanswered, and only there.
    form = app.get("form")[0]
    nodes = [
        (node.type, getattr(node, "label", None), getattr(node, "value", None)) for node in form
    ]
    errors = [i for i, node in enumerate(nodes) if node[0] == "error"]
    assert [nodes[i - 1][1] for i in errors] == ["Attente principale"]
    assert [nodes[i][2] for i in errors] == [REQUIRED]
    assert session.exec(select(Decision)).all() == []
    session.expire_all()
    assert session.get(StepRun, step_id).status is StepStatus.OPEN  # type: ignore[union-attr]
    assert "Enregistrer la décision" in [b.label for b in app.button]  # the form is still there


def test_a_partner_does_not_see_an_advisors_step(app: AppTest, enroll) -> None:
    enrolled = enroll()
    sign_in(app, "challenge")
    assert "Sophie" not in shown(app)
    assert any("Aucune étape ouverte" in text for text in messages(app, "info"))

    # A hidden page still opens by its address: the service refuses, the page says so.
    app.query_params["step"] = str(enrolled.first_step.id)
    app.switch_page("pages/step.py").run()
    assert not app.exception
    assert messages(app, "error") == ["Cette étape ne fait pas partie de vos dossiers."]
    assert "Sophie" not in shown(app)

    app.query_params["participant"] = str(enrolled.participant_id)
    app.switch_page("pages/timeline.py").run()
    assert messages(app, "error") == [
        "Ce participant n'est pas suivi par vous ou votre organisation."
    ]


def test_a_step_that_does_not_exist_is_reported(app: AppTest) -> None:
    sign_in(app, "conseillere")
    app.query_params["step"] = "999"
    app.switch_page("pages/step.py").run()
    assert messages(app, "error") == ["Cette étape n'existe pas."]


@pytest.mark.parametrize(
    ("username", "may_enroll"),
    [("conseillere", True), ("challenge", False), ("coordination", False)],
)
def test_only_advisors_get_the_enrolment_page(
    app: AppTest, username: str, may_enroll: bool
) -> None:
    sign_in(app, username)
    if may_enroll:
        app.switch_page("pages/enroll.py").run()
        assert messages(app, "title") == ["Inscrire un participant"]
    else:
        with pytest.raises(ValueError, match="navigation page"):
            app.switch_page("pages/enroll.py")


def test_an_advisor_enrolls_a_participant(app: AppTest, session: Session) -> None:
    sign_in(app, "conseillere").switch_page("pages/enroll.py").run()
    app.text_input[0].input("Aïcha")
    app.text_input[1].input("")
    app.selectbox[0].set_value("female")
    button(app, "Inscrire").click().run()
    assert REQUIRED in messages(app, "error")
    advisor = get_user(session=session, username="conseillere")
    assert list_participants(session=session, user=advisor) == []

    app.text_input[1].input("Diallo")
    app.number_input[0].set_value(1990)
    app.text_input[2].input("Hotton")
    button(app, "Inscrire").click().run()
    assert not app.exception
    [participant] = list_participants(session=session, user=advisor)
    assert (participant.full_name, participant.birth_year, participant.municipality) == (
        "Aïcha Diallo",
        1990,
        "Hotton",
    )
    assert messages(app, "success") == [f"Aïcha Diallo est inscrit·e ({participant.reference})."]
    assert any("démarrera automatiquement" in text for text in messages(app, "info"))
    assert messages(app, "title") == ["Aïcha Diallo"]  # their pathway page


def test_the_pathway_shows_each_decision_with_its_labels(
    app: AppTest,
    enroll,
    session: Session,
    rules: Rules,
    unreachable_orchestrator: PrefectOrchestrator,
) -> None:
    enrolled = enroll()
    complete_step(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=get_user(session=session, username="conseillere"),
        data={
            "meeting_on": "2026-11-03",
            "consent_given": False,
            "referred_by": "forem",
            "expectation": "undecided",
        },
        note="Souhaite réfléchir.",
        now=T0,
        orchestrator=unreachable_orchestrator,
    )
    sign_in(app, "conseillere").switch_page("pages/participants.py").run()
    app.button(key=f"open-participant-{enrolled.participant_id}").click().run()
    page = shown(app)
    assert "Sophie Test" in page
    assert "Premier accueil" in page
    for line in [
        "Date de l'entretien : **03/11/2026**",
        "Consentement au traitement des données recueilli : **Non**",
        "Envoyé par (prescripteur) : **Forem**",
        "Attente principale : **Pas encore décidé**",
        "par Claire Lambert",
        "En attente de transmission au parcours",
    ]:
        assert line in page
    assert "Souhaite réfléchir." in messages(app, "text")


def test_signing_out_forgets_the_user(app: AppTest) -> None:
    sign_in(app, "conseillere").switch_page("pages/sign_out.py").run()
    assert "user_id" not in app.session_state
    assert any("déconnecté" in text for text in messages(app, "info"))
    assert [field.label for field in app.text_input] == ["Identifiant", "Mot de passe"]
    # Signing in again right after (AppTest keeps requesting the sign-out page): test_browser.py


def test_a_deactivated_user_is_signed_out_at_their_next_click(
    app: AppTest, session: Session
) -> None:
    sign_in(app, "conseillere")
    user = session.exec(select(User).where(User.username == "conseillere")).one()
    user.active = False
    session.add(user)
    session.commit()
    app.run()
    assert "user_id" not in app.session_state
    assert [field.label for field in app.text_input] == ["Identifiant", "Mot de passe"]
