from __future__ import annotations

from sqlmodel import Field, SQLModel

from crealux_core.rules.specs import Role


class User(SQLModel, table=True):
    """Someone who signs in: an advisor, a partner's staff member or the coordinator."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    display_name: str = Field(max_length=200)
    role: Role
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    password_hash: str = Field(max_length=256)
    active: bool = True
    email: str | None = Field(default=None, max_length=200)
    # Caseload balancing at enrolment: how many open pathways an advisor takes at most, and
    # the route they specialise in (an orientation route key: creation, training, ...).
    caseload_quota: int | None = Field(default=None, ge=0)
    speciality: str | None = Field(default=None, max_length=64)
    # One message a day listing what was queued for them, instead of one message each.
    digest: bool = False


__all__ = ["Role", "User"]
