"""The partner registry through its service: what each role reads of the organisations, their
offers, their staff and their channels, on the test's database (SQLite or PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from crealux_core.models import Organisation, Role, User
from crealux_core.rules import Rules, load_rules
from crealux_core.rules.specs import OrganisationKind
from crealux_core.services.errors import Forbidden, InvalidInput, NotFound
from crealux_core.services.organisations import (
    KIND_LABELS,
    get_partner,
    list_partners,
    parse_kind,
    sync_organisations,
)
from crealux_core.services.users import get_user
from crealux_core.settings import REPO_RULES_DIR
from tests.rules.conftest import ENV, edit

SECRET = "Zq8-secret-pw-77"
TEAMS_TOKENS = "TokenA7f3e2d1c0b9a8/TokenB6e5d4c3b2a19/TokenC0f1e2d3c4b5a6"


@pytest.fixture
def secret_rules(tmp_path: Path) -> Rules:
    """The shipped rules, the Forem told by mail with a password and by Teams (tagged)."""
    target = tmp_path / "rules"
    shutil.copytree(REPO_RULES_DIR, target)
    secret = tmp_path / "smtp-password"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    edit(
        target / "organisations.yaml",
        '- "mailto://127.0.0.1:${CREALUX_SMTP_PORT:-8025}?from=crealux@integraplus.example'
        '&to=conseil@forem-marche.example"',
        f'- "mailtos://crealux:${{file:{secret}}}@smtp.forem.example:587'
        '?to=conseil@forem-marche.example"\n'
        '      - {url: "msteams://${FOREM_TEAMS}", tags: [referrals, job_club]}',
    )
    return load_rules(target, env={**ENV, "FOREM_TEAMS": TEAMS_TOKENS})


def user(session: Session, username: str) -> User:
    return get_user(session=session, username=username)


def test_every_kind_is_mirrored_into_the_organisation_table(session: Session, rules: Rules) -> None:
    rows = {row.key: row.kind for row in session.exec(select(Organisation)).all()}
    assert rows["forem-marche"] is OrganisationKind.PUBLIC_EMPLOYMENT
    assert rows["cpas-durbuy"] is OrganisationKind.SOCIAL_WELFARE
    assert set(rows) >= set(rules.organisations)
    # A kind changed in the rules is changed in the table, for each kind the enum has.
    before = OrganisationKind.PUBLIC_EMPLOYMENT
    for kind in OrganisationKind:
        forem = rules.organisations["forem-marche"].model_copy(update={"kind": kind})
        changed = rules.model_copy(
            update={"organisations": {**rules.organisations, "forem-marche": forem}}
        )
        assert sync_organisations(session=session, rules=changed) == (0 if kind is before else 1)
        before = kind
        session.expire_all()
        row = session.exec(select(Organisation).where(Organisation.key == "forem-marche")).one()
        assert row.kind is kind
    assert sync_organisations(session=session, rules=rules) == 1
    assert sync_organisations(session=session, rules=rules) == 0


def test_the_coordinator_sees_offers_staff_contacts_and_masked_channels(
    session: Session, secret_rules: Rules
) -> None:
    forem = get_partner(
        session=session, rules=secret_rules, user=user(session, "coordination"), key="forem-marche"
    )
    assert (forem.name, forem.kind_label) == (
        "Le Forem (Marche-en-Famenne)",
        KIND_LABELS[forem.kind],
    )
    assert forem.channels is not None
    assert [(c.service, c.url, c.tags) for c in forem.channels] == [
        ("E-mail", "mailtos://***@smtp.forem.example:587?to=***", ()),
        ("Microsoft Teams", "msteams://***", ("referrals", "job_club")),
    ]
    # The secrets were read (a channel sends with them) but are nowhere in what is shown.
    urls = secret_rules.organisations["forem-marche"].urls
    assert SECRET in urls[0] and TEAMS_TOKENS in urls[1]
    assert SECRET not in repr(forem) and "TokenA" not in repr(forem)
    integra = get_partner(
        session=session, rules=secret_rules, user=user(session, "coordination"), key="integra-plus"
    )
    assert integra.own
    assert [(s.display_name, s.email) for s in integra.staff] == [
        ("Anne Coordination", "coordination@integraplus.example"),
        ("Claire Lambert", "claire.lambert@integraplus.example"),
        ("Marc Jacquemin", "marc.jacquemin@integraplus.example"),
    ]


@pytest.mark.parametrize("username", ["conseillere", "challenge", "cpas"])
def test_advisors_and_partners_see_offers_and_names_but_no_channel_or_address(
    session: Session, secret_rules: Rules, username: str
) -> None:
    reader = user(session, username)
    partners = list_partners(session=session, rules=secret_rules, user=reader)
    assert {view.key for view in partners} == set(secret_rules.organisations)
    for view in partners:
        assert view.channels is None
        assert all(member.email is None for member in view.staff)
    shown = repr(partners)
    for secret in ("mailto", "msteams", "@integraplus.example", SECRET, "TokenA"):
        assert secret not in shown
    integra = next(view for view in partners if view.key == "integra-plus")
    assert [member.display_name for member in integra.staff] == [
        "Anne Coordination",
        "Claire Lambert",
        "Marc Jacquemin",
    ]
    home_help = next(
        offer
        for view in partners
        if view.key == "promotion-sociale-marche"
        for offer in view.offers
        if offer.key == "home-help"
    )
    assert home_help.summary == "formation, 600 h, qualifiante"
    assert [view.key for view in partners if view.own] == [get_partner_key(session, reader)]


def get_partner_key(session: Session, reader: User) -> str:
    row = session.get(Organisation, reader.organisation_id)
    assert row is not None
    return row.key


def test_organisations_come_by_kind_and_filter_by_kind(session: Session, rules: Rules) -> None:
    reader = user(session, "conseillere")
    order = [view.kind for view in list_partners(session=session, rules=rules, user=reader)]
    assert order == sorted(order, key=list(OrganisationKind).index)
    assert order[0] is OrganisationKind.COORDINATOR
    training = list_partners(
        session=session, rules=rules, user=reader, kind=OrganisationKind.TRAINING_CENTRE
    )
    assert [view.key for view in training] == ["promotion-sociale-marche"]
    assert (
        list_partners(session=session, rules=rules, user=reader, kind=OrganisationKind.FIRST_LINE)
        == []
    )


@pytest.mark.parametrize(
    ("search", "keys"),
    [
        ("ecoconstruction", ["le-trusquin"]),  # an offer, without its accent
        ("CPAS", ["cpas-durbuy"]),
        ("claire", ["integra-plus"]),  # a staff member's name
        ("formation", ["promotion-sociale-marche", "le-trusquin"]),  # kinds and offers
        ("nothing like it", []),
    ],
)
def test_the_search_reads_names_offers_kinds_and_staff(
    session: Session, rules: Rules, search: str, keys: list[str]
) -> None:
    found = list_partners(session=session, rules=rules, user=user(session, "cpas"), search=search)
    assert [view.key for view in found] == keys


def test_a_deactivated_account_is_not_staff_and_may_not_read(
    session: Session, rules: Rules
) -> None:
    trusquin = user(session, "trusquin")
    trusquin.active = False
    session.add(trusquin)
    session.commit()
    view = get_partner(session=session, rules=rules, user=user(session, "cpas"), key="le-trusquin")
    assert view.staff == ()
    with pytest.raises(Forbidden):
        list_partners(session=session, rules=rules, user=trusquin)


def test_an_unknown_organisation_or_kind_is_said(session: Session, rules: Rules) -> None:
    with pytest.raises(NotFound, match="no organisation 'forem' \\(known: challenge, cpas-durbuy"):
        get_partner(session=session, rules=rules, user=user(session, "cpas"), key="forem")
    assert parse_kind("training-centre") is OrganisationKind.TRAINING_CENTRE
    with pytest.raises(InvalidInput) as caught:
        parse_kind("school")
    assert "unknown kind 'school' (known: coordinator, training_centre" in str(caught.value)


def test_staff_roles_are_the_accounts_roles(session: Session, rules: Rules) -> None:
    view = get_partner(
        session=session, rules=rules, user=user(session, "coordination"), key="integra-plus"
    )
    assert {member.username: member.role for member in view.staff} == {
        "coordination": Role.COORDINATOR,
        "conseillere": Role.ADVISOR,
        "conseiller": Role.ADVISOR,
    }
