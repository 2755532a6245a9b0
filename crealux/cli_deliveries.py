"""crealux deliveries ...: the delivery log of notifications and the channels disabled (the
coordinator). See docs/notifications.md.

The helpers of crealux.cli are imported inside the commands: crealux.cli imports this module
at its end, and `python -m crealux.cli` runs it as __main__.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

deliveries_app = typer.Typer(
    help="The delivery log of notifications (per channel) and the disabled channels.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="CREALUX_USER",
        help="who acts (a username: the coordinator); required, or set CREALUX_USER",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add `crealux deliveries ...` to the `crealux` application."""
    app.add_typer(deliveries_app, name="deliveries")


def _day(value: str | None, option: str, *, as_json: bool) -> date | None:
    from crealux.cli import Code, _fail

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", as_json=as_json, code=Code.INVALID)


@deliveries_app.command("list")
def deliveries_list(
    status: Annotated[
        str | None,
        typer.Option(help="pending, sending, sent, partial or failed (default: all)"),
    ] = None,
    organisation: Annotated[str | None, typer.Option(help="an organisation's key")] = None,
    start: Annotated[str | None, typer.Option("--from", help="queued from (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="queued up to, included")] = None,
    participant: Annotated[
        str | None, typer.Option(help="a participant's reference (P-00012)")
    ] = None,
    pathway: Annotated[int | None, typer.Option(help="a pathway run's id")] = None,
    limit: Annotated[int, typer.Option(help="at most this many rows (1-500)")] = 50,
    offset: Annotated[int, typer.Option(help="skip this many rows first")] = 0,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """List notifications, newest first, with what each channel answered to each attempt
    (channels masked)."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.services.deliveries import list_deliveries

    first = _day(start, "--from", as_json=as_json)
    last = _day(end, "--to", as_json=as_json)
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        page = list_deliveries(
            session=session,
            user=_actor(session, username),
            status=status,
            organisation_key=organisation,
            start=first,
            end=last,
            participant=participant,
            pathway_run_id=pathway,
            offset=offset,
            limit=limit,
        )
    if as_json:
        _echo_json({"total": page.total, "rows": [row.as_json() for row in page.rows]})
        return
    for row in page.rows:
        about = f" {row.participant_reference}" if row.participant_reference else ""
        again = f", next try {row.next_attempt_at:%Y-%m-%d %H:%M}" if row.next_attempt_at else ""
        typer.echo(
            f"{row.notification_id:>6} {row.created_at:%Y-%m-%d %H:%M} {row.status.value:<8}"
            f" {row.organisation_key}{about}  {row.title}  (attempts {row.attempts}{again})"
        )
        for attempt in row.channels:
            error = f": {attempt.error}" if attempt.error else ""
            typer.echo(
                f"         #{attempt.attempt} {attempt.status.value:<8} {attempt.channel}{error}"
            )
    typer.echo(f"{page.total} notification(s)")


@deliveries_app.command("channels")
def deliveries_channels(
    disabled: Annotated[bool, typer.Option("--disabled", help="only the disabled ones")] = False,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """List the notification channels (masked) with their state; a disabled one says why."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.services.deliveries import list_channels

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        states = list_channels(
            session=session,
            user=_actor(session, username),
            rules=runtime.rules,
            disabled_only=disabled,
        )
    if as_json:
        _echo_json([state.as_json() for state in states])
        return
    for state in states:
        if state.disabled_at is not None:
            how = f"DISABLED since {state.disabled_at:%Y-%m-%d %H:%M}: {state.reason}"
        else:
            how = "enabled"
        gone = "" if state.in_rules else " (not in the rules)"
        typer.echo(
            f"{state.organisation_key:<28} {state.channel_id:<16} {state.channel}{gone}  {how}"
        )
    typer.echo(f"{sum(state.disabled for state in states)} disabled of {len(states)} channel(s)")


@deliveries_app.command("enable-channel")
def deliveries_enable_channel(
    organisation: Annotated[str, typer.Argument(help="the organisation's key")],
    channel: Annotated[
        str, typer.Argument(help="the channel's id (from `crealux deliveries channels`)")
    ],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Enable a disabled channel again (once its URL or its server is fixed): later messages
    go to it; the ones that skipped it are not sent again."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.deliveries import enable_channel

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        state = enable_channel(
            session=session,
            user=_actor(session, username),
            organisation_key=organisation,
            channel=channel,
            now=utcnow(),
            rules=runtime.rules,
        )
    if as_json:
        _echo_json(state.as_json())
    else:
        typer.echo(f"channel {state.channel_id} of {state.organisation_key} enabled again")
