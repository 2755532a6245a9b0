"""The `crealux` command. It calls the same services as the dashboard; `--json` for scripts.

Every command that reads or changes a participant's data names who acts (`--as USERNAME`, or the
CREALUX_USER environment variable) and is checked as that user would be in the dashboard. Every
command but `init`, `up` and `rules check` needs the database `crealux init` or `crealux up`
made, and says so in one line (exit code 6) without creating anything.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from crealux.cli_options import AsUser, JsonFlag
from crealux_core.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from crealux_core.models import User
    from crealux_core.runtime import Runtime
    from crealux_core.services.errors import ServiceError


class Code(IntEnum):
    """Exit codes (README, `crealux --help`)."""

    OK = 0
    ERROR = 1  # anything else (Prefect unreachable where it is needed, a bug)
    INVALID = 2  # invalid input: bad JSON, a refused field, invalid rules, no --as
    NOT_FOUND = 3  # no such step, participant, pathway or user
    REFUSED = 4  # this user may not do this
    ALREADY_DONE = 5  # the step was decided or skipped already (by whom, when)
    NO_DATABASE = 6  # no CREALux database (or not migrated): run `crealux init` or `crealux up`
    CANNOT_CONTINUE = 7  # the pathway cannot go on: its definition was edited or removed


EPILOG = (
    "Exit codes: 0 ok; 1 other error; 2 invalid input (bad JSON, a refused field, invalid"
    " rules, no --as); 3 not found; 4 refused (not allowed for this user); 5 already done (the"
    " step was decided or skipped: by whom and when); 6 no CREALux database (run `crealux init`"
    " or `crealux up`); 7 the pathway cannot continue (its definition was edited or removed)."
    " With --json, an error is a JSON object with error and code (and fields)."
)

app = typer.Typer(
    help="CREALux: parcours individualisés d'accompagnement.",
    epilog=EPILOG,
    no_args_is_help=True,
)
rules_app = typer.Typer(help="Check the rules files.", no_args_is_help=True, epilog=EPILOG)
participant_app = typer.Typer(help="Participants.", no_args_is_help=True, epilog=EPILOG)
step_app = typer.Typer(help="Steps of pathways.", no_args_is_help=True, epilog=EPILOG)
pathway_app = typer.Typer(
    help="Pathways: the stuck ones, and healing them.", no_args_is_help=True, epilog=EPILOG
)
app.add_typer(rules_app, name="rules")
app.add_typer(participant_app, name="participant")
app.add_typer(step_app, name="step")
app.add_typer(pathway_app, name="pathway")


COORDINATOR_PASSWORD_ENV = "CREALUX_COORDINATOR_PASSWORD"


def _settings() -> Settings:
    settings = load_settings()
    os.environ.update(settings.prefect_env())  # before anything imports prefect
    return settings


def _fail(message: str, *, as_json: bool, code: int = Code.ERROR, **extra: Any) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"error": message, "code": int(code), **extra}, ensure_ascii=False))
    else:
        typer.echo(f"error: {message}", err=True)
        for field, problem in extra.get("fields", {}).items():
            typer.echo(f"  {field}: {problem}", err=True)
    raise typer.Exit(int(code))


def _fail_service(error: ServiceError, *, as_json: bool) -> NoReturn:
    """Report a service's refusal with the exit code of its kind."""
    from crealux_core.services.errors import (
        AlreadyDone,
        Conflict,
        Forbidden,
        InvalidInput,
        NotFound,
    )

    if isinstance(error, InvalidInput):
        _fail("invalid input", as_json=as_json, code=Code.INVALID, fields=error.field_errors)
    if isinstance(error, AlreadyDone):
        _fail(
            str(error),
            as_json=as_json,
            code=Code.ALREADY_DONE,
            decided_by=error.decided_by,
            decided_at=error.decided_at,
        )
    if isinstance(error, NotFound):
        _fail(str(error), as_json=as_json, code=Code.NOT_FOUND)
    if isinstance(error, Forbidden):
        _fail(str(error), as_json=as_json, code=Code.REFUSED)
    if isinstance(error, Conflict):
        _fail(str(error), as_json=as_json, code=Code.CANNOT_CONTINUE)
    _fail(str(error), as_json=as_json)


@contextmanager
def _reported(*, as_json: bool) -> Iterator[None]:
    """Turn a service's refusal into its one-line message and exit code."""
    from crealux_core.services.errors import ServiceError

    try:
        yield
    except ServiceError as error:
        _fail_service(error, as_json=as_json)


def _runtime() -> Runtime:
    """The instance of these settings, its rules loaded and checked (exit 2 if they are wrong).

    Touches no database: `_instance` is what commands that need one call.
    """
    settings = _settings()
    from crealux_core.rules import RulesError
    from crealux_core.runtime import Runtime

    runtime = Runtime(settings)
    try:
        runtime.rules  # noqa: B018  (load and validate the rules before anything else)
    except RulesError as error:
        typer.echo(f"The rules cannot be used:\n{error}", err=True)
        raise typer.Exit(Code.INVALID) from None
    return runtime


def database_problem(settings: Settings) -> str | None:
    """Say why there is no usable CREALux database for these settings, or return None.

    Never creates anything: a missing SQLite file is reported before any connection is made.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    url = make_url(settings.app_database_url)
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        where = str(path)
        if not path.is_file():
            return f"no CREALux database at {where}: run `crealux init` or `crealux up` first"
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from crealux_core.db import alembic_config

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as error:  # a server down, a database not created, a bad password
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        return f"cannot open the CREALux database at {where}: {reason}"
    except SQLAlchemyError:  # not a database (a stray file), or not ours
        current = None
    finally:
        engine.dispose()
    if current is None:
        return f"no CREALux database at {where}: run `crealux init` or `crealux up` first"
    head = ScriptDirectory.from_config(alembic_config(str(url))).get_current_head()
    if current != head:
        return (
            f"the CREALux database at {where} has schema {current}, this version needs {head}:"
            " run `crealux init` to migrate it"
        )
    return None


def _instance(*, as_json: bool = False) -> Runtime:
    """The instance with its database, which must exist and be migrated (else exit 6)."""
    settings = _settings()
    problem = database_problem(settings)
    if problem:
        _fail(problem, as_json=as_json, code=Code.NO_DATABASE)
    # The data directory also holds Prefect's client home (a PostgreSQL instance may have none
    # yet): make it before Prefect is imported, which would warn that it cannot.
    settings.resolved_home.mkdir(parents=True, exist_ok=True)
    return _runtime()


def _require_actor(username: str | None, *, as_json: bool) -> str:
    """The username of who acts; none is picked for you."""
    if not username:
        _fail(
            "say who acts: pass --as USERNAME or set CREALUX_USER",
            as_json=as_json,
            code=Code.INVALID,
        )
    return username


def _actor(session: Session, username: str) -> User:
    from crealux_core.services.users import acting_user

    return acting_user(session=session, username=username)


def _prepare(runtime: Runtime) -> None:
    """Mirror the organisations and record the pathway definitions; an edited definition
    stops here with its one-line message (exit 2)."""
    from crealux.demo import sync_organisations
    from crealux_core.clock import utcnow
    from crealux_core.services.definitions import DefinitionChanged, register_definitions
    from crealux_core.services.facts import backfill_facts

    sync_organisations(runtime)
    with runtime.session() as session:
        try:
            register_definitions(session=session, rules=runtime.rules, now=utcnow())
        except DefinitionChanged as error:
            _fail(str(error), as_json=False, code=Code.INVALID)
        # Pathways from before the facts tables get theirs, from their events (once).
        backfill_facts(session, rules=runtime.rules)


def _read_note(note: str | None, note_file: str | None, *, as_json: bool) -> str | None:
    """The note of `--note TEXT` or `--note-file PATH` (`-`: standard input)."""
    if note is not None and note_file is not None:
        _fail("give --note or --note-file, not both", as_json=as_json, code=Code.INVALID)
    if note_file is None:
        return note
    try:
        if note_file == "-":
            return sys.stdin.read()
        return Path(note_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read the note: {error}", as_json=as_json, code=Code.INVALID)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


@rules_app.command("check")
def rules_check(
    directory: Annotated[Path | None, typer.Argument(help="default: CREALUX_RULES_DIR")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate a rules directory; list every problem with its file, line and path."""
    from crealux_core.rules import RulesError, load_rules

    settings = load_settings()
    target = directory or settings.rules_dir
    try:
        rules = load_rules(target, env=settings.rules_env())
    except RulesError as error:
        if as_json:
            problems = [
                {"file": str(p.file), "line": p.line, "path": list(p.path), "message": p.message}
                for p in error.problems
            ]
            typer.echo(json.dumps({"ok": False, "problems": problems}, ensure_ascii=False))
        else:
            typer.echo(str(error), err=True)
        raise typer.Exit(Code.INVALID) from None
    summary = {
        "ok": True,
        "pathways": {key: len(spec.steps) for key, spec in rules.pathways.items()},
        "organisations": len(rules.organisations),
    }
    typer.echo(json.dumps(summary) if as_json else f"{target}: OK {summary}")


def _coordinator_password() -> str:
    """The first coordinator's password: from CREALUX_COORDINATOR_PASSWORD, or asked twice."""
    from crealux_core.services.users import MIN_PASSWORD_CHARS

    password = os.environ.get(COORDINATOR_PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        _fail(
            f"no password for the first coordinator: set {COORDINATOR_PASSWORD_ENV}"
            " or run `crealux init` in a terminal",
            as_json=False,
            code=Code.INVALID,
        )
    for _ in range(3):
        password = str(
            typer.prompt(
                f"Password of the coordinator (at least {MIN_PASSWORD_CHARS} characters)",
                hide_input=True,
                confirmation_prompt=True,
            )
        )
        if len(password) >= MIN_PASSWORD_CHARS:
            return password
        typer.echo(f"too short: at least {MIN_PASSWORD_CHARS} characters", err=True)
    _fail("no password given", as_json=False, code=Code.INVALID)


@app.command()
def init(
    coordinator: Annotated[
        str, typer.Option("--coordinator", help="username of the first coordinator")
    ] = "coordination",
) -> None:
    """Set up an instance: the database and its first coordinator (no other account).

    Creates or migrates the database, mirrors the organisations, records the pathway
    definitions. The coordinator's password comes from CREALUX_COORDINATOR_PASSWORD, or is
    asked twice (at least 10 characters). If a coordinator exists already, no account is
    created.
    """
    from crealux_core.db import migrate
    from crealux_core.services.users import create_first_coordinator, first_coordinator

    _settings().resolved_home.mkdir(parents=True, exist_ok=True)  # before Prefect's home in it
    runtime = _runtime()
    migrate(runtime.settings.app_database_url)
    _prepare(runtime)
    typer.echo(f"database ready: {database_location(runtime.settings)}")
    with runtime.session() as session:
        existing = first_coordinator(session=session)
        if existing is not None:
            typer.echo(f"a coordinator exists already ({existing.username}): no account created")
            return
        password = _coordinator_password()
        with _reported(as_json=False):
            user = create_first_coordinator(
                session=session, username=coordinator, password=password
            )
    typer.echo(f"coordinator {user.username!r} created; sign in to the dashboard with it")


def database_location(settings: Settings) -> str:
    """Where the application database is, for messages (no password)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.app_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return url.render_as_string(hide_password=True)


@app.command()
def runner() -> None:
    """Serve the pathway and reconcile deployments in this process (until Ctrl-C)."""
    _instance()
    from flows.serve import serve_deployments

    serve_deployments(limit=_settings().runner_limit)


@app.command()
def maintain() -> None:
    """Keep every pathway moving, until SIGTERM or Ctrl-C (what `crealux up` runs).

    Catches flow runs up with their events, sweeps deadlines, sends notifications, checks every
    pathway against Prefect; logs to standard output."""
    runtime = _instance()
    import threading

    from crealux import maintain as maintenance

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    _prepare(runtime)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger("crealux.maintain").info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    logging.getLogger("crealux.maintain").info(
        "maintaining %s (Prefect %s)",
        database_location(runtime.settings),
        runtime.settings.prefect_url,
    )
    maintenance.run(runtime, stop=stop)
    logging.getLogger("crealux.maintain").info("stopped")


@app.command()
def demo(as_json: JsonFlag = False) -> None:
    """Demo mode: the demo accounts (password `demo`) and the demo participants.

    The participants are loaded only if there is none yet, each waiting at their step. Their
    flow runs start at once if Prefect is up, or later through the maintainer."""
    from crealux.demo import create_demo_users, has_participants, load_demo, start_flows

    runtime = _instance(as_json=as_json)
    _prepare(runtime)
    if has_participants(runtime):
        created = create_demo_users(runtime)
        result: dict[str, Any] = {"accounts_created": created, "participants_loaded": 0}
        message = "participants exist already: no demo participant loaded"
    else:
        started = time.monotonic()
        pathway_run_ids = load_demo(runtime, progress=lambda line: None)
        loaded_in = round(time.monotonic() - started, 2)
        flows = start_flows(runtime, pathway_run_ids, runtime.orchestrator)
        result = {
            "participants_loaded": len(pathway_run_ids),
            "seconds": loaded_in,
            "flow_runs_started": flows,
        }
        message = (
            f"{len(pathway_run_ids)} demo participants loaded in {loaded_in} s;"
            f" {flows} flow runs started"
            + ("" if flows == len(pathway_run_ids) else " (the maintainer starts the others)")
        )
    if as_json:
        _echo_json(result)
    else:
        typer.echo(message)


@app.command()
def reconcile(
    full: Annotated[
        bool, typer.Option("--full", help="check every active pathway, not only those behind")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """One pass of the reconciler (exit 1 if a pathway could not be healed now).

    Starts, wakes or replaces the flow runs of the pathways that are behind their events (every
    active pathway with --full)."""
    from datetime import timedelta

    from crealux_core.clock import utcnow
    from crealux_core.services.reconcile import HealPolicy
    from crealux_core.services.reconcile import reconcile as reconcile_pathways

    runtime = _instance(as_json=as_json)
    settings = runtime.settings
    policy = HealPolicy(
        grace=timedelta(seconds=settings.grace_seconds),
        stall=timedelta(seconds=settings.stall_seconds),
    )
    with runtime.session() as session:
        done = reconcile_pathways(
            session=session,
            orchestrator=runtime.orchestrator,
            now=utcnow(),
            policy=policy,
            full=full,
            limit=1_000_000 if full else 500,
        )
    result = {**done.as_json(), "reasons": {str(k): v for k, v in done.reasons.items()}}
    if as_json:
        _echo_json(result)
    else:
        typer.echo(" ".join(f"{key} {value}" for key, value in done.as_json().items()))
        for pathway_run_id, reason in done.reasons.items():
            typer.echo(f"  pathway run {pathway_run_id}: {reason}")
    if done.failed:
        if not as_json:
            typer.echo(
                f"error: {done.failed} pathway(s) could not be healed now (is Prefect up?);"
                " the maintainer retries them",
                err=True,
            )
        raise typer.Exit(Code.ERROR)


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="load demo data into an empty database")] = True,
) -> None:
    """Start the whole product: Prefect server, runner, mail sink, dashboard. A process that dies
    is restarted; Ctrl-C stops all."""
    from crealux.demo import is_fresh, load_demo
    from crealux.launcher import (
        StartError,
        Supervisor,
        instance_env,
        start_dashboard,
        start_mail_sink,
        start_maintainer,
        start_prefect_server,
        start_runner,
    )
    from crealux_core.db import migrate

    runtime = _runtime()
    settings = runtime.settings
    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True)
    env = instance_env(settings)
    os.environ.update(env)
    migrate(settings.app_database_url)
    _prepare(runtime)  # organisations, definitions: an edited one stops here (exit 2)
    supervisor = Supervisor(log_dir=home / "logs", env=env, status_home=home, echo=typer.echo)
    # Ctrl-C and SIGTERM stop every child. SIGINT explicitly too: a process started in the
    # background of a script inherits SIGINT ignored, and Python then installs no handler
    # (seen: `crealux up` under a backgrounded test run ignored Ctrl-C and left its children).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    typer.echo(f"CREALux: données dans {home}")
    if demo and is_fresh(runtime):  # in seconds, before any process: the runs catch up later
        typer.echo("  chargement des données de démonstration (première fois)...")
        load_demo(runtime, progress=lambda line: typer.echo(f"  {line}"))
    elif is_fresh(runtime):
        typer.echo("  aucun compte : `crealux init` crée le compte de coordination")
    try:
        start_prefect_server(supervisor, settings)
        typer.echo(f"  Prefect      {settings.prefect_ui_url}")
        start_mail_sink(supervisor, settings)
        start_runner(supervisor, settings)
        start_maintainer(supervisor, settings)
        start_dashboard(supervisor, settings)
        typer.echo(f"  Prefect UI   {settings.prefect_ui_url}")
        typer.echo(f"  Dashboard    {settings.dashboard_url}")
        typer.echo(
            f"  Courriels    {home / 'mail'} (serveur SMTP de démo, port {settings.smtp_port})"
        )
        typer.echo(f"  Journaux     {home / 'logs'}")
        typer.echo(f"  Processus    {home / 'processes.json'} (relancés s'ils s'arrêtent)")
        typer.echo("Ctrl-C pour tout arrêter.")
        while True:  # a process that dies is restarted; one that keeps failing ends it all
            supervisor.tick()
            time.sleep(0.5)
    except KeyboardInterrupt:
        typer.echo("\narrêt...")
    except StartError as error:
        typer.echo(f"error: {error}", err=True)
        supervisor.stop_all()
        raise typer.Exit(1) from None
    supervisor.stop_all()
    typer.echo("arrêté.")


@participant_app.command("enroll")
def participant_enroll(
    first_name: Annotated[str, typer.Option(help="first name")],
    last_name: Annotated[str, typer.Option(help="last name")],
    gender: Annotated[str, typer.Option(help="female, male, non_binary or undisclosed")],
    as_user: AsUser = None,
    advisor: Annotated[
        str | None,
        typer.Option(help="the advisor who follows them; default: who acts (an advisor)"),
    ] = None,
    birth_year: Annotated[int | None, typer.Option()] = None,
    municipality: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """Enroll a participant: their first step is open when this returns.

    Their pathway's flow run is then started (later, by the maintainer, if Prefect is down).
    An advisor enrolls the participants they follow; the coordinator may name the advisor.
    """
    from pydantic import ValidationError

    from crealux_core.clock import utcnow
    from crealux_core.models import ParticipantCreate, Role
    from crealux_core.services.errors import Forbidden
    from crealux_core.services.events import current_step
    from crealux_core.services.participants import enroll_participant
    from crealux_core.services.users import get_user

    username = _require_actor(as_user, as_json=as_json)
    try:
        data = ParticipantCreate.model_validate(
            {
                "first_name": first_name,
                "last_name": last_name,
                "gender": gender,
                "birth_year": birth_year,
                "municipality": municipality,
            }
        )
    except ValidationError as error:
        fields = {".".join(map(str, e["loc"])): e["msg"] for e in error.errors()}
        _fail("invalid input", as_json=as_json, code=Code.INVALID, fields=fields)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        actor = _actor(session, username)
        follower = get_user(session=session, username=advisor) if advisor else actor
        if actor.role is Role.PARTNER or (actor.role is Role.ADVISOR and follower.id != actor.id):
            raise Forbidden(
                f"{actor.username} may not enroll a participant"
                + (f" for {follower.username}" if actor.role is Role.ADVISOR else "")
                + ": an advisor enrolls the participants they follow"
            )
        participant, run = enroll_participant(
            session=session,
            rules=runtime.rules,
            data=data,
            advisor=follower,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
            actor=actor,
        )
        step = current_step(session, run.id or 0)
    result = {
        "participant_id": participant.id,
        "reference": participant.reference,
        "pathway_run_id": run.id,
        "current_step_id": step.id if step else None,
        "flow_run_id": run.flow_run_id,
    }
    if as_json:
        _echo_json(result)
        return
    typer.echo(
        f"enrolled {participant.reference} (participant {participant.id}); first step"
        f" {result['current_step_id']} open"
        + ("" if run.flow_run_id else "; the flow run starts when Prefect is reachable")
    )


@participant_app.command("reenrol")
def participant_reenrol(
    participant: Annotated[int, typer.Argument(help="the participant's id")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Start a new pathway for a participant who left and comes back (a re-entry).

    Reports count them once, with their first entry. Refused while they are still on a pathway.
    """
    from crealux_core.clock import utcnow
    from crealux_core.services.events import current_step
    from crealux_core.services.participants import reenrol_participant

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        run = reenrol_participant(
            session=session,
            rules=runtime.rules,
            participant_id=participant,
            actor=_actor(session, username),
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
        step = current_step(session, run.id or 0)
    result = {
        "participant_id": participant,
        "pathway_run_id": run.id,
        "current_step_id": step.id if step else None,
    }
    if as_json:
        _echo_json(result)
    else:
        typer.echo(
            f"participant {participant}: new pathway {run.id}, first step"
            f" {result['current_step_id']} open"
        )


@pathway_app.command("stuck")
def pathway_stuck(as_user: AsUser = None, as_json: JsonFlag = False) -> None:
    """List the pathways the reconciler gave up on or is still retrying (coordinator only)."""
    from crealux_core.services.reconcile import stuck_pathways

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        stuck = stuck_pathways(session=session, actor=_actor(session, username))
    rows = [
        {
            "pathway_run_id": item.pathway_run_id,
            "participant_id": item.participant_id,
            "reason": item.reason,
            "attempts": item.attempts,
            "since": item.since.isoformat() if item.since else None,
        }
        for item in stuck
    ]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        typer.echo("no stuck pathway")
    for row in rows:
        typer.echo(
            f"pathway run {row['pathway_run_id']:>6}  participant {row['participant_id']:>6}"
            f"  {row['attempts']} attempts  {row['reason']}"
        )


@pathway_app.command("heal")
def pathway_heal(
    pathway_run_id: Annotated[
        int | None, typer.Argument(help="the pathway run's id", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="every stuck pathway")] = False,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Heal a stuck pathway now, or every one with --all (coordinator only).

    Forgets its failed attempts, then wakes its flow run, or starts or replaces it. Exit 1 if
    one could not be healed."""
    from crealux_core.clock import utcnow
    from crealux_core.models import PathwayRun
    from crealux_core.services.ports import OrchestrationError
    from crealux_core.services.reconcile import retry_pathway, stuck_pathways

    if (pathway_run_id is None) is (not every):
        _fail("give a pathway run id or --all (not both)", as_json=as_json, code=Code.INVALID)
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    results: list[dict[str, Any]] = []
    with runtime.session() as session, _reported(as_json=as_json):
        actor = _actor(session, username)
        ids = (
            [item.pathway_run_id for item in stuck_pathways(session=session, actor=actor)]
            if every
            else [pathway_run_id or 0]
        )
        for run_id in ids:
            try:
                done = retry_pathway(
                    session=session,
                    pathway_run_id=run_id,
                    orchestrator=runtime.orchestrator,
                    now=utcnow(),
                    actor=actor,
                )
            except OrchestrationError as error:
                results.append({"pathway_run_id": run_id, "healed": False, "error": str(error)})
                continue
            run = session.get(PathwayRun, run_id, populate_existing=True)
            results.append(
                {
                    "pathway_run_id": run_id,
                    "healed": not done.failed,
                    "did": _what_healing_did(done.as_json()),
                    "reason": done.reasons.get(run_id),
                    "error": run.last_heal_error if run and done.failed else None,
                    "flow_run_id": run.flow_run_id if run else None,
                }
            )
    failed = [row for row in results if not row["healed"]]
    if as_json:
        _echo_json(results)
    else:
        if not results:
            typer.echo("no stuck pathway")
        for row in results:
            if row["healed"]:
                why = f" ({row['reason']})" if row.get("reason") else ""
                typer.echo(f"pathway run {row['pathway_run_id']}: {row['did']}{why}")
            else:
                typer.echo(
                    f"pathway run {row['pathway_run_id']}: not healed: {row['error']}", err=True
                )
    if failed:
        raise typer.Exit(Code.ERROR)


@pathway_app.command("migrate")
def pathway_migrate(
    to_version: Annotated[int, typer.Option("--to", help="the version to move pathways to")],
    pathway_key: Annotated[str, typer.Option("--pathway", help="which pathway")] = "crealux",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show, change nothing")] = False,
    step_map: Annotated[
        list[str] | None,
        typer.Option("--map", help="OLD=NEW: carry a current step over under a new key"),
    ] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Move running pathways to another version of their definition (coordinator only).

    Shows, for each pathway, the steps added and removed and its current step re-dated; without
    --dry-run applies it, each change recorded as an event. Exit 1 if a pathway could not move."""
    from crealux_core.clock import utcnow
    from crealux_core.services.migrations import migrate_pathways

    mapping: dict[str, str] = {}
    for item in step_map or []:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            _fail(f"--map takes OLD=NEW, not {item!r}", as_json=as_json, code=Code.INVALID)
        mapping[old] = new
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        actor = _actor(session, username)
        plans = migrate_pathways(
            session=session,
            rules=runtime.rules,
            pathway_key=pathway_key,
            to_version=to_version,
            actor=actor,
            now=utcnow(),
            dry_run=dry_run,
            step_map=mapping,
        )
    if as_json:
        _echo_json([plan.as_json() for plan in plans])
    else:
        if not plans:
            typer.echo(f"no running {pathway_key} pathway on another version than {to_version}")
        for plan in plans:
            state = "blocked" if plan.blocked else ("migrated" if plan.applied else "would migrate")
            typer.echo(
                f"pathway run {plan.pathway_run_id}: v{plan.from_version} -> v{plan.to_version}"
                f" {state}"
            )
            for change in plan.changes:
                typer.echo(f"    {change}")
            if plan.blocked:
                typer.echo(f"    {plan.blocked}", err=True)
    if any(plan.blocked for plan in plans):
        raise typer.Exit(Code.ERROR)


def _what_healing_did(counts: dict[str, int]) -> str:
    if counts.get("replaced"):
        return "flow run replaced by a new one"
    if counts.get("started"):
        return "flow run started"
    if counts.get("woken"):
        return "flow run woken"
    return "nothing to do: its flow run is where it should be"


@step_app.command("list")
def step_list(
    participant: Annotated[int | None, typer.Option(help="participant id")] = None,
    status: Annotated[str | None, typer.Option(help="open, scheduled, completed...")] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """List the steps this user sees, soonest due first.

    An advisor: theirs; a partner: their organisation's; the coordinator: all."""
    from crealux_core.models import StepStatus
    from crealux_core.services.steps import list_steps

    username = _require_actor(as_user, as_json=as_json)
    try:
        wanted = StepStatus(status) if status else None
    except ValueError:
        known = ", ".join(s.value for s in StepStatus)
        _fail(f"unknown status {status!r} ({known})", as_json=as_json, code=Code.INVALID)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        steps = list_steps(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            participant_id=participant,
            status=wanted,
        )
    if as_json:
        _echo_json([step.as_json() for step in steps])
        return
    for step in steps:
        due = f"due {step.due_at:%Y-%m-%d}" if step.due_at else "no due date"
        typer.echo(
            f"{step.id:>6}  {step.participant_reference}  {step.step_key:<30}"
            f" {step.status.value:<9} {due}"
        )


@step_app.command("show")
def step_show(
    step_id: Annotated[int, typer.Argument(help="the step run's id")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a step: its state, its events, and its form.

    With --json, the form is a JSON schema, so that a script can fill it for `step complete`."""
    from crealux_core.services.steps import step_json

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        shown = step_json(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            step_run_id=step_id,
        )
    if as_json:
        _echo_json(shown)
        return
    typer.echo(
        f"step {shown['id']}: {shown['title']} ({shown['step_key']}) of {shown['participant']},"
        f" {shown['status']}"
    )
    if shown.get("due_at"):
        typer.echo(f"  due {shown['due_at']}")
    for event in shown["events"]:
        typer.echo(
            f"  {event['occurred_at']}  {event['kind']:<10} {event['actor'] or 'system'}"
            + (f"  {json.dumps(event['payload'], ensure_ascii=False)}" if event["payload"] else "")
        )
    schema = shown["form_schema"]
    required = set(schema.get("required", []))
    if shown["may_complete"]:
        typer.echo("  form (--data JSON):")
        for name, field in schema.get("properties", {}).items():
            options = field.get("anyOf", [field])
            kind = " or ".join(str(o.get("format") or o.get("type")) for o in options)
            choices = f" one of {field['enum']}" if "enum" in field else ""
            typer.echo(f"    {name}: {kind}{choices}{'' if name in required else ' (optional)'}")


def _json_object(data: str, *, as_json: bool) -> dict[str, Any]:
    """Return --data as a JSON object, or fail with exit 2 saying what is wrong."""
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as error:
        _fail(f"--data is not JSON: {error}", as_json=as_json, code=Code.INVALID)
    if not isinstance(payload, dict):
        _fail("--data must be a JSON object", as_json=as_json, code=Code.INVALID)
    return payload


@step_app.command("complete")
def step_complete(
    step_id: Annotated[int, typer.Argument(help="the step run's id")],
    data: Annotated[str, typer.Option(help="the answers, a JSON object (see `step show --json`)")],
    note: Annotated[
        str | None, typer.Option(help="a confidential note (stays in the database)")
    ] = None,
    note_file: Annotated[
        str | None,
        typer.Option(help="read the note from this file; `-` reads standard input"),
    ] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Decide a step: the pathway's next step is open when this returns.

    The waiting flow run is then woken (or caught up later by the maintainer). Nothing is
    written if an answer is refused (exit 2); a step decided already says by whom and when
    (exit 5) and keeps the note as a comment."""
    from crealux_core.clock import utcnow
    from crealux_core.services.steps import clean_note, submit_decision

    username = _require_actor(as_user, as_json=as_json)
    payload = _json_object(data, as_json=as_json)
    text = _read_note(note, note_file, as_json=as_json)
    with _reported(as_json=as_json):
        clean_note(text)  # a note too long is refused before anything else is loaded
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        submitted = submit_decision(
            session=session,
            rules=runtime.rules,
            step_run_id=step_id,
            actor=_actor(session, username),
            data=payload,
            note=text,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    _report_submitted(step_id, "decided", submitted, as_json=as_json)


def _report_submitted(step_id: int, what: str, submitted: Any, *, as_json: bool) -> None:
    result = {
        "step_id": step_id,
        "event_id": submitted.event_id,
        "current_step_id": submitted.current_step_id,
        "woken": submitted.woken,
    }
    if as_json:
        _echo_json(result)
        return
    where = (
        f"the pathway is now on step {submitted.current_step_id}"
        if submitted.current_step_id
        else "the pathway has ended"
    )
    flow = "its flow run was woken" if submitted.woken else "its flow run catches up later"
    typer.echo(f"step {step_id} {what} (event {submitted.event_id}); {where}; {flow}")


@step_app.command("skip")
def step_skip(
    step_id: Annotated[int, typer.Argument(help="the step run's id")],
    reason: Annotated[str, typer.Option(help="why the step is skipped (kept with the event)")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Skip a current step with a written reason.

    The participant's advisor or the coordinator may; the pathway goes on by the step's default
    way."""
    from crealux_core.clock import utcnow
    from crealux_core.services.steps import skip_step

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        submitted = skip_step(
            session=session,
            rules=runtime.rules,
            step_run_id=step_id,
            actor=_actor(session, username),
            reason=reason,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    _report_submitted(step_id, "skipped", submitted, as_json=as_json)


@step_app.command("reassign")
def step_reassign(
    step_id: Annotated[int, typer.Argument(help="the step run's id")],
    to: Annotated[str, typer.Option("--to", help="the advisor who takes the step over")],
    note: Annotated[str | None, typer.Option(help="a note for the record")] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Give a current step to another advisor (the participant's advisor or the coordinator)."""
    from crealux_core.clock import utcnow
    from crealux_core.services.steps import reassign_step
    from crealux_core.services.users import get_user

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        submitted = reassign_step(
            session=session,
            rules=runtime.rules,
            step_run_id=step_id,
            actor=_actor(session, username),
            assignee=get_user(session=session, username=to),
            note=note,
            now=utcnow(),
        )
    if as_json:
        _echo_json({"step_id": step_id, "event_id": submitted.event_id, "assignee": to})
    else:
        typer.echo(f"step {step_id} reassigned to {to} (event {submitted.event_id})")


@step_app.command("correct")
def step_correct(
    step_id: Annotated[int, typer.Argument(help="the decided step run's id")],
    data: Annotated[str, typer.Option(help="the corrected answers, a JSON object (all of them)")],
    reason: Annotated[str, typer.Option(help="why the decision is corrected (kept with it)")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Correct a decided step's answers; the original decision stays in the history.

    Refused (exit 2) when the corrected answers would have taken the pathway elsewhere."""
    from crealux_core.clock import utcnow
    from crealux_core.services.plans import correct_decision

    username = _require_actor(as_user, as_json=as_json)
    payload = _json_object(data, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        event = correct_decision(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            step_run_id=step_id,
            data=payload,
            note=reason,
            now=utcnow(),
        )
    if as_json:
        _echo_json({"step_id": step_id, "event_id": event.id})
    else:
        typer.echo(f"step {step_id} corrected (event {event.id}); the original decision is kept")


@step_app.command("add")
def step_add(
    pathway_run_id: Annotated[int, typer.Argument(help="the pathway run's id")],
    step_key: Annotated[str, typer.Argument(help="an optional step of the pathway's catalogue")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Add an optional step (immersion, coaching...) alongside a pathway's current step."""
    from crealux_core.clock import utcnow
    from crealux_core.services.plans import add_optional_step

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        submitted = add_optional_step(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            pathway_run_id=pathway_run_id,
            step_key=step_key,
            note=None,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    if as_json:
        _echo_json({"step_id": submitted.current_step_id, "event_id": submitted.event_id})
    else:
        typer.echo(f"optional step {submitted.current_step_id} ({step_key}) added, open")


@participant_app.command("transfer")
def participant_transfer(
    from_advisor: Annotated[str, typer.Option("--from", help="the advisor who follows them now")],
    to: Annotated[str, typer.Option("--to", help="the advisor who takes them over")],
    participant_id: Annotated[
        list[int] | None,
        typer.Option("--participant", help="one participant's id (repeat); default: all"),
    ] = None,
    note: Annotated[str | None, typer.Option(help="why (kept with each pathway)")] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Move an advisor's caseload (or the participants named) to a colleague, with their current
    steps, in one transaction (the coordinator, or the advisor handing over their own)."""
    from crealux_core.clock import utcnow
    from crealux_core.services.caseloads import transfer_participants
    from crealux_core.services.users import get_user

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        moved = transfer_participants(
            session=session,
            actor=_actor(session, username),
            from_advisor_id=get_user(session=session, username=from_advisor).id or 0,
            to_advisor_id=get_user(session=session, username=to).id or 0,
            participant_ids=participant_id or None,
            note=note,
            now=utcnow(),
            dashboard_url=runtime.settings.dashboard_url,
        )
    if as_json:
        _echo_json({"moved": moved, "from": from_advisor, "to": to})
    else:
        typer.echo(f"{moved} participant(s) moved from {from_advisor} to {to}")


@participant_app.command("caseloads")
def participant_caseloads(as_json: JsonFlag = False) -> None:
    """List the advisors with their open pathways, quota and speciality."""
    from crealux_core.services.caseloads import caseloads

    runtime = _instance(as_json=as_json)
    with runtime.session() as session:
        loads = caseloads(session=session)
    rows = [
        {
            "advisor": load.username,
            "open_pathways": load.open_pathways,
            "quota": load.quota,
            "speciality": load.speciality,
            "full": load.full,
        }
        for load in loads
    ]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        quota = "-" if row["quota"] is None else row["quota"]
        typer.echo(
            f"{row['advisor']:<16} {row['open_pathways']:>4} / {quota:<4}"
            f" {row['speciality'] or '-'}{'  (full)' if row['full'] else ''}"
        )


@participant_app.command("advisor-profile")
def participant_advisor_profile(
    advisor: Annotated[str, typer.Argument(help="the advisor's username")],
    quota: Annotated[
        int | None, typer.Option(help="the most open pathways they follow (omit: no quota)")
    ] = None,
    speciality: Annotated[
        str | None, typer.Option(help="creation, training, employment or social (omit: none)")
    ] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Set an advisor's caseload quota and speciality (the coordinator only); enrolment suggests
    advisors with room in their quota and the right speciality."""
    from crealux_core.services.caseloads import set_profile
    from crealux_core.services.users import get_user

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        updated = set_profile(
            session=session,
            actor=_actor(session, username),
            advisor_id=get_user(session=session, username=advisor).id or 0,
            quota=quota,
            speciality=speciality,
        )
    result = {"advisor": advisor, "quota": updated.caseload_quota, "speciality": updated.speciality}
    if as_json:
        _echo_json(result)
    else:
        typer.echo(f"{advisor}: quota {updated.caseload_quota}, speciality {updated.speciality}")


# The commands of other modules, added here so that `crealux --help` lists them all. They import
# this module's helpers (_instance, _actor, _reported, ...), defined above by now.
from crealux import (  # noqa: E402
    cli_deliveries,
    cli_import,
    cli_outreach,
    cli_partners,
    cli_referrals,
    cli_report,
    cli_training,
)

app.add_typer(cli_report.report_app, name="report")
app.add_typer(cli_outreach.outreach_app, name="outreach")
app.add_typer(cli_outreach.support_app, name="support")
cli_import.register(app)
cli_partners.register(app)
cli_deliveries.register(app)
cli_training.register(app)
cli_referrals.register(app)


def main() -> None:
    app(prog_name="crealux")


if __name__ == "__main__":
    main()
