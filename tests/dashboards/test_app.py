"""The dashboard driven through Streamlit's AppTest against a real, migrated database.

Prefect is unreachable in these tests (the orchestrator's port is closed, or it accepts and never
answers): every input is an event committed with its transition, so a submit opens the next step
at once all the same, and the page never waits for Prefect.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from crealux_core import clock
from crealux_core.models import EventKind, PathwayEvent, PathwayRun, StepRun, StepStatus, User, Wait
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules
from crealux_core.rules.forms import NOTE_MAX_CHARS
from crealux_core.runtime import Runtime
from crealux_core.services import worklist as worklist_services
from crealux_core.services.participants import list_participants
from crealux_core.services.processes import ProcessState, ProcessStatus, write_process_status
from crealux_core.services.steps import list_steps, submit_decision
from crealux_core.services.users import get_user
from crealux_core.settings import Settings
from dashboards.context import Context
from tests.conftest import DASHBOARD_URL, T0
from tests.dashboards.conftest import APP_FILE

TIMEOUT = 30
REQUIRED = "Ce champ est obligatoire."
NOW = T0 + timedelta(minutes=15)  # 10:15 in Brussels
STUCK_PAGE_FILE = APP_FILE.parent / "views" / "stuck.py"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard's clock reads 2 November 2026, 10:15 in Brussels (the steps open at 10:00)."""
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)


@pytest.fixture
def app(app_settings: Settings) -> AppTest:
    """The dashboard, started and showing its first page (sign-in)."""
    return AppTest.from_file(APP_FILE, default_timeout=TIMEOUT).run()


def new_tab(app_settings: Settings) -> AppTest:
    """Another browser tab: its own Streamlit session on the same dashboard."""
    return AppTest.from_file(APP_FILE, default_timeout=TIMEOUT).run()


def sign_in(at: AppTest, username: str, password: str = "demo") -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return button(at, "Se connecter").click().run()


def button(at: AppTest, label: str) -> Button:
    matches = [widget for widget in at.button if widget.label == label]
    assert len(matches) == 1, f"expected one button {label!r}, got {[b.label for b in at.button]}"
    return matches[0]


def labels(at: AppTest) -> list[str]:
    return [widget.label for widget in at.button]


def shown(at: AppTest) -> str:
    """Return the text of the page as a reader sees it (Markdown escapes and bold removed)."""
    kinds = ("title", "subheader", "markdown", "caption", "text")
    parts = [element.value for kind in kinds for element in at.get(kind)]
    return "\n".join(str(part) for part in parts).replace("\\", "").replace("**", "")


def messages(at: AppTest, kind: str) -> list[str]:
    return [str(element.value).replace("\\", "") for element in at.get(kind)]


def open_step(at: AppTest, step_id: int) -> AppTest:
    return at.button(key=f"open-step-{step_id}").click().run()


def visit(at: AppTest, page: str) -> AppTest:
    """Open a page by its address; later clicks go wherever the page sends them.

    (AppTest.switch_page keeps requesting that page on every later run, even after the app
    itself switched to another one: forget it once it has been shown.)
    """
    at.switch_page(page).run()
    at._page_hash = ""
    return at


def go_to_step(at: AppTest, step_id: int) -> AppTest:
    """Open a step by its address, as a link in a notification does."""
    at.query_params["step"] = str(step_id)
    return visit(at, "views/step.py")


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


def events_of(session: Session, step_id: int) -> list[PathwayEvent]:
    session.expire_all()
    return list(
        session.exec(
            select(PathwayEvent)
            .where(PathwayEvent.step_run_id == step_id)
            .order_by(col(PathwayEvent.id))
        ).all()
    )


def step_row(session: Session, step_id: int) -> StepRun:
    session.expire_all()
    step = session.get(StepRun, step_id)
    assert step is not None
    return step


def open_steps(session: Session, rules: Rules, username: str) -> list[tuple[str, str]]:
    session.expire_all()  # read what the dashboard committed
    user = get_user(session=session, username=username)
    return [
        (view.participant_name, view.step_key)
        for view in list_steps(session=session, rules=rules, user=user, status=StepStatus.OPEN)
    ]


# --- signing in, the worklist --------------------------------------------------------------------


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


def test_a_scheduled_step_waits_outside_the_worklist_and_says_when_it_opens(
    app: AppTest, enroll, session: Session
) -> None:
    # A step that opens later (`opens:` in the rules) has no opening or due date yet.
    later, undated = enroll("Sophie"), enroll("Karim")
    scheduled = step_row(session, later.first_step.id or 0)
    scheduled.status, scheduled.opened_at, scheduled.due_at = StepStatus.SCHEDULED, None, None
    scheduled.opens_at = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    no_due_date = step_row(session, undated.first_step.id or 0)
    no_due_date.due_at = None
    session.add_all([scheduled, no_due_date])
    session.commit()

    sign_in(app, "conseillere")
    assert not app.exception
    assert "Sophie" not in shown(app)  # only open steps are in "Mes étapes"
    assert "Karim Test" in shown(app)
    assert "Sans échéance" in shown(app)
    assert "dont 0 en retard" in shown(app)

    go_to_step(app, later.first_step.id or 0)
    assert not app.exception
    assert "s'ouvrira le 01/02/2027" in shown(app)
    assert "Enregistrer la décision" not in labels(app)
    app.query_params["participant"] = str(later.participant_id)
    visit(app, "views/timeline.py")
    assert "s'ouvrira le 01/02/2027" in shown(app)


# --- deciding a step -----------------------------------------------------------------------------


def test_submitting_a_step_opens_the_next_step_at_once_with_prefect_unreachable(
    app: AppTest, enroll, session: Session, rules: Rules
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    open_step(sign_in(app, "conseillere"), step_id)
    assert messages(app, "title") == ["Premier accueil"]
    fill_first_reception(app, step_id)
    app.text_area(key=f"step-{step_id}-note").input("Projet de boulangerie, très motivée.")
    started = time.perf_counter()
    button(app, "Enregistrer la décision").click().run()
    elapsed = time.perf_counter() - started

    assert not app.exception
    assert messages(app, "error") == []
    assert messages(app, "success") == ["Décision enregistrée."]
    assert not any("transmise" in text for text in messages(app, "info"))
    assert "Étape suivante : Auto-évaluation d'entrée" in shown(app)
    assert elapsed < 5, f"the submit took {elapsed:.1f} s"

    # In the database, at once: the decision is an event, and the next step is open.
    [decision] = events_of(session, step_id)
    assert decision.kind is EventKind.DECISION
    assert decision.payload == {
        "meeting_on": "2026-11-02",
        "consent_given": True,
        "referred_by": "cpas",
        "expectation": "creation",
    }
    assert decision.note == "Projet de boulangerie, très motivée."
    assert step_row(session, step_id).status is StepStatus.COMPLETED
    assert open_steps(session, rules, "conseillere") == [("Sophie Test", "self_evaluation_entry")]

    # The page shows the decision, read-only, with the form's labels, who and when.
    assert "Enregistrer la décision" not in labels(app)
    page = shown(app)
    assert "Décision · Claire Lambert · 02/11/2026 10:15" in page
    assert "Envoyé par (prescripteur) : CPAS" in page
    assert "Date de l'entretien : 02/11/2026" in page
    assert "Projet de boulangerie, très motivée." in messages(app, "text")

    # The next step is the advisor's: it opens from here.
    [following] = [b for b in app.button if b.label == "Ouvrir"]
    following.click().run()
    assert messages(app, "title") == ["Auto-évaluation d'entrée"]
    assert messages(app, "success") == []  # said once, on the step it was about
    assert "Enregistrer la décision" in labels(app)

    # And the worklist has it too.
    visit(app, "views/worklist.py")
    assert "Auto-évaluation d'entrée" in shown(app)
    assert "Premier accueil" not in shown(app)


@pytest.fixture
def silent_prefect() -> Iterator[socket.socket]:
    """A 'Prefect server' that accepts connections and never answers (a very slow Prefect)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server
    server.close()


def test_a_submit_does_not_wait_for_a_prefect_that_does_not_answer(
    app_settings: Settings,
    enroll,
    session: Session,
    rules: Rules,
    silent_prefect: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The run waits on its step in Prefect, so the submit wakes it: Prefect takes the request
    # and never answers (the orchestrator gives up after 10 s).
    monkeypatch.setenv("CREALUX_PREFECT_PORT", str(silent_prefect.getsockname()[1]))
    enrolled = enroll()
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert run is not None
    run.flow_run_id = str(uuid4())
    session.add(run)
    session.add(Wait(pathway_run_id=run.id or 0, flow_run_id=run.flow_run_id, created_at=T0))
    session.commit()
    step_id = enrolled.first_step.id or 0

    app = new_tab(app_settings)
    go_to_step(sign_in(app, "conseillere"), step_id)
    fill_first_reception(app, step_id)
    started = time.perf_counter()
    button(app, "Enregistrer la décision").click().run()
    elapsed = time.perf_counter() - started

    assert messages(app, "success") == ["Décision enregistrée."]
    assert elapsed < 5, f"the page waited {elapsed:.1f} s for Prefect"
    assert open_steps(session, rules, "conseillere") == [("Sophie Test", "self_evaluation_entry")]
    silent_prefect.settimeout(5)
    connection, _ = silent_prefect.accept()  # the resume was sent, from the background
    connection.close()


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
    assert events_of(session, step_id) == []
    assert step_row(session, step_id).status is StepStatus.OPEN
    assert "Enregistrer la décision" in labels(app)  # the form is still there


def test_the_note_is_limited_in_the_browser_too(app: AppTest, enroll) -> None:
    enrolled = enroll()
    open_step(sign_in(app, "conseillere"), enrolled.first_step.id or 0)
    note = app.text_area(key=f"step-{enrolled.first_step.id}-note")
    assert note.proto.max_chars == NOTE_MAX_CHARS


@pytest.mark.parametrize("note", ["Vu aussi au CPAS ce matin.", ""])
def test_a_second_tab_is_told_who_decided_and_its_note_is_kept(
    app: AppTest, app_settings: Settings, enroll, session: Session, note: str
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    first, second = app, new_tab(app_settings)
    for tab in (first, second):
        go_to_step(sign_in(tab, "conseillere"), step_id)
        fill_first_reception(tab, step_id)
    button(first, "Enregistrer la décision").click().run()
    assert messages(first, "success") == ["Décision enregistrée."]

    second.text_area(key=f"step-{step_id}-note").input(note)
    button(second, "Enregistrer la décision").click().run()

    assert not second.exception
    assert messages(second, "error") == []
    expected = "Cette étape a déjà été décidée par Claire Lambert le 02/11/2026 à 10:15."
    if note:
        expected += " Votre note a été gardée comme commentaire."
    assert messages(second, "warning") == [expected]
    assert "Enregistrer la décision" not in labels(second)  # the page shows what was decided
    kinds = [(event.kind, event.note) for event in events_of(session, step_id)]
    assert kinds == [(EventKind.DECISION, None)] + ([(EventKind.COMMENT, note)] if note else [])
    if note:
        assert "Commentaire · Claire Lambert" in shown(second)
        assert note in messages(second, "text")


@pytest.mark.parametrize("action", ["skip", "reassign"])
def test_a_second_tab_that_steers_a_decided_step_is_told_who_decided(
    app: AppTest, app_settings: Settings, enroll, session: Session, action: str
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    first, second = app, new_tab(app_settings)
    for tab in (first, second):
        go_to_step(sign_in(tab, "conseillere"), step_id)
    fill_first_reception(first, step_id)
    button(first, "Enregistrer la décision").click().run()

    if action == "skip":
        second.text_area(key=f"step-{step_id}-skip-reason").input("Fait ailleurs.")
        button(second, "Passer l'étape").click().run()
        consequence = "Votre raison a été gardée comme commentaire."
        kept = [EventKind.DECISION, EventKind.COMMENT]
    else:
        second.selectbox(key=f"step-{step_id}-reassign-assignee").set_value(
            get_user(session=session, username="conseiller").id
        )
        button(second, "Réassigner").click().run()
        consequence = "Elle n'a pas été réassignée."
        kept = [EventKind.DECISION]
    assert not second.exception
    assert messages(second, "error") == []
    assert messages(second, "warning") == [
        "Cette étape a déjà été décidée par Claire Lambert le 02/11/2026 à 10:15. " + consequence
    ]
    assert [event.kind for event in events_of(session, step_id)] == kept


# --- skipping, reassigning -----------------------------------------------------------------------


def test_the_advisor_skips_a_step_with_a_reason(
    app: AppTest, enroll, session: Session, rules: Rules
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    go_to_step(sign_in(app, "conseillere"), step_id)
    button(app, "Passer l'étape").click().run()
    assert messages(app, "error") == ["Indiquez pourquoi l'étape est passée."]
    assert events_of(session, step_id) == []

    app.text_area(key=f"step-{step_id}-skip-reason").input("Entretien fait par le CPAS.")
    button(app, "Passer l'étape").click().run()

    assert not app.exception
    assert messages(app, "success") == ["Étape passée."]
    assert "Étape suivante : Auto-évaluation d'entrée" in shown(app)
    [skip] = events_of(session, step_id)
    assert (skip.kind, skip.note) == (EventKind.SKIP, "Entretien fait par le CPAS.")
    assert step_row(session, step_id).status is StepStatus.SKIPPED
    assert open_steps(session, rules, "conseillere") == [("Sophie Test", "self_evaluation_entry")]
    assert "Étape passée · Claire Lambert · 02/11/2026 10:15" in shown(app)
    assert "Entretien fait par le CPAS." in messages(app, "text")
    assert "Passer l'étape" not in labels(app)  # a closed step is not steered


def test_the_advisor_gives_a_step_to_a_colleague(
    app: AppTest, enroll, session: Session, rules: Rules
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    go_to_step(sign_in(app, "conseillere"), step_id)
    assert "confiée à Claire Lambert" in shown(app)
    app.selectbox(key=f"step-{step_id}-reassign-assignee").set_value(
        get_user(session=session, username="conseiller").id
    )
    app.text_area(key=f"step-{step_id}-reassign-note").input("Je suis en congé.")
    button(app, "Réassigner").click().run()

    assert not app.exception
    assert messages(app, "success") == ["Étape confiée à Marc Jacquemin."]
    assert open_steps(session, rules, "conseiller") == [("Sophie Test", "first_reception")]
    assert open_steps(session, rules, "conseillere") == []
    assert "Réassignation · Claire Lambert" in shown(app)
    assert "Confiée à Marc Jacquemin." in shown(app)
    # She follows the participant still, so she may steer the step, not decide it any more.
    assert "Enregistrer la décision" not in labels(app)
    assert "Passer l'étape" in labels(app)


# --- a pathway that cannot continue, an unexpected error -----------------------------------------


def edit_definition(session: Session, pathway_run_id: int) -> None:
    """Make the run's definition differ from the one it started on (rules edited in place)."""
    run = session.get(PathwayRun, pathway_run_id)
    assert run is not None
    run.definition_digest = "0" * 64
    session.add(run)
    session.commit()


def test_a_pathway_whose_definition_changed_says_so_in_a_sentence(
    app: AppTest, enroll, session: Session
) -> None:
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    go_to_step(sign_in(app, "conseillere"), step_id)
    fill_first_reception(app, step_id)
    edit_definition(session, enrolled.pathway_run_id)  # while the form is open

    button(app, "Enregistrer la décision").click().run()
    assert not app.exception
    [error] = messages(app, "error")
    assert error.startswith("Ce parcours ne peut pas continuer : ")
    assert events_of(session, step_id) == []

    app.run()  # opened again
    assert not app.exception
    [error] = messages(app, "error")
    assert error.startswith("Ce parcours ne peut pas continuer : ")
    assert "Traceback" not in shown(app)


def test_an_unexpected_error_is_a_sentence_not_a_traceback(
    app: AppTest, enroll, monkeypatch: pytest.MonkeyPatch
) -> None:
    enroll()

    def broken(**_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(worklist_services, "worklist", broken)
    sign_in(app, "conseillere")
    assert not app.exception
    [error] = messages(app, "error")
    assert error.startswith("Une erreur inattendue s'est produite.")
    assert "boom" not in error


# --- who sees what -------------------------------------------------------------------------------


def test_a_partner_does_not_see_an_advisors_step(app: AppTest, enroll) -> None:
    enrolled = enroll()
    sign_in(app, "challenge")
    assert "Sophie" not in shown(app)
    assert any("Aucune étape ouverte" in text for text in messages(app, "info"))

    # A hidden page still opens by its address: the service refuses, the page says so.
    go_to_step(app, enrolled.first_step.id or 0)
    assert not app.exception
    assert messages(app, "error") == ["Cette étape ne fait pas partie de vos dossiers."]
    assert "Sophie" not in shown(app)

    app.query_params["participant"] = str(enrolled.participant_id)
    visit(app, "views/timeline.py")
    assert messages(app, "error") == [
        "Ce participant n'est pas suivi par vous ou votre organisation."
    ]


def test_a_step_that_does_not_exist_is_reported(app: AppTest) -> None:
    sign_in(app, "conseillere")
    go_to_step(app, 999)
    assert messages(app, "error") == ["Cette étape n'existe pas."]


@pytest.mark.parametrize(
    ("username", "may_enroll"),
    [("conseillere", True), ("challenge", False), ("coordination", True)],
)
def test_advisors_and_the_coordinator_get_the_enrolment_page(
    app: AppTest, username: str, may_enroll: bool
) -> None:
    sign_in(app, username)
    if may_enroll:
        visit(app, "views/enroll.py")
        assert messages(app, "title") == ["Inscrire un participant"]
    else:
        with pytest.raises(ValueError, match="navigation page"):
            app.switch_page("views/enroll.py")


def test_an_advisor_enrolls_a_participant(app: AppTest, session: Session, rules: Rules) -> None:
    visit(sign_in(app, "conseillere"), "views/enroll.py")
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
    started = time.perf_counter()
    button(app, "Inscrire").click().run()
    elapsed = time.perf_counter() - started
    assert not app.exception
    [participant] = list_participants(session=session, user=advisor)
    assert (participant.full_name, participant.birth_year, participant.municipality) == (
        "Aïcha Diallo",
        1990,
        "Hotton",
    )
    assert messages(app, "success") == [f"Aïcha Diallo est inscrit·e ({participant.reference})."]
    assert messages(app, "info") == []  # the pathway is on its first step: nothing to wait for
    assert messages(app, "title") == ["Aïcha Diallo"]  # their pathway page
    assert "Premier accueil" in shown(app)
    assert open_steps(session, rules, "conseillere") == [("Aïcha Diallo", "first_reception")]
    assert elapsed < 5


# --- the pathway page ----------------------------------------------------------------------------


def test_the_pathway_shows_each_step_with_its_events(
    app: AppTest,
    enroll,
    session: Session,
    rules: Rules,
    unreachable_orchestrator: PrefectOrchestrator,
) -> None:
    enrolled = enroll()
    submit_decision(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=get_user(session=session, username="conseillere"),
        data={
            "meeting_on": "2026-11-02",
            "consent_given": True,
            "referred_by": "forem",
            "expectation": "undecided",
        },
        note="Souhaite réfléchir.",
        now=T0 + timedelta(hours=1),
        orchestrator=unreachable_orchestrator,
        dashboard_url=DASHBOARD_URL,
    )
    visit(sign_in(app, "conseillere"), "views/participants.py")
    app.button(key=f"open-participant-{enrolled.participant_id}").click().run()
    assert not app.exception
    page = shown(app)
    for line in [
        "Sophie Test",
        "1. Premier accueil",
        "Décision · Claire Lambert · 02/11/2026 11:00",
        "Date de l'entretien : 02/11/2026",
        "Consentement au traitement des données recueilli : Oui",
        "Envoyé par (prescripteur) : Forem",
        "Attente principale : Pas encore décidé",
        "en cours de prise en compte",  # the flow run has not caught up: Prefect is down
        "2. Auto-évaluation d'entrée",
    ]:
        assert line in page
    assert "Souhaite réfléchir." in messages(app, "text")
    [next_step] = [b for b in app.button if b.label == "Ouvrir"]
    next_step.click().run()
    assert messages(app, "title") == ["Auto-évaluation d'entrée"]


# --- the coordinator's stuck pathways and services -----------------------------------------------


def make_stuck(session: Session, pathway_run_id: int) -> None:
    run = session.get(PathwayRun, pathway_run_id)
    assert run is not None
    run.heal_attempts = 8
    run.needs_flow_at = T0
    run.stuck_reason = (
        "8 tentatives de relance sans succès : "
        "Prefect unreachable or the pathway deployment is missing"
    )
    session.add(run)
    session.commit()


def test_the_coordinator_sees_a_stuck_pathway_and_relaunches_it(
    app: AppTest, enroll, session: Session, runtime: Runtime
) -> None:
    enrolled, _ = enroll("Sophie"), enroll("Karim")
    make_stuck(session, enrolled.pathway_run_id)
    write_process_status(
        home=runtime.settings.resolved_home,
        processes=[
            ProcessStatus("prefect-server", 4242, ProcessState.RUNNING, 0, None, None, T0),
            ProcessStatus(
                "runner", 4243, ProcessState.RUNNING, 2, -9, T0 + timedelta(minutes=5), T0
            ),
        ],
        now=T0,
        supervisor_pid=4241,
    )
    sign_in(app, "coordination")
    visit(app, "views/stuck.py")
    assert not app.exception
    page = shown(app)
    assert messages(app, "title") == ["Parcours bloqués"]
    assert "P-" in page and "Sophie Test" in page
    assert "Karim" not in page  # only the stuck one
    assert (
        "8 tentatives de relance sans succès : Prefect ne répond pas, ou le déploiement des "
        "parcours manque" in page
    )
    assert "8 tentative(s) · depuis le 02/11/2026 10:00" in page
    [services] = app.table
    table = services.value
    assert list(table["Service"]) == ["prefect-server", "runner"]
    assert list(table["État"]) == ["en marche", "en marche"]
    assert list(table["Redémarrages"]) == [0, 2]
    assert list(table["Dernier redémarrage"]) == ["—", "02/11/2026 10:05"]

    # Prefect is down here: the relaunch says so, and the reconciler takes the pathway again.
    app.button(key=f"retry-{enrolled.pathway_run_id}").click().run()
    assert not app.exception
    reference = f"P-{enrolled.participant_id:05d}"
    assert messages(app, "warning") == [
        f"La relance du parcours de {reference} n'a pas abouti : Prefect ne répond pas, ou le "
        "déploiement des parcours manque (runner arrêté ?). Le réconciliateur réessaiera de "
        "lui-même."
    ]
    session.expire_all()
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert run is not None and run.stuck_reason is None and run.heal_attempts <= 1


@pytest.mark.parametrize("username", ["conseillere", "challenge"])
def test_only_the_coordinator_gets_the_stuck_page(
    app: AppTest,
    app_settings: Settings,
    runtime: Runtime,
    enroll,
    session: Session,
    username: str,
) -> None:
    make_stuck(session, enroll().pathway_run_id)
    sign_in(app, username)
    with pytest.raises(ValueError, match="navigation page"):
        app.switch_page("views/stuck.py")

    # Opened by its address all the same, the page itself refuses.
    page = AppTest.from_file(STUCK_PAGE_FILE, default_timeout=TIMEOUT)
    page.session_state["_crealux_context"] = Context(
        runtime=runtime, user=get_user(session=session, username=username)
    )
    page.run()
    assert not page.exception
    assert messages(page, "error") == ["Cette page est réservée à la coordination."]
    assert "Relancer" not in labels(page)
    assert "Sophie" not in shown(page)


# --- signing out ---------------------------------------------------------------------------------


def test_signing_out_forgets_the_user(app: AppTest) -> None:
    sign_in(app, "conseillere").switch_page("views/sign_out.py").run()
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
