"""Users and sign-in. Passwords are stored as scrypt hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel import Session, select

from crealux_core.models import Organisation, Role, User
from crealux_core.services.errors import NotFound

_N, _R, _P = 2**14, 8, 1


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


def default_coordinator(*, session: Session) -> User:
    """Return the first active coordinator: the actor of scripted CLI commands without --as."""
    user = session.exec(
        select(User).where(User.role == Role.COORDINATOR, User.active).order_by("id")
    ).first()
    if user is None:
        raise NotFound("no coordinator user: create one or pass --as USERNAME")
    return user
