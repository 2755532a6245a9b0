"""`crealux training ...`: the training catalogue, sessions, enrolments, attendance and closing.
See docs/training.md.

The helpers of crealux.cli are imported inside the commands: crealux.cli imports this module
at its end, and `python -m crealux.cli` runs it as __main__.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crealux.cli_options import AsUser, JsonFlag

if TYPE_CHECKING:
    from crealux_core.services.training import Roster, SessionView

training_app = typer.Typer(
    help="Training sessions: the catalogue, sessions, enrolments, attendance, closing.",
    no_args_is_help=True,
)

SessionId = Annotated[int, typer.Argument(help="the session's id (`crealux training sessions`)")]
References = Annotated[
    list[str] | None,
    typer.Option(help="a participant's reference (P-00012) or id; repeat for several"),
]


def register(app: typer.Typer) -> None:
    """Add `crealux training ...` to the `crealux` application."""
    app.add_typer(training_app, name="training")


def _day(value: str, option: str, *, as_json: bool) -> date:
    from crealux.cli import Code, _fail

    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", as_json=as_json, code=Code.INVALID)


def _participant_id(value: str, *, as_json: bool) -> int:
    """A participant's id from their reference (P-00012) or their id."""
    from crealux.cli import Code, _fail

    text = value.strip().upper().removeprefix("P-")
    if not text.isdigit():
        _fail(
            f"{value!r} is not a participant reference (P-00012)",
            as_json=as_json,
            code=Code.INVALID,
        )
    return int(text)


def _enrolment_of(roster: Roster, value: str, *, as_json: bool) -> int:
    """The enrolment id of a participant on a roster."""
    from crealux.cli import Code, _fail

    wanted = _participant_id(value, as_json=as_json)
    for entry in roster.entries:
        if entry.participant_id == wanted:
            return entry.enrolment_id
    _fail(
        f"{value} is not enrolled in session {roster.session.id}",
        as_json=as_json,
        code=Code.NOT_FOUND,
    )


def _session_line(view: SessionView) -> str:
    return (
        f"{view.id:>4}  {view.starts_on:%d/%m/%Y}-{view.ends_on:%d/%m/%Y}  {view.module.key}"
        f"  « {view.module.title} »  {view.status.value}  {view.enrolled}/{view.capacity}"
        f" inscrits, {view.waiting} en attente  ({view.place})"
    )


@training_app.command("modules")
def training_modules(as_json: JsonFlag = False) -> None:
    """List the training modules of the rules, with the organisation that gives each."""
    from crealux.cli import _echo_json, _runtime
    from crealux_core.services.training import catalogue

    modules = catalogue(rules=_runtime().rules)
    if as_json:
        _echo_json(
            [
                {
                    "module": m.key,
                    "title": m.title,
                    "organisation": m.organisation_name,
                    "hours": m.hours,
                    "qualifying": m.qualifying,
                    "training_kind": m.training_kind,
                }
                for m in modules
            ]
        )
        return
    for m in modules:
        hours = f"{m.hours:g} h" if m.hours else "-"
        typer.echo(f"{m.key:45} {m.title} ({m.organisation_name}, {hours}, {m.training_kind})")


@training_app.command("sessions")
def training_sessions(
    session_id: Annotated[
        int | None, typer.Option("--id", help="show this session with its participants")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="leave out closed sessions")] = False,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """List the sessions you may see (a partner's staff: their organisation's), or one
    session's participants (first name and reference) and attendance."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.services.training import list_sessions, roster

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        user = _actor(session, username)
        if session_id is None:
            views = list_sessions(
                session=session, rules=runtime.rules, user=user, include_closed=not open_only
            )
            if as_json:
                _echo_json([view.as_json() for view in views])
            else:
                for view in views:
                    typer.echo(_session_line(view))
                if not views:
                    typer.echo("no session")
            return
        found = roster(
            session=session, rules=runtime.rules, user=user, training_session_id=session_id
        )
    if as_json:
        days = {day_id: day for day_id, day, _ in found.session.days}
        _echo_json(
            {
                **found.session.as_json(),
                "participants": [entry.as_json() for entry in found.entries],
                "attendance": [
                    {
                        "enrolment_id": enrolment_id,
                        "date": days[day_id].isoformat(),
                        "presence": presence.value,
                        "hours": hours,
                    }
                    for (enrolment_id, day_id), (presence, hours) in sorted(
                        found.attendance.items()
                    )
                ],
            }
        )
        return
    typer.echo(_session_line(found.session))
    for entry in found.entries:
        place = f" (n° {entry.position})" if entry.position else ""
        typer.echo(
            f"  {entry.reference}  {entry.first_name:20} {entry.status.value}{place}"
            f"  {entry.hours_attended:g} h" + ("  décidé" if entry.decided else "")
        )


@training_app.command("create")
def training_create(
    module: Annotated[str, typer.Option(help="organisation/offer (`crealux training modules`)")],
    start: Annotated[str, typer.Option(help="first day (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option(help="last day (YYYY-MM-DD)")],
    capacity: Annotated[int, typer.Option(help="how many places")],
    place: Annotated[str, typer.Option(help="where it takes place")],
    day: Annotated[
        list[str] | None,
        typer.Option("--day", help="a session day (repeat); default: every weekday"),
    ] = None,
    hours_per_day: Annotated[float, typer.Option(help="hours of each day")] = 6.0,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Plan a session of a module (the coordinator, or the staff of the organisation giving
    it)."""
    from crealux.cli import Code, _actor, _echo_json, _fail, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.training import create_session

    organisation_key, _, offer_key = module.partition("/")
    if not offer_key:
        _fail("--module: write it organisation/offer", as_json=as_json, code=Code.INVALID)
    first = _day(start, "--start", as_json=as_json)
    last = _day(end, "--end", as_json=as_json)
    days = [_day(value, "--day", as_json=as_json) for value in day or []]
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        view = create_session(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            organisation_key=organisation_key,
            offer_key=offer_key,
            starts_on=first,
            ends_on=last,
            capacity=capacity,
            place=place,
            now=utcnow(),
            days=days or None,
            hours_per_day=hours_per_day,
        )
    if as_json:
        _echo_json(view.as_json())
    else:
        typer.echo(f"session {view.id} planned: {_session_line(view).strip()}")


@training_app.command("enrol")
def training_enrol(
    session_id: SessionId,
    participant: Annotated[str, typer.Argument(help="the participant's reference (P-00012)")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Enrol a participant on the training step of their pathway (their advisor, or the
    coordinator); over capacity, on the waiting list."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.training import enrol

    participant_id = _participant_id(participant, as_json=as_json)
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        done = enrol(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            training_session_id=session_id,
            participant_id=participant_id,
            now=utcnow(),
            dashboard_url=runtime.settings.dashboard_url,
        )
    if as_json:
        _echo_json(
            {
                "enrolment_id": done.enrolment_id,
                "status": done.status.value,
                "position": done.position,
                "session_full": done.session_full,
            }
        )
    elif done.position:
        typer.echo(f"{participant}: waiting list, n° {done.position}")
    else:
        typer.echo(
            f"{participant}: enrolled" + (" (the session is now full)" if done.session_full else "")
        )


@training_app.command("withdraw")
def training_withdraw(
    session_id: SessionId,
    participant: Annotated[str, typer.Argument(help="the participant's reference (P-00012)")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Take a participant out of a session; the first on the waiting list takes the place."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.training import roster, withdraw

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        user = _actor(session, username)
        found = roster(
            session=session, rules=runtime.rules, user=user, training_session_id=session_id
        )
        enrolment_id = _enrolment_of(found, participant, as_json=as_json)
        promoted = withdraw(
            session=session, rules=runtime.rules, user=user, enrolment_id=enrolment_id, now=utcnow()
        )
    if as_json:
        _echo_json({"withdrawn": enrolment_id, "promoted": promoted})
    else:
        typer.echo(
            f"{participant} withdrawn"
            + (f"; enrolment {promoted} takes the place" if promoted else "")
        )


def _marks(found: Roster, values: list[str] | None, presence: Any, *, as_json: bool) -> list[Any]:
    from crealux.cli import Code, _fail
    from crealux_core.services.training import Mark

    marks = []
    for value in values or []:
        reference, _, hours = value.partition(":")
        try:
            given = float(hours) if hours else None
        except ValueError:
            _fail(
                f"{value!r}: write REFERENCE or REFERENCE:HOURS", as_json=as_json, code=Code.INVALID
            )
        marks.append(Mark(_enrolment_of(found, reference, as_json=as_json), presence, given))
    return marks


@training_app.command("attend")
def training_attend(
    session_id: SessionId,
    on: Annotated[str, typer.Option("--date", help="the session day (YYYY-MM-DD)")],
    present: Annotated[
        list[str] | None,
        typer.Option(help="present: P-00012, or P-00012:3.5 for fewer hours than the day's"),
    ] = None,
    absent: References = None,
    excused: References = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Record attendance on a session day (the partner giving the module, or the
    coordinator); a participant marked again is corrected."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.models import Presence
    from crealux_core.services.training import record_attendance, roster

    held_on = _day(on, "--date", as_json=as_json)
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        user = _actor(session, username)
        found = roster(
            session=session, rules=runtime.rules, user=user, training_session_id=session_id
        )
        marks = [
            *_marks(found, present, Presence.PRESENT, as_json=as_json),
            *_marks(found, absent, Presence.ABSENT, as_json=as_json),
            *_marks(found, excused, Presence.EXCUSED, as_json=as_json),
        ]
        count = record_attendance(
            session=session,
            user=user,
            training_session_id=session_id,
            held_on=held_on,
            marks=marks,
            now=utcnow(),
        )
    if as_json:
        _echo_json({"training_session_id": session_id, "date": held_on.isoformat(), "marks": count})
    else:
        typer.echo(f"attendance of {held_on:%d/%m/%Y} recorded: {count} participant(s)")


@training_app.command("close")
def training_close(
    session_id: SessionId,
    completed: References = None,
    not_completed: References = None,
    qualified: References = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Close a session (the coordinator, or the staff of the organisation giving it): each
    enrolled participant's pathway moves on from its training step. A participant not named
    completed the training if they attended at all; --qualified implies --completed. Closing
    again finishes what an earlier closing could not, and decides nothing twice."""
    from crealux.cli import Code, _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.training import Completion, close_session, roster

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        user = _actor(session, username)
        found = roster(
            session=session, rules=runtime.rules, user=user, training_session_id=session_id
        )
        completions: dict[int, Completion] = {}
        for value in completed or []:
            completions[_enrolment_of(found, value, as_json=as_json)] = Completion(True)
        for value in not_completed or []:
            completions[_enrolment_of(found, value, as_json=as_json)] = Completion(False)
        for value in qualified or []:
            completions[_enrolment_of(found, value, as_json=as_json)] = Completion(True, True)
        closed = close_session(
            session=session,
            rules=runtime.rules,
            user=user,
            training_session_id=session_id,
            completions=completions,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    if as_json:
        _echo_json(closed.as_json())
    else:
        typer.echo(
            f"session {session_id} closed: {len(closed.decided)} pathway(s) moved on"
            f" ({closed.woken} woken at once), {len(closed.already)} already"
        )
        for problem in [*closed.not_on_step.values(), *closed.failed.values()]:
            typer.echo(f"  not moved on: {problem}", err=True)
    if closed.failed:
        raise typer.Exit(Code.ERROR)
