"""`crealux partners ...`: the partner organisations, their offers, staff and channels.

What is shown depends on who acts (`--as`), as on the « Partenaires » page: every role reads the
organisations, their offers and their staff's names; only the coordinator reads the staff's
e-mail addresses and the channels, masked (the scheme and host, never a secret). See
docs/partners.md.

The helpers of crealux.cli are imported inside the commands: crealux.cli imports this module
at its end, and `python -m crealux.cli` runs it as __main__.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from crealux.cli_options import AsUser, JsonFlag

if TYPE_CHECKING:
    from crealux_core.services.organisations import PartnerView

partners_app = typer.Typer(
    help="Partner organisations: their kind, offers, staff and (coordinator) channels.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add `crealux partners` to the `crealux` application."""
    app.add_typer(partners_app, name="partners")


def partner_json(view: PartnerView) -> dict[str, Any]:
    """Return an organisation as JSON; `channels` is null for a reader who may not see them."""
    return {
        "key": view.key,
        "name": view.name,
        "kind": view.kind.value,
        "kind_label": view.kind_label,
        "own": view.own,
        "digest": view.digest,
        "offers": [
            {
                "key": offer.key,
                "title": offer.title,
                "kind": offer.kind.value,
                "description": offer.description,
                "hours": offer.hours,
                "qualifying": offer.qualifying,
            }
            for offer in view.offers
        ],
        "staff": [
            {
                "username": member.username,
                "display_name": member.display_name,
                "role": member.role.value,
                **({"email": member.email} if member.email is not None else {}),
            }
            for member in view.staff
        ],
        "channels": None
        if view.channels is None
        else [
            {"service": channel.service, "url": channel.url, "tags": list(channel.tags)}
            for channel in view.channels
        ],
    }


def _lines(view: PartnerView) -> list[str]:
    """Return an organisation as text: its offers, staff and (for the coordinator) channels."""
    own = " (votre organisation)" if view.own else ""
    lines = [f"{view.name} [{view.key}]{own}", f"  {view.kind_label}"]
    lines.append("  Offre :" if view.offers else "  Offre : aucune")
    lines += [f"    - {offer.key} : {offer.title} ({offer.summary})" for offer in view.offers]
    lines.append("  Équipe :" if view.staff else "  Équipe : aucun compte")
    for member in view.staff:
        email = f" <{member.email}>" if member.email else ""
        lines.append(f"    - {member.display_name}{email} ({member.username})")
    if view.channels is not None:
        digest = " (résumé quotidien)" if view.digest else ""
        lines.append(f"  Canaux{digest} :" if view.channels else "  Canaux : aucun")
        for channel in view.channels:
            tags = f" [{', '.join(channel.tags)}]" if channel.tags else ""
            lines.append(f"    - {channel.service} : {channel.url}{tags}")
    return lines


@partners_app.command("list")
def partners_list(
    kind: Annotated[
        str | None,
        typer.Option(
            help="only this kind: coordinator, training_centre, business_creation,"
            " work_integration, first_line, professional, public_employment, social_welfare"
        ),
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="a name, an offer, a person (accents ignored)")
    ] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """List the partner organisations by kind: key, kind, name (* your own) and offers."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.services.organisations import list_partners, parse_kind

    username = _require_actor(as_user, as_json=as_json)
    with _reported(as_json=as_json):
        wanted = parse_kind(kind) if kind is not None else None
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        found = list_partners(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            kind=wanted,
            search=search,
        )
    if as_json:
        _echo_json([partner_json(view) for view in found])
        return
    if not found:
        typer.echo("Aucune organisation ne correspond.")
        return
    for view in found:
        offers = ", ".join(offer.key for offer in view.offers) or "-"
        own = " *" if view.own else ""
        typer.echo(f"{view.key:<28} {view.kind.value:<18} {view.name}{own}  (offre : {offers})")


@partners_app.command("show")
def partners_show(
    key: Annotated[str, typer.Argument(help="the organisation's key (crealux partners list)")],
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Show one organisation: its offers, its staff and (coordinator) its channels, masked."""
    from crealux.cli import _actor, _echo_json, _instance, _reported, _require_actor
    from crealux_core.services.organisations import get_partner

    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        view = get_partner(
            session=session, rules=runtime.rules, user=_actor(session, username), key=key
        )
    if as_json:
        _echo_json(partner_json(view))
    else:
        typer.echo("\n".join(_lines(view)))
