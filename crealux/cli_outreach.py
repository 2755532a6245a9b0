"""`crealux outreach ...` (sensitisation and networking) and `crealux support ...` (hours of
support per participant). See docs/outreach.md.

The helpers of crealux.cli are imported inside the commands: crealux.cli imports this module
at its end, and `python -m crealux.cli` runs it as __main__.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from crealux_core.services.outreach import OutreachView, StructureView
    from crealux_core.services.support import SupportSummary

outreach_app = typer.Typer(
    help="Outreach and networking: actions, structures sensitised, prospective workshops.",
    no_args_is_help=True,
)
support_app = typer.Typer(
    help="Hours of support per participant: see them, correct them with a reason.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="CREALUX_USER",
        help="who acts (a username: an advisor or the coordinator); required, or set CREALUX_USER",
        show_default=False,
    ),
]
Day = Annotated[str, typer.Option("--date", help="the day it happened (YYYY-MM-DD)")]


def _day(value: str | None, option: str, *, as_json: bool) -> date | None:
    """The date of an option (YYYY-MM-DD), or exit 2 naming the option."""
    from crealux.cli import Code, _fail

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", as_json=as_json, code=Code.INVALID)


def _action_json(view: OutreachView) -> dict[str, Any]:
    return {
        "id": view.id,
        "category": view.category.value,
        "kind": view.kind.value,
        "held_on": view.held_on.isoformat(),
        "title": view.title,
        "organiser": view.organiser_key,
        "municipality": view.municipality,
        "people_reached": view.people_reached,
        "became_candidates": view.became_candidates,
        "hours": view.hours,
        "outputs": view.outputs,
        "recorded_by": view.recorded_by,
        "recorded_at": view.recorded_at.isoformat(),
    }


def _structure_json(view: StructureView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "structure_key": view.structure_key,
        "kind": view.kind.value,
        "sensitised_on": view.sensitised_on.isoformat(),
        "by": view.organisation_key,
        "municipality": view.municipality,
        "times_sensitised": view.times_sensitised,
        "recorded_by": view.recorded_by,
        "recorded_at": view.recorded_at.isoformat(),
    }


@outreach_app.command("add")
def outreach_add(
    category: Annotated[
        str,
        typer.Option(help="candidates (sensitisation), training (information) or prospective"),
    ],
    kind: Annotated[
        str, typer.Option(help="information_session, fair, school_visit, workshop or other")
    ],
    held_on: Day,
    title: Annotated[str, typer.Option(help="what it was (a workshop's theme)")],
    organiser: Annotated[str, typer.Option(help="the organising organisation's key")],
    reached: Annotated[int, typer.Option(help="people reached (a workshop's participants)")],
    candidates: Annotated[int, typer.Option(help="of them, how many became candidates")] = 0,
    municipality: Annotated[str | None, typer.Option(help="where it took place")] = None,
    hours: Annotated[float | None, typer.Option(help="how long it lasted, in hours")] = None,
    outputs: Annotated[str | None, typer.Option(help="what came out of it (workshops)")] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Record an outreach action: an information session, the fair, a school visit, a training
    information, a prospective workshop (advisors and the coordinator)."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.outreach import record_outreach

    username = _require_actor(as_user, as_json=as_json)
    data = {
        "category": category,
        "kind": kind,
        "held_on": held_on,
        "title": title,
        "organiser": organiser,
        "people_reached": reached,
        "became_candidates": candidates,
        "municipality": municipality,
        "hours": hours,
        "outputs": outputs,
    }
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        row = record_outreach(
            session=session, user=_actor(session, username), data=data, now=utcnow()
        )
    if as_json:
        _echo_json({"id": row.id, "category": row.category.value, "held_on": str(row.held_on)})
    else:
        typer.echo(f"outreach action {row.id} recorded: {row.title} ({row.people_reached} reached)")


@outreach_app.command("structure")
def outreach_structure(
    name: Annotated[str, typer.Option(help="the structure's name (CPAS de Durbuy)")],
    kind: Annotated[str, typer.Option(help="first_line or professional")],
    held_on: Day,
    by: Annotated[str, typer.Option("--by", help="the key of the organisation that sensitised it")],
    municipality: Annotated[str | None, typer.Option(help="where the structure is")] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a structure sensitised; sensitised again, it still counts once (by its name)."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.outreach import record_structure

    username = _require_actor(as_user, as_json=as_json)
    data = {
        "name": name,
        "kind": kind,
        "sensitised_on": held_on,
        "by_organisation": by,
        "municipality": municipality,
    }
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        row = record_structure(
            session=session, user=_actor(session, username), data=data, now=utcnow()
        )
    if as_json:
        _echo_json({"id": row.id, "structure_key": row.structure_key})
    else:
        typer.echo(f"structure sensitisation {row.id} recorded: {row.structure_name}")


@outreach_app.command("list")
def outreach_list(
    start: Annotated[str | None, typer.Option("--from", help="first day (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day, included")] = None,
    category: Annotated[
        str | None, typer.Option(help="candidates, training or prospective (default: all)")
    ] = None,
    structures: Annotated[
        bool, typer.Option("--structures", help="list the structures sensitised instead")
    ] = False,
    limit: Annotated[int, typer.Option(help="at most this many rows (1-500)")] = 100,
    offset: Annotated[int, typer.Option(help="skip this many rows first")] = 0,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """List the outreach actions (or, with --structures, the structures sensitised) of a
    period, newest first, with the totals the indicators count."""
    from crealux.cli import Code, _actor, _echo_json, _fail, _instance, _reported, _require_actor
    from crealux_core.services.outreach import list_outreach, list_structures, outreach_summary

    first = _day(start, "--from", as_json=as_json)
    last = _day(end, "--to", as_json=as_json)
    if structures and category is not None:
        _fail("--category is for actions, not --structures", as_json=as_json, code=Code.INVALID)
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        user = _actor(session, username)
        summary = outreach_summary(session=session, user=user, start=first, end=last)
        if structures:
            places = list_structures(
                session=session, user=user, start=first, end=last, offset=offset, limit=limit
            )
        else:
            actions = list_outreach(
                session=session,
                user=user,
                start=first,
                end=last,
                category=category,
                offset=offset,
                limit=limit,
            )
    totals = {
        "candidates_reached": summary.candidates_reached,
        "became_candidates": summary.became_candidates,
        "training_reached": summary.training_reached,
        "workshops_held": summary.workshops_held,
        "first_line_structures": summary.first_line_structures,
        "professional_structures": summary.professional_structures,
    }
    if structures:
        if as_json:
            _echo_json(
                {
                    "total": places.total,
                    "rows": [_structure_json(v) for v in places.rows],
                    "totals": totals,
                }
            )
            return
        for place in places.rows:
            again = (
                f"  (sensitised {place.times_sensitised} times)"
                if place.times_sensitised > 1
                else ""
            )
            typer.echo(
                f"{place.id:>5} {place.sensitised_on} {place.kind.value:<12} {place.name}"
                f" - by {place.organisation_key}{again}"
            )
        typer.echo(
            f"{places.total} sensitisation(s); distinct structures: "
            f"{summary.first_line_structures} first-line, {summary.professional_structures}"
            " professional"
        )
        return
    if as_json:
        _echo_json(
            {
                "total": actions.total,
                "rows": [_action_json(v) for v in actions.rows],
                "totals": totals,
            }
        )
        return
    for view in actions.rows:
        typer.echo(
            f"{view.id:>5} {view.held_on} {view.category.value:<11} {view.kind.value:<19}"
            f" {view.people_reached:>5} reached {view.became_candidates:>4} candidates"
            f"  {view.title} ({view.organiser_key})"
        )
    typer.echo(
        f"{actions.total} action(s); candidates sensitised {summary.candidates_reached}"
        f" (became candidates {summary.became_candidates}), people told about training"
        f" {summary.training_reached}, prospective workshops {summary.workshops_held}"
    )


@outreach_app.command("delete")
def outreach_delete(
    row_id: Annotated[int, typer.Argument(help="the action's id (with --structure: the row's)")],
    structure: Annotated[
        bool, typer.Option("--structure", help="delete a structure sensitisation")
    ] = False,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete a wrong record (the coordinator, or whoever last wrote it); nothing keeps it."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.services.outreach import delete_outreach, delete_structure

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        user = _actor(session, username)
        if structure:
            delete_structure(session=session, user=user, structure_id=row_id)
        else:
            delete_outreach(session=session, user=user, action_id=row_id)
    what = "structure sensitisation" if structure else "outreach action"
    if as_json:
        _echo_json({"deleted": row_id, "what": what})
    else:
        typer.echo(f"{what} {row_id} deleted")


# --- hours of support ------------------------------------------------------------------------


def _summary_json(summary: SupportSummary) -> dict[str, Any]:
    return {
        "participant_id": summary.participant_id,
        "reference": summary.reference,
        "kinds": {
            item.kind: {
                "from_steps": item.from_steps,
                "from_trainings": item.from_trainings,
                "corrections": item.corrections,
                "total": item.total,
            }
            for item in summary.kinds
        },
        "total": summary.total,
        "corrections": [
            {
                "id": c.id,
                "kind": c.kind,
                "hours": c.hours,
                "reason": c.reason,
                "given_on": c.given_on.isoformat(),
                "recorded_at": c.recorded_at.isoformat(),
                "by": c.actor,
            }
            for c in summary.corrections
        ],
    }


Participant = Annotated[int, typer.Option("--participant", help="the participant's id")]


@support_app.command("show")
def support_show(
    participant_id: Participant, as_user: AsUser = None, as_json: JsonFlag = False
) -> None:
    """A participant's hours of support by kind: from steps, trainings and corrections (their
    advisor, or the coordinator)."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.services.support import support_hours

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        summary = support_hours(
            session=session, user=_actor(session, username), participant_id=participant_id
        )
    if as_json:
        _echo_json(_summary_json(summary))
        return
    typer.echo(f"{summary.reference}: {summary.total:g} h of support")
    for item in summary.kinds:
        typer.echo(
            f"  {item.kind:<20} {item.total:>7g} h  (steps {item.from_steps:g}, trainings"
            f" {item.from_trainings:g}, corrections {item.corrections:+g})"
        )
    for c in summary.corrections:
        typer.echo(
            f"  correction {c.hours:+g} h {c.kind} on {c.given_on} by {c.actor or '?'}"
            f" ({c.recorded_at:%Y-%m-%d %H:%M} UTC): {c.reason}"
        )


@support_app.command("correct")
def support_correct(
    participant_id: Participant,
    kind: Annotated[str, typer.Option(help="interview, information_session or training")],
    hours: Annotated[float, typer.Option(help="hours to add (negative: to remove), not zero")],
    reason: Annotated[str, typer.Option(help="why (kept with the correction)")],
    given_on: Annotated[
        str | None, typer.Option("--date", help="the day the support was given (default: today)")
    ] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Add or remove hours of support with a reason; the correction is kept beside what was
    recorded (their advisor, or the coordinator)."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.support import correct_support

    day = _day(given_on, "--date", as_json=as_json)
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        row = correct_support(
            session=session,
            user=_actor(session, username),
            participant_id=participant_id,
            kind=kind,
            hours=hours,
            reason=reason,
            now=utcnow(),
            given_on=day,
        )
    if as_json:
        _echo_json({"id": row.id, "kind": row.kind, "hours": row.hours})
    else:
        typer.echo(
            f"correction {row.id}: {row.hours:+g} h {row.kind} for participant {participant_id}"
        )
