"""The `crealux` command. It calls the same services as the dashboard; `--json` for scripts."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from crealux_core.settings import Settings, load_settings

if TYPE_CHECKING:
    from crealux_core.runtime import Runtime

app = typer.Typer(help="CREALux: parcours individualisés d'accompagnement.", no_args_is_help=True)
rules_app = typer.Typer(help="Check the rules files.", no_args_is_help=True)
participant_app = typer.Typer(help="Participants.", no_args_is_help=True)
step_app = typer.Typer(help="Steps of pathways.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(participant_app, name="participant")
app.add_typer(step_app, name="step")

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def _settings() -> Settings:
    settings = load_settings()
    os.environ.update(settings.prefect_env())  # before anything imports prefect
    return settings


def _fail(message: str, *, as_json: bool, code: int = 1, **extra: Any) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"error": message, **extra}, ensure_ascii=False))
    else:
        typer.echo(f"error: {message}", err=True)
        for field, problem in extra.get("fields", {}).items():
            typer.echo(f"  {field}: {problem}", err=True)
    raise typer.Exit(code)


def _runtime() -> Runtime:
    settings = _settings()
    from crealux_core.rules import RulesError
    from crealux_core.runtime import Runtime

    runtime = Runtime(settings)
    try:
        runtime.rules  # noqa: B018  (load and validate the rules before anything else)
    except RulesError as error:
        typer.echo(f"The rules cannot be used:\n{error}", err=True)
        raise typer.Exit(2) from None
    return runtime


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
        raise typer.Exit(2) from None
    summary = {
        "ok": True,
        "pathways": {key: len(spec.steps) for key, spec in rules.pathways.items()},
        "organisations": len(rules.organisations),
    }
    typer.echo(json.dumps(summary) if as_json else f"{target}: OK {summary}")


@app.command()
def init() -> None:
    """Create or migrate the database and mirror the organisations and demo users."""
    from crealux.demo import ensure_reference_data
    from crealux_core.db import migrate

    runtime = _runtime()
    runtime.settings.resolved_home.mkdir(parents=True, exist_ok=True)
    migrate(runtime.settings.app_database_url)
    ensure_reference_data(runtime)
    typer.echo(f"database ready: {runtime.settings.app_database_url}")


@app.command()
def runner() -> None:
    """Serve the pathway and reconcile deployments in this process (until Ctrl-C)."""
    _settings()
    from flows.serve import serve_deployments

    serve_deployments()


@app.command()
def demo() -> None:
    """Load the demo participants into a running instance (needs `crealux up` running)."""
    from crealux.demo import load_demo

    load_demo(_runtime())


@app.command()
def reconcile(as_json: JsonFlag = False) -> None:
    """Start unstarted pathways and deliver decisions that were committed but not delivered."""
    from crealux_core.clock import utcnow
    from crealux_core.services.delivery import reconcile as reconcile_pathways
    from crealux_core.services.notifications import dispatch_notifications

    runtime = _runtime()
    with runtime.session() as session:
        done = reconcile_pathways(session=session, orchestrator=runtime.orchestrator, now=utcnow())
        sent = dispatch_notifications(
            session=session, rules=runtime.rules, notifier=runtime.notifier, now=utcnow()
        )
    result = {**done.__dict__, "sent": sent.sent, "failed": sent.failed}
    typer.echo(json.dumps(result) if as_json else str(result))


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="load demo data into an empty database")] = True,
) -> None:
    """Start the whole product: Prefect server, runner, mail sink, dashboard. Ctrl-C stops all."""
    from crealux.demo import ensure_reference_data, has_participants, load_demo
    from crealux.launcher import (
        StartError,
        Supervisor,
        instance_env,
        start_dashboard,
        start_mail_sink,
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
    ensure_reference_data(runtime)
    supervisor = Supervisor(log_dir=home / "logs", env=env)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop children on SIGTERM too
    typer.echo(f"CREALux: données dans {home}")
    try:
        start_prefect_server(supervisor, settings)
        typer.echo(f"  Prefect      {settings.prefect_ui_url}")
        start_mail_sink(supervisor, settings)
        start_runner(supervisor, settings)
        if demo and not has_participants(runtime):
            typer.echo("  chargement des données de démonstration (première fois)...")
            load_demo(runtime, progress=lambda line: typer.echo(f"  {line}"))
        start_dashboard(supervisor, settings)
        typer.echo(f"  Prefect UI   {settings.prefect_ui_url}")
        typer.echo(f"  Dashboard    {settings.dashboard_url}")
        typer.echo(
            f"  Courriels    {home / 'mail'} (serveur SMTP de démo, port {settings.smtp_port})"
        )
        typer.echo(f"  Journaux     {home / 'logs'}")
        typer.echo("Ctrl-C pour tout arrêter.")
        while True:
            supervisor.check_alive()
            time.sleep(1)
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
    advisor: Annotated[str, typer.Option(help="the advisor's username")],
    birth_year: Annotated[int | None, typer.Option()] = None,
    municipality: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """Enroll a participant and start their pathway."""
    from pydantic import ValidationError

    from crealux_core.clock import utcnow
    from crealux_core.models import ParticipantCreate
    from crealux_core.services.errors import ServiceError
    from crealux_core.services.participants import enroll_participant
    from crealux_core.services.users import get_user

    runtime = _runtime()
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
        _fail("invalid participant", as_json=as_json, code=2, fields=fields)
    with runtime.session() as session:
        try:
            participant, run = enroll_participant(
                session=session,
                rules=runtime.rules,
                data=data,
                advisor=get_user(session=session, username=advisor),
                now=utcnow(),
                orchestrator=runtime.orchestrator,
            )
        except ServiceError as error:
            _fail(str(error), as_json=as_json, code=2)
    result = {
        "participant_id": participant.id,
        "reference": participant.reference,
        "pathway_run_id": run.id,
        "flow_run_id": run.flow_run_id,
    }
    typer.echo(json.dumps(result) if as_json else f"enrolled {result}")


@step_app.command("list")
def step_list(
    participant: Annotated[int | None, typer.Option(help="participant id")] = None,
    status: Annotated[str | None, typer.Option(help="open or completed")] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="only what this user sees")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List steps (every step, or what one user sees)."""
    from crealux_core.models import StepStatus
    from crealux_core.services.steps import list_steps
    from crealux_core.services.users import get_user

    runtime = _runtime()
    try:
        wanted = StepStatus(status) if status else None
    except ValueError:
        _fail(f"unknown status {status!r} (open, completed)", as_json=as_json, code=2)
    with runtime.session() as session:
        user = get_user(session=session, username=as_user) if as_user else None
        steps = list_steps(
            session=session,
            rules=runtime.rules,
            user=user,
            participant_id=participant,
            status=wanted,
        )
    if as_json:
        typer.echo(json.dumps([step.as_json() for step in steps], ensure_ascii=False))
        return
    for step in steps:
        typer.echo(
            f"{step.id:>6}  {step.participant_reference}  {step.step_key:<30}"
            f" {step.status.value:<9}"
            f" due {step.due_at:%Y-%m-%d}  run {step.flow_run_id}"
        )


@step_app.command("complete")
def step_complete(
    step_id: Annotated[int, typer.Argument(help="the step run's id")],
    data: Annotated[str, typer.Option(help="the outcome as a JSON object")],
    note: Annotated[
        str | None, typer.Option(help="a free-text note (stays in the database)")
    ] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="default: the coordinator")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Complete a step with its outcome, then resume the pathway's flow run."""
    from crealux_core.clock import utcnow
    from crealux_core.services.errors import InvalidInput, ServiceError
    from crealux_core.services.steps import complete_step
    from crealux_core.services.users import default_coordinator, get_user

    try:
        payload = json.loads(data)
    except json.JSONDecodeError as error:
        _fail(f"--data is not JSON: {error}", as_json=as_json, code=2)
    if not isinstance(payload, dict):
        _fail("--data must be a JSON object", as_json=as_json, code=2)
    runtime = _runtime()
    with runtime.session() as session:
        try:
            actor = (
                get_user(session=session, username=as_user)
                if as_user
                else default_coordinator(session=session)
            )
            decision, delivered = complete_step(
                session=session,
                rules=runtime.rules,
                step_run_id=step_id,
                actor=actor,
                data=payload,
                note=note,
                now=utcnow(),
                orchestrator=runtime.orchestrator,
            )
        except InvalidInput as error:
            _fail("invalid input", as_json=as_json, code=2, fields=error.field_errors)
        except ServiceError as error:
            _fail(str(error), as_json=as_json, code=2)
    result = {"step_id": step_id, "decision_id": decision.id, "delivered": delivered}
    typer.echo(json.dumps(result) if as_json else str(result))


def main() -> None:
    app(prog_name="crealux")


if __name__ == "__main__":
    main()
