"""The `crealux` command as a script runs it: a subprocess against a temporary instance.

No Prefect server runs: every orchestrator call fails fast (nothing listens on the instance's
Prefect port), and that must not matter to anyone deciding a step. Each subprocess costs a second
or two (importing Prefect), so each test groups what it checks.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from crealux_core.clock import utcnow
from crealux_core.models import (
    EventKind,
    Gender,
    ParticipantCreate,
    PathwayDefinition,
    PathwayEvent,
    PathwayRun,
    Role,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.rules.forms import NOTE_MAX_CHARS
from crealux_core.runtime import Runtime
from crealux_core.services.events import current_step
from crealux_core.services.participants import enroll_participant
from crealux_core.services.users import authenticate, get_user
from crealux_core.settings import Settings
from tests.conftest import DASHBOARD_URL, clean_environ, free_port

REPO = Path(__file__).resolve().parent.parent


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `crealux ARGS` with no terminal on standard input (as a script or cron would)."""
    return subprocess.run(
        [sys.executable, "-m", "crealux.cli", *args],
        env=env,
        cwd=REPO,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON: {result.stdout!r} {result.stderr!r}") from None


def fresh_env(home: Path, **extra: str) -> dict[str, str]:
    """An instance with its SQLite database under `home`, and no Prefect server."""
    return {
        **clean_environ(),
        "CREALUX_HOME": str(home),
        "CREALUX_PREFECT_PORT": str(free_port()),
        "CREALUX_DASHBOARD_PORT": str(free_port()),
        "CREALUX_SMTP_PORT": str(free_port()),
        **extra,
    }


def instance_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The test's migrated instance (organisations and demo users), and no Prefect server."""
    assert settings.database_url
    return {
        **clean_environ(),
        "CREALUX_HOME": str(settings.home),
        "CREALUX_DATABASE_URL": settings.database_url,
        "CREALUX_PREFECT_PORT": str(settings.prefect_port),
        "CREALUX_DASHBOARD_PORT": str(settings.dashboard_port),
        "CREALUX_SMTP_PORT": str(settings.smtp_port),
        **extra,
    }


def enroll(runtime: Runtime, advisor: str = "conseillere") -> tuple[int, int]:
    """Enroll a participant now; return their pathway run's id and first step's id."""
    with runtime.session() as session:
        _, run = enroll_participant(
            session=session,
            rules=runtime.rules,
            data=ParticipantCreate(first_name="Eva", last_name="Cli", gender=Gender.FEMALE),
            advisor=get_user(session=session, username=advisor),
            now=utcnow(),
            orchestrator=None,
            dashboard_url=DASHBOARD_URL,
        )
        step = current_step(session, run.id or 0)
        assert step is not None
        return run.id or 0, step.id or 0


def first_reception(**changes: Any) -> str:
    answers = {
        "meeting_on": date.today().isoformat(),
        "consent_given": True,
        "referred_by": "cpas",
        "expectation": "creation",
    }
    return json.dumps({**answers, **changes})


def events_of(runtime: Runtime, step_id: int) -> list[PathwayEvent]:
    with runtime.session() as session:
        return list(
            session.exec(
                select(PathwayEvent)
                .where(PathwayEvent.step_run_id == step_id)
                .order_by(col(PathwayEvent.id))
            ).all()
        )


def test_without_a_database_each_command_says_so_in_one_line_and_creates_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = fresh_env(home)
    result = run_cli(env, "step", "list", "--as", "coordination")
    assert result.returncode == 6, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: no CREALux database at {home / 'crealux.db'}: run `crealux init` or"
        " `crealux up` first"
    ]
    assert not home.exists()

    home.mkdir()
    (home / "crealux.db").touch()  # a file, but never migrated
    result = run_cli(env, "reconcile", "--json")
    assert result.returncode == 6
    assert json_of(result) == {
        "error": f"no CREALux database at {home / 'crealux.db'}: run `crealux init` or"
        " `crealux up` first",
        "code": 6,
    }
    assert (home / "crealux.db").stat().st_size == 0


def test_init_creates_the_first_coordinator_only_with_a_password_it_is_given(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = fresh_env(home)

    no_password = run_cli(env, "init")  # no terminal to ask on, no environment variable
    assert no_password.returncode == 2
    assert "CREALUX_COORDINATOR_PASSWORD" in no_password.stderr
    assert "Traceback" not in no_password.stderr

    short = run_cli({**env, "CREALUX_COORDINATOR_PASSWORD": "123456789"}, "init")
    assert short.returncode == 2
    assert "password: the password has 9 characters, at least 10 are needed" in short.stderr

    created = run_cli(
        {**env, "CREALUX_COORDINATOR_PASSWORD": "longue phrase secrète"},
        "init",
        "--coordinator",
        "anne",
    )
    assert created.returncode == 0, created.stderr
    assert "coordinator 'anne' created" in created.stdout
    assert "longue phrase" not in created.stdout + created.stderr

    again = run_cli({**env, "CREALUX_COORDINATOR_PASSWORD": "une autre phrase"}, "init")
    assert again.returncode == 0, again.stderr
    assert "a coordinator exists already (anne): no account created" in again.stdout

    runtime = Runtime(Settings(home=home))
    try:
        with runtime.session() as session:
            users = session.exec(select(User)).all()
            assert [(u.username, u.role) for u in users] == [("anne", Role.COORDINATOR)]
            assert authenticate(session=session, username="anne", password="longue phrase secrète")
            assert not authenticate(session=session, username="anne", password="une autre phrase")
            for demo_user in ("conseillere", "coordination"):
                assert not authenticate(session=session, username=demo_user, password="demo")
    finally:
        runtime.engine.dispose()


def test_who_acts_is_always_named_and_an_advisor_enrolls_their_own_participants(
    settings: Settings, runtime: Runtime
) -> None:
    env = instance_env(settings)
    nobody = run_cli(env, "step", "list", "--json")
    assert nobody.returncode == 2
    assert json_of(nobody) == {
        "error": "say who acts: pass --as USERNAME or set CREALUX_USER",
        "code": 2,
    }

    as_env = {**env, "CREALUX_USER": "conseillere"}
    enrolled = run_cli(
        as_env,
        *("participant", "enroll", "--first-name", "Eva", "--last-name", "Cli"),
        *("--gender", "female", "--json"),
    )
    assert enrolled.returncode == 0, enrolled.stderr
    result = json_of(enrolled)
    assert result["flow_run_id"] is None  # Prefect is down: the maintainer starts it later
    with runtime.session() as session:
        step = session.get(StepRun, result["current_step_id"])
        assert step is not None and step.status is StepStatus.OPEN
        assert step.step_key == "first_reception"
        assert step.assignee_id == get_user(session=session, username="conseillere").id

    listed = run_cli(as_env, "step", "list", "--status", "open", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [s["id"] for s in json_of(listed)] == [result["current_step_id"]]

    partner = run_cli(
        env,
        *("participant", "enroll", "--first-name", "Paul", "--last-name", "Cli"),
        *("--gender", "male", "--as", "cpas", "--json"),
    )
    assert partner.returncode == 4
    assert "cpas may not enroll a participant" in json_of(partner)["error"]


def test_deciding_a_step_from_the_cli(settings: Settings, runtime: Runtime) -> None:
    env = instance_env(settings, CREALUX_USER="conseillere")
    pathway_run_id, step_id = enroll(runtime)

    shown = run_cli(env, "step", "show", str(step_id), "--json")
    assert shown.returncode == 0, shown.stderr
    step = json_of(shown)
    assert (step["id"], step["status"], step["may_complete"]) == (step_id, "open", True)
    assert step["events"] == []
    schema = step["form_schema"]
    assert set(schema["required"]) == {"meeting_on", "consent_given", "referred_by", "expectation"}
    assert schema["properties"]["consent_given"]["type"] == "boolean"

    yes = run_cli(
        env, "step", "complete", str(step_id), "--data", first_reception(consent_given="yes")
    )
    assert yes.returncode == 2
    assert "consent_given: expected true or false" in yes.stderr

    not_json = run_cli(env, "step", "complete", str(step_id), "--data", "{consent_given: true")
    assert not_json.returncode == 2
    assert "--data is not JSON" in not_json.stderr

    too_long = run_cli(
        env,
        *("step", "complete", str(step_id), "--data", first_reception()),
        *("--note-file", "-", "--json"),
        stdin="x" * (NOTE_MAX_CHARS + 1),
    )
    assert too_long.returncode == 2
    refused = json_of(too_long)
    assert refused["code"] == 2 and set(refused["fields"]) == {"note"}
    assert (
        f"at most {NOTE_MAX_CHARS} characters, got {NOTE_MAX_CHARS + 1}"
        in refused["fields"]["note"]
    )
    assert events_of(runtime, step_id) == []  # nothing written by any refusal

    started = time.monotonic()
    decided = run_cli(
        env,
        *("step", "complete", str(step_id), "--data", first_reception()),
        *("--note-file", "-", "--json"),
        stdin="Rencontrée avec son assistante sociale.\nSuite au bilan.\n",
    )
    elapsed = time.monotonic() - started
    assert decided.returncode == 0, decided.stderr
    result = json_of(decided)
    assert result["woken"] is False  # no Prefect: the step is decided all the same
    with runtime.session() as session:
        following = current_step(session, pathway_run_id)
        assert following is not None and following.id == result["current_step_id"]
        assert following.step_key == "self_evaluation_entry"
        assert following.status is StepStatus.OPEN
    assert elapsed < 30  # nothing waits on Prefect (a generous bound for a loaded machine)
    [decision] = events_of(runtime, step_id)
    assert decision.kind is EventKind.DECISION
    assert decision.note == "Rencontrée avec son assistante sociale.\nSuite au bilan."

    second = run_cli(
        env,
        *("step", "complete", str(step_id), "--data", first_reception(expectation="training")),
        *("--note", "Saisi dans un autre onglet.", "--as", "coordination", "--json"),
    )
    assert second.returncode == 5
    refusal = json_of(second)
    assert refusal["code"] == 5 and refusal["decided_by"] == "Claire Lambert"
    assert refusal["decided_at"] and refusal["decided_at"] in refusal["error"]
    assert "already decided by Claire Lambert" in refusal["error"]
    kept = events_of(runtime, step_id)[-1]
    assert (kept.kind, kept.note) == (EventKind.COMMENT, "Saisi dans un autre onglet.")

    history = json_of(run_cli(env, "step", "show", str(step_id), "--json"))
    assert [(e["kind"], e["actor"]) for e in history["events"]] == [
        ("decision", "Claire Lambert"),
        ("comment", "Anne Coordination"),
    ]
    assert history["events"][0]["payload"]["consent_given"] is True

    missing = run_cli(env, "step", "show", "999999", "--json")
    assert (missing.returncode, json_of(missing)["code"]) == (3, 3)

    partner = run_cli(env, "step", "show", str(result["current_step_id"]), "--as", "cpas")
    assert partner.returncode == 4
    assert partner.stderr.startswith("error: ")


def test_skip_reassign_and_a_pathway_that_cannot_continue(
    settings: Settings, runtime: Runtime
) -> None:
    env = instance_env(settings, CREALUX_USER="conseillere")
    pathway_run_id, step_id = enroll(runtime)

    reassigned = run_cli(
        env, "step", "reassign", str(step_id), "--to", "conseiller", "--note", "congé", "--json"
    )
    assert reassigned.returncode == 0, reassigned.stderr
    skipped = run_cli(
        env, "step", "skip", str(step_id), "--reason", "Déjà reçue par le CPAS.", "--json"
    )
    assert skipped.returncode == 0, skipped.stderr
    following = json_of(skipped)["current_step_id"]
    assert following and following != step_id
    assert [e.kind for e in events_of(runtime, step_id)] == [EventKind.REASSIGN, EventKind.SKIP]
    with runtime.session() as session:
        moved = session.get(StepRun, step_id)
        assert moved is not None
        assert moved.assignee_id == get_user(session=session, username="conseiller").id

    with runtime.session() as session:  # the definition the pathway started on was edited
        run = session.get(PathwayRun, pathway_run_id)
        assert run is not None
        run.definition_digest = "0" * 64
        session.add(run)
        session.commit()
    stuck = run_cli(env, "step", "show", str(following), "--json")
    assert stuck.returncode == 7
    assert "was edited" in json_of(stuck)["error"]


def test_stuck_pathways_heal_and_reconcile_without_prefect(
    settings: Settings, runtime: Runtime
) -> None:
    env = instance_env(settings, CREALUX_USER="coordination")
    pathway_run_id, _ = enroll(runtime)
    other_run_id, _ = enroll(runtime, advisor="conseiller")  # no flow run yet: Prefect is down
    with runtime.session() as session:
        run = session.get(PathwayRun, pathway_run_id)
        assert run is not None
        run.heal_attempts, run.stuck_reason = 8, "8 tentatives de relance sans succès"
        session.add(run)
        session.commit()

    listed = run_cli(env, "pathway", "stuck", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(p["pathway_run_id"], p["attempts"]) for p in json_of(listed)] == [(pathway_run_id, 8)]

    advisor = run_cli(env, "pathway", "stuck", "--as", "conseillere")
    assert advisor.returncode == 4
    assert "only the coordination" in advisor.stderr

    neither = run_cli(env, "pathway", "heal")
    assert neither.returncode == 2
    assert "give a pathway run id or --all" in neither.stderr

    healed = run_cli(env, "pathway", "heal", "--all", "--json")
    assert healed.returncode == 1  # Prefect is down: tried, and said so
    [attempt] = json_of(healed)
    assert attempt["pathway_run_id"] == pathway_run_id and attempt["healed"] is False
    assert attempt["error"]

    reconciled = run_cli(env, "reconcile", "--json")
    assert reconciled.returncode == 1  # the other pathway's flow run could not be started
    assert json_of(reconciled)["reasons"][str(other_run_id)] == "no flow run"


def test_maintain_runs_until_sigterm_then_exits_0(settings: Settings) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "crealux.cli", "maintain"],
        env=instance_env(settings),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(1)]
        while "INFO crealux.maintain: maintaining" not in lines[-1]:  # then it loops
            assert lines[-1], "".join(lines)  # not at the end of its output
            lines.append(process.stdout.readline())
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
        output = "".join(lines) + rest
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopped" in output
    assert "Traceback" not in output


def test_an_edited_definition_stops_up_and_maintain_with_one_line(
    settings: Settings, runtime: Runtime
) -> None:
    spec = runtime.rules.pathway(None)
    with runtime.session() as session:  # recorded before someone edited rules/ in place
        session.add(
            PathwayDefinition(
                key=spec.key,
                version=spec.version,
                digest="0" * 64,
                spec_json=spec.model_dump_json(),
                registered_at=datetime(2026, 1, 5, tzinfo=utcnow().tzinfo),
            )
        )
        session.commit()
    env = instance_env(settings)
    for command in (["up", "--no-demo"], ["maintain"]):
        result = run_cli(env, *command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        [message] = result.stderr.strip().splitlines()
        assert "was edited after pathways started on it" in message
        assert "Traceback" not in result.stderr


def test_help_documents_the_exit_codes(tmp_path: Path) -> None:
    result = run_cli(fresh_env(tmp_path / "home"), "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for code in ("2 invalid input", "3 not found", "4 refused", "5 already done", "6 no CREALux"):
        assert code in text
