"""Users and sign-in. Passwords are stored as scrypt hashes.

Outside demo mode there is no default account: `crealux init` creates the first coordinator,
with a password of at least MIN_PASSWORD_CHARS characters. Scripted commands act as the user
they name (`--as`), never as a user picked for them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlmodel import Session, col, select

from crealux_core.models import Organisation, Role, User
from crealux_core.rules.specs import OrganisationKind
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput, NotFound

_N, _R, _P = 2**14, 8, 1

MIN_PASSWORD_CHARS = 10  # for accounts created outside demo mode (the first coordinator)
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate.hex(), digest)


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active or not verify_password(password, user.password_hash):
        return None
    return user


def create_user(
    *,
    session: Session,
    username: str,
    display_name: str,
    role: Role,
    organisation_key: str,
    password: str,
) -> User:
    """Create a user, or update the one with this username; commits."""
    organisation = session.exec(
        select(Organisation).where(Organisation.key == organisation_key)
    ).first()
    if organisation is None:
        raise NotFound(f"organisation {organisation_key!r} is not in the database")
    user = session.exec(select(User).where(User.username == username)).first() or User(
        username=username, display_name=display_name, role=role, organisation_id=0, password_hash=""
    )
    user.display_name, user.role = display_name, role
    user.organisation_id = organisation.id or 0
    user.password_hash = hash_password(password)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def active_user(*, session: Session, user_id: int) -> User | None:
    """Return the user with this id if it still exists and is active (a session's user)."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def get_user(*, session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def acting_user(*, session: Session, username: str) -> User:
    """Return the active user a command acts as (`--as`); refuse a deactivated account."""
    user = get_user(session=session, username=username)
    if not user.active:
        raise Forbidden(f"the account {username!r} is deactivated")
    return user


def first_coordinator(*, session: Session) -> User | None:
    """Return the oldest active coordinator, if there is one."""
    return session.exec(
        select(User).where(User.role == Role.COORDINATOR, col(User.active)).order_by(col(User.id))
    ).first()


def check_new_account(*, username: str, password: str) -> None:
    """Refuse a malformed username or a password shorter than MIN_PASSWORD_CHARS."""
    errors: dict[str, str] = {}
    if not USERNAME.fullmatch(username):
        errors["username"] = (
            "a username is 2 to 64 lowercase letters, digits, dots, dashes or underscores"
        )
    if len(password) < MIN_PASSWORD_CHARS:
        errors["password"] = (
            f"the password has {len(password)} characters, at least {MIN_PASSWORD_CHARS} are needed"
        )
    if errors:
        raise InvalidInput(errors)


def create_first_coordinator(
    *, session: Session, username: str, password: str, display_name: str = "Coordination"
) -> User:
    """Create the first coordinator account, in the coordinating organisation; commits.

    Refuses if a coordinator exists already (nothing is written then) or the username is taken.
    """
    check_new_account(username=username, password=password)
    existing = first_coordinator(session=session)
    if existing is not None:
        raise Conflict(f"a coordinator exists already ({existing.username}): no account created")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"the username {username!r} is taken")
    organisation = session.exec(
        select(Organisation)
        .where(Organisation.kind == OrganisationKind.COORDINATOR)
        .order_by(col(Organisation.id))
    ).first()
    if organisation is None:
        raise NotFound(
            "no coordinating organisation (kind: coordinator) in rules/organisations.yaml"
        )
    return create_user(
        session=session,
        username=username,
        display_name=display_name,
        role=Role.COORDINATOR,
        organisation_key=organisation.key,
        password=password,
    )


def list_advisors(*, session: Session) -> list[User]:
    """Return the active advisors by name: whom a step may be reassigned to."""
    return list(
        session.exec(
            select(User)
            .where(User.role == Role.ADVISOR, User.active)
            .order_by(col(User.display_name), col(User.id))
        ).all()
    )
