from __future__ import annotations

from sqlmodel import Field, SQLModel

from crealux_core.rules.specs import OrganisationKind


class Organisation(SQLModel, table=True):
    """A partner organisation, mirrored from rules/organisations.yaml (its key is the link)."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=64)
    name: str = Field(max_length=200)
    kind: OrganisationKind
