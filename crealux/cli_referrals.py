"""`crealux referral ...`: send a participant to a partner's offer, and answer as the partner.

The same services as the dashboard's « Orientations » page, with the same checks: a partner
sees and answers only the referrals sent to its organisation, while they are open.
The helpers of crealux.cli are imported inside the commands (crealux.cli imports this module).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crealux.cli_options import AsUser, JsonFlag

if TYPE_CHECKING:
    from crealux_core.services.referrals import ReferralView

referral_app = typer.Typer(
    help="Referrals to partners' offers: send, list, accept (with a start date), decline.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add `crealux referral ...` to the `crealux` application."""
    app.add_typer(referral_app, name="referral")


def _view_json(view: ReferralView) -> dict[str, Any]:
    return {
        "id": view.id,
        "step_id": view.step_run_id,
        "participant": view.reference,
        "first_name": view.first_name,
        "organisation": view.organisation_key,
        "offer": view.offer_key,
        "offer_title": view.offer_title,
        "reason": view.reason,
        "status": view.status.value,
        "referred_at": view.referred_at.isoformat(),
        "answer_due_at": view.answer_due_at.isoformat(),
        "overdue": view.overdue,
        "starts_on": view.starts_on.isoformat() if view.starts_on else None,
        "decline_reason": view.decline_reason,
    }


@referral_app.command("list")
def referral_list(
    status: Annotated[
        str | None, typer.Option(help="sent, accepted, declined (default: all you may see)")
    ] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """List the referrals you may see: a partner's (open, to its organisation), an advisor's
    (their participants'), every one for the coordinator; newest first."""
    from crealux.cli import Code, _actor, _echo_json, _fail, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.models import ReferralStatus
    from crealux_core.services.referrals import list_referrals

    wanted = None
    if status is not None:
        try:
            wanted = ReferralStatus(status)
        except ValueError:
            known = ", ".join(item.value for item in ReferralStatus)
            _fail(f"--status: {status!r} is not one of {known}", as_json=as_json, code=Code.INVALID)
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        views = list_referrals(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            now=utcnow(),
            status=wanted,
        )
    if as_json:
        _echo_json([_view_json(view) for view in views])
        return
    if not views:
        typer.echo("no referral")
    for view in views:
        late = " (answer overdue)" if view.overdue else ""
        typer.echo(
            f"{view.id}\t{view.reference} {view.first_name}\t{view.organisation_key}/"
            f"{view.offer_key}\t{view.status.value}{late}\t{view.reason}"
        )


@referral_app.command("send")
def referral_send(
    step_id: Annotated[int, typer.Argument(help="the referral step's id")],
    offer: Annotated[str, typer.Option(help="organisation/offer (see `crealux partners list`)")],
    reason: Annotated[str, typer.Option(help="why the participant is sent (shared)")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Send the participant of an open referral step to a partner's offer (their advisor or
    the coordinator); the partner is told."""
    from crealux.cli import _actor, _instance, _report_submitted, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.referrals import refer

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        submitted = refer(
            session=session,
            rules=runtime.rules,
            step_run_id=step_id,
            actor=_actor(session, username),
            offer=offer,
            reason=reason,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    _report_submitted(step_id, "referred", submitted, as_json=as_json)


@referral_app.command("accept")
def referral_accept(
    referral_id: Annotated[int, typer.Argument(help="the referral's id")],
    starts: Annotated[str, typer.Option("--starts", help="the start date (YYYY-MM-DD)")],
    note: Annotated[str | None, typer.Option(help="a remark")] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Accept a referral sent to your organisation: the step becomes yours from the start
    date, and the advisor is told."""
    from crealux.cli import (
        Code,
        _actor,
        _fail,
        _instance,
        _reported,
        _require_actor,
    )
    from crealux_core.clock import utcnow
    from crealux_core.services.referrals import accept

    try:
        starts_on = date.fromisoformat(starts)
    except ValueError:
        _fail(
            f"--starts: {starts!r} is not a date (YYYY-MM-DD)", as_json=as_json, code=Code.INVALID
        )
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        submitted = accept(
            session=session,
            rules=runtime.rules,
            referral_id=referral_id,
            actor=_actor(session, username),
            starts_on=starts_on,
            note=note,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    _report_answer(referral_id, "accepted", submitted, as_json=as_json)


@referral_app.command("decline")
def referral_decline(
    referral_id: Annotated[int, typer.Argument(help="the referral's id")],
    reason: Annotated[str, typer.Option(help="why (the advisor is told)")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Decline a referral sent to your organisation, with a reason: the step goes back to the
    advisor."""
    from crealux.cli import _actor, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.referrals import decline

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        submitted = decline(
            session=session,
            rules=runtime.rules,
            referral_id=referral_id,
            actor=_actor(session, username),
            reason=reason,
            now=utcnow(),
            orchestrator=runtime.orchestrator,
            dashboard_url=runtime.settings.dashboard_url,
        )
    _report_answer(referral_id, "declined", submitted, as_json=as_json)


def _report_answer(referral_id: int, what: str, submitted: Any, *, as_json: bool) -> None:
    """Say what an answer did: the event, the referral's step, whether the flow run was woken."""
    from crealux.cli import _echo_json

    result = {
        "referral_id": referral_id,
        "event_id": submitted.event_id,
        "step_id": submitted.current_step_id,
        "woken": submitted.woken,
    }
    if as_json:
        _echo_json(result)
        return
    whose = "the partner's now" if what == "accepted" else "back with the advisor"
    flow = "its flow run was woken" if submitted.woken else "its flow run catches up later"
    typer.echo(
        f"referral {referral_id} {what} (event {submitted.event_id}); step"
        f" {submitted.current_step_id} is {whose}; {flow}"
    )
