"""A participant's contact details: phone, e-mail, address, municipality.

Shown and corrected only by those who follow the participant: their advisor, the coordinator,
and a partner while one of the participant's open steps is its organisation's. Everyone else is
refused, as is a hidden page opened by its address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlmodel import Session

from crealux_core.models import Participant, User
from crealux_core.services import policy
from crealux_core.services.errors import Forbidden, InvalidInput
from crealux_core.services.lookup import get_row
from crealux_core.services.policy import Action

PHONE_MAX = 30
EMAIL_MAX = 200
ADDRESS_MAX = 300
MUNICIPALITY_MAX = 100
_PHONE = re.compile(r"\+?[0-9 ]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")
FIELDS = ("phone", "email", "address", "municipality")


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = " ".join(value.split())
        return value or None
    return value


class ContactDetails(BaseModel):
    """What may be recorded; an empty field is None (not recorded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phone: str | None = None
    email: str | None = None
    address: str | None = None
    municipality: str | None = None

    @field_validator("phone", "email", "address", "municipality", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > PHONE_MAX:
            raise ValueError(
                f"Le numéro est trop long ({len(value)} caractères, {PHONE_MAX} au plus)."
            )
        digits = sum(char.isdigit() for char in value)
        if not _PHONE.fullmatch(value) or not 6 <= digits <= 15:
            raise ValueError(
                "Un numéro de téléphone s'écrit avec des chiffres (6 à 15), des espaces et un +"
                " au début (exemple : +32 470 12 34 56)."
            )
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > EMAIL_MAX:
            raise ValueError(
                f"L'adresse est trop longue ({len(value)} caractères, {EMAIL_MAX} au plus)."
            )
        if not _EMAIL.fullmatch(value):
            raise ValueError("Adresse e-mail invalide (exemple : prenom.nom@exemple.be).")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and len(value) > ADDRESS_MAX:
            raise ValueError(
                f"L'adresse est trop longue ({len(value)} caractères, {ADDRESS_MAX} au plus)."
            )
        return value

    @field_validator("municipality")
    @classmethod
    def _municipality(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MUNICIPALITY_MAX:
            raise ValueError(
                f"Le nom de la commune est trop long ({len(value)} caractères,"
                f" {MUNICIPALITY_MAX} au plus)."
            )
        return value


@dataclass(frozen=True)
class ContactCard:
    participant_id: int
    reference: str
    full_name: str
    details: ContactDetails


def may_see_contact_details(*, session: Session, user: User, participant: Participant) -> bool:
    """The participant's advisor, the coordinator, or a partner that follows the participant
    now (a referral to it sent or accepted, or one of its steps open): `policy`."""
    return policy.can(user, Action.READ_CONTACT_DETAILS, participant, session=session)


def _card(participant: Participant) -> ContactCard:
    return ContactCard(
        participant_id=participant.id or 0,
        reference=participant.reference,
        full_name=participant.full_name,
        details=ContactDetails.model_construct(
            phone=participant.phone,
            email=participant.email,
            address=participant.address,
            municipality=participant.municipality,
        ),
    )


def _followed(session: Session, user: User, participant_id: int) -> Participant:
    participant = get_row(session, Participant, participant_id)
    if not may_see_contact_details(session=session, user=user, participant=participant):
        raise Forbidden("this participant's contact details are for those who follow them")
    return participant


def contact_details(*, session: Session, user: User, participant_id: int) -> ContactCard:
    """Return a participant's contact details; refuse a user who does not follow them."""
    return _card(_followed(session, user, participant_id))


def _field_errors(error: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "data"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "Ce champ n'existe pas."
        elif item["type"] == "string_type":
            message = "Ce champ attend du texte."
        errors.setdefault(name, message)
    return errors


def update_contact_details(
    *,
    session: Session,
    user: User,
    participant_id: int,
    data: Mapping[str, Any],
    now: datetime,
) -> ContactCard:
    """Record or correct a participant's contact details; commits.

    Only the fields in `data` change (an empty one erases it). A refused field is reported with
    the others in InvalidInput, and nothing is written. `now` is when the correction was made.
    """
    participant = _followed(session, user, participant_id)
    try:
        details = ContactDetails.model_validate(dict(data))
    except ValidationError as error:
        raise InvalidInput(_field_errors(error)) from None
    for name in details.model_fields_set & set(FIELDS):
        setattr(participant, name, getattr(details, name))
    session.add(participant)
    session.commit()
    session.refresh(participant)
    return _card(participant)
