"""A participant's contact details: who sees them, and what may be recorded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from crealux_core.models import Organisation, Participant, StepRun, StepStatus
from crealux_core.services.contacts import contact_details, update_contact_details
from crealux_core.services.errors import Forbidden, InvalidInput, NotFound
from crealux_core.services.users import get_user
from tests.conftest import T0

GOOD = {
    "phone": "+32 470 12 34 56",
    "email": "sophie.test@exemple.be",
    "address": "Rue du Moulin 4, 6940 Durbuy",
    "municipality": "Durbuy",
}


def update(session: Session, username: str, participant_id: int, data: dict[str, Any]) -> Any:
    return update_contact_details(
        session=session,
        user=get_user(session=session, username=username),
        participant_id=participant_id,
        data=data,
        now=T0,
    )


def read(session: Session, username: str, participant_id: int) -> Any:
    return contact_details(
        session=session,
        user=get_user(session=session, username=username),
        participant_id=participant_id,
    )


def give_step_to(session: Session, step_id: int, organisation_key: str, status: StepStatus) -> None:
    step = session.get(StepRun, step_id)
    assert step is not None
    step.organisation_id = (
        session.exec(select(Organisation.id).where(Organisation.key == organisation_key)).one() or 0
    )
    step.status = status
    session.add(step)
    session.commit()


def test_the_advisor_records_and_corrects_contact_details(session: Session, enroll) -> None:
    enrolled = enroll()

    card = update(session, "conseillere", enrolled.participant_id, GOOD)
    assert card.details.model_dump() == GOOD
    card = update(session, "conseillere", enrolled.participant_id, {"phone": " 0470  123 456 "})

    assert card.details.phone == "0470 123 456"  # spaces tidied
    assert card.details.email == GOOD["email"]  # the fields not sent are kept
    participant = session.get(Participant, enrolled.participant_id)
    assert participant is not None and participant.address == GOOD["address"]
    assert read(session, "coordination", enrolled.participant_id).details.municipality == "Durbuy"


def test_an_empty_field_erases_it(session: Session, enroll) -> None:
    enrolled = enroll()
    update(session, "conseillere", enrolled.participant_id, GOOD)
    card = update(session, "coordination", enrolled.participant_id, {"email": "  "})
    assert card.details.email is None and card.details.phone == GOOD["phone"]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("email", "sophie.exemple.be", "Adresse e-mail invalide"),
        ("email", "sophie@exemple", "Adresse e-mail invalide"),
        ("email", "a" * 195 + "@ex.be", "trop longue"),
        ("phone", "0470/12.34.56", "chiffres"),
        ("phone", "32+470", "chiffres"),
        ("phone", "123", "chiffres"),
        ("phone", "1" * 31, "trop long"),
        ("address", "x" * 301, "trop longue"),
        ("municipality", "x" * 101, "trop long"),
        ("nickname", "Soso", "n'existe pas"),
        ("phone", 470123456, "du texte"),
    ],
)
def test_a_refused_field_is_explained_in_french_and_nothing_is_written(
    session: Session, enroll, field: str, value: Any, says: str
) -> None:
    enrolled = enroll()
    update(session, "conseillere", enrolled.participant_id, GOOD)

    with pytest.raises(InvalidInput) as refused:
        update(session, "conseillere", enrolled.participant_id, {**GOOD, field: value})

    assert list(refused.value.field_errors) == [field]
    assert says in refused.value.field_errors[field]
    session.expire_all()
    assert read(session, "conseillere", enrolled.participant_id).details.model_dump() == GOOD


def test_every_refused_field_is_reported_at_once(session: Session, enroll) -> None:
    enrolled = enroll()
    with pytest.raises(InvalidInput) as refused:
        update(session, "conseillere", enrolled.participant_id, {"phone": "abc", "email": "x"})
    assert set(refused.value.field_errors) == {"phone", "email"}


def test_another_advisor_or_a_partner_without_an_open_step_is_refused(
    session: Session, enroll
) -> None:
    enrolled = enroll()
    for username in ("conseiller", "challenge"):
        with pytest.raises(Forbidden):
            read(session, username, enrolled.participant_id)
        with pytest.raises(Forbidden):
            update(session, username, enrolled.participant_id, GOOD)


def test_a_partner_sees_them_only_while_an_open_step_is_theirs(session: Session, enroll) -> None:
    enrolled = enroll()
    update(session, "conseillere", enrolled.participant_id, GOOD)
    step_id = enrolled.first_step.id or 0

    give_step_to(session, step_id, "challenge", StepStatus.OPEN)
    assert read(session, "challenge", enrolled.participant_id).details.phone == GOOD["phone"]
    with pytest.raises(Forbidden):
        read(session, "promsoc", enrolled.participant_id)

    give_step_to(session, step_id, "challenge", StepStatus.COMPLETED)
    with pytest.raises(Forbidden):
        read(session, "challenge", enrolled.participant_id)
    give_step_to(session, step_id, "challenge", StepStatus.SCHEDULED)
    with pytest.raises(Forbidden):
        read(session, "challenge", enrolled.participant_id)


def test_an_unknown_participant_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        read(session, "coordination", 999)
