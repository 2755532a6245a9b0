"""The partner registry: the organisations of rules/organisations.yaml, their offers, their staff
(the accounts of each organisation) and their notification channels.

The organisations are mirrored into the `organisation` table at start (`sync_organisations`), so
that accounts, steps and referrals can point at them; what they offer and where they are told
stays in the rules. Every role reads the registry; only the coordinator sees the channels
(masked: no password, token or webhook path is ever shown) and the staff's e-mail addresses.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from crealux_core.domain.channels import mask_url, scheme_of
from crealux_core.models import Organisation, Role, User
from crealux_core.rules.specs import (
    ChannelSpec,
    OfferKind,
    OfferSpec,
    OrganisationKind,
    OrganisationSpec,
    Rules,
)
from crealux_core.services import policy
from crealux_core.services.errors import InvalidInput, NotFound
from crealux_core.services.policy import Action

KIND_LABELS: dict[OrganisationKind, str] = {
    OrganisationKind.COORDINATOR: "Coordination du partenariat",
    OrganisationKind.TRAINING_CENTRE: "Centre de formation",
    OrganisationKind.BUSINESS_CREATION: "Programme d'aide à la création d'activité",
    OrganisationKind.WORK_INTEGRATION: "Entreprise de formation par le travail (EFT)",
    OrganisationKind.FIRST_LINE: "Structure de première ligne",
    OrganisationKind.PROFESSIONAL: "Structure professionnelle",
    OrganisationKind.PUBLIC_EMPLOYMENT: "Service public de l'emploi",
    OrganisationKind.SOCIAL_WELFARE: "Centre public d'action sociale (CPAS)",
}
KIND_ORDER = {kind: index for index, kind in enumerate(OrganisationKind)}

OFFER_KIND_LABELS: dict[OfferKind, str] = {
    OfferKind.SERVICE: "service",
    OfferKind.TRAINING: "formation",
}

# What a channel is, by its Apprise scheme (anything else is named by its scheme).
SERVICE_LABELS: dict[str, str] = {
    "mailto": "E-mail",
    "mailtos": "E-mail",
    "msteams": "Microsoft Teams",
    "workflows": "Microsoft Teams",
    "slack": "Slack",
    "ntfy": "ntfy",
    "ntfys": "ntfy",
    "json": "Webhook JSON",
    "jsons": "Webhook JSON",
    "discord": "Discord",
    "tgram": "Telegram",
    "twilio": "SMS (Twilio)",
    "vonage": "SMS (Vonage)",
    "clickatell": "SMS (Clickatell)",
    "sinch": "SMS (Sinch)",
    "bulksms": "SMS (BulkSMS)",
    "smseagle": "SMS (SMSEagle)",
}


def sync_organisations(*, session: Session, rules: Rules) -> int:
    """Insert or update one row per organisation of the rules; commits; return how many changed."""
    existing = {org.key: org for org in session.exec(select(Organisation)).all()}
    changed = 0
    for key, spec in rules.organisations.items():
        row = existing.get(key) or Organisation(key=key, name=spec.name, kind=spec.kind)
        if row.id is None or (row.name, row.kind) != (spec.name, spec.kind):
            row.name, row.kind = spec.name, spec.kind
            session.add(row)
            changed += 1
    session.commit()
    return changed


def organisation_by_key(*, session: Session, key: str) -> Organisation:
    row = session.exec(select(Organisation).where(Organisation.key == key)).first()
    if row is None:
        raise LookupError(f"organisation {key!r} is not in the database: run `crealux init`")
    return row


@dataclass(frozen=True)
class OfferView:
    key: str
    title: str
    kind: OfferKind
    description: str
    hours: float | None  # a training module's length
    qualifying: bool

    @property
    def summary(self) -> str:
        """« formation, 600 h, qualifiante » in French."""
        parts = [OFFER_KIND_LABELS[self.kind]]
        if self.hours is not None:
            parts.append(f"{self.hours:g} h")
        if self.qualifying:
            parts.append("qualifiante")
        return ", ".join(parts)


@dataclass(frozen=True)
class StaffView:
    username: str
    display_name: str
    role: Role
    email: str | None  # None unless the reader may see the staff's contacts


@dataclass(frozen=True)
class ChannelView:
    service: str  # E-mail, Microsoft Teams, ...
    url: str  # masked: the scheme and host, never a password, token or webhook path
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PartnerView:
    key: str
    name: str
    kind: OrganisationKind
    offers: tuple[OfferView, ...]
    staff: tuple[StaffView, ...]
    channels: tuple[ChannelView, ...] | None  # None: not for this reader's eyes
    digest: bool
    own: bool  # the reader's own organisation

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


def parse_kind(text: str) -> OrganisationKind:
    """Return the kind named `text` (its key, such as `training_centre`); refuse another."""
    try:
        return OrganisationKind(text.strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(kind.value for kind in OrganisationKind)
        raise InvalidInput({"kind": f"unknown kind {text!r} (known: {known})"}) from None


def list_partners(
    *,
    session: Session,
    rules: Rules,
    user: User,
    kind: OrganisationKind | None = None,
    search: str | None = None,
) -> list[PartnerView]:
    """Return the organisations by kind then name, of one kind or all, those matching `search`
    (in their name, key, kind, offers or staff's names; case and accents ignored)."""
    policy.require(user, Action.READ_PARTNERS)
    specs = [spec for spec in rules.organisations.values() if kind is None or spec.kind is kind]
    staff = _staff(session, [spec.key for spec in specs])
    own = _own_key(session, user)
    views = [_view(spec, staff.get(spec.key, ()), user=user, own=own) for spec in specs]
    if search and search.strip():
        views = [view for view in views if _folded(search.strip()) in _haystack(view)]
    return sorted(views, key=lambda view: (KIND_ORDER[view.kind], _folded(view.name)))


def get_partner(*, session: Session, rules: Rules, user: User, key: str) -> PartnerView:
    """Return one organisation of the registry, by its key."""
    policy.require(user, Action.READ_PARTNERS)
    spec = rules.organisations.get(key)
    if spec is None:
        known = ", ".join(sorted(rules.organisations))
        raise NotFound(f"no organisation {key!r} (known: {known})")
    staff = _staff(session, [key])
    return _view(spec, staff.get(key, ()), user=user, own=_own_key(session, user))


def _staff(session: Session, keys: Iterable[str]) -> dict[str, tuple[User, ...]]:
    """Return the active accounts of these organisations, by organisation key, by name."""
    rows = session.exec(
        select(User, Organisation.key)
        .join(Organisation, col(User.organisation_id) == col(Organisation.id))
        .where(col(User.active), col(Organisation.key).in_(list(keys)))
        .order_by(col(User.display_name), col(User.id))
    ).all()
    found: dict[str, list[User]] = {}
    for staff_member, key in rows:
        found.setdefault(key, []).append(staff_member)
    return {key: tuple(users) for key, users in found.items()}


def _own_key(session: Session, user: User) -> str | None:
    return session.exec(
        select(Organisation.key).where(Organisation.id == user.organisation_id)
    ).first()


def _view(
    spec: OrganisationSpec, staff: Iterable[User], *, user: User, own: str | None
) -> PartnerView:
    contacts = policy.can(user, Action.READ_STAFF_CONTACTS)
    channels = policy.can(user, Action.READ_CHANNELS)
    return PartnerView(
        key=spec.key,
        name=spec.name,
        kind=spec.kind,
        offers=tuple(_offer(offer) for offer in spec.offers.values()),
        staff=tuple(
            StaffView(
                username=member.username,
                display_name=member.display_name,
                role=member.role,
                email=member.email if contacts else None,
            )
            for member in staff
        ),
        channels=tuple(_channel(channel) for channel in spec.notify) if channels else None,
        digest=spec.digest,
        own=spec.key == own,
    )


def _offer(offer: OfferSpec) -> OfferView:
    return OfferView(
        key=offer.key,
        title=offer.title,
        kind=offer.kind,
        description=offer.description,
        hours=offer.hours,
        qualifying=offer.qualifying,
    )


def _channel(channel: ChannelSpec) -> ChannelView:
    scheme = scheme_of(channel.url)
    return ChannelView(
        service=SERVICE_LABELS.get(scheme, scheme or "?"),
        url=mask_url(channel.url),
        tags=channel.tags,
    )


def _folded(text: str) -> str:
    """Return `text` lower case and without accents, to compare as a reader would."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _haystack(view: PartnerView) -> str:
    words: list[str] = [view.name, view.key, view.kind_label]
    words += [f"{offer.title} {offer.key} {offer.description}" for offer in view.offers]
    words += [member.display_name for member in view.staff]
    return _folded("\n".join(words))
