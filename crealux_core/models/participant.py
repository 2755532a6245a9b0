from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


class Gender(StrEnum):
    """As the ESF+ asks it: women, men, non-binary; answering is never forced."""

    FEMALE = "female"
    MALE = "male"
    NON_BINARY = "non_binary"
    UNDISCLOSED = "undisclosed"


class ParticipantBase(SQLModel):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    gender: Gender
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    municipality: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=300)


class ParticipantCreate(ParticipantBase):
    """What enrolment asks for."""


class Participant(ParticipantBase, table=True):
    """A person accompanied towards self-employment or a job (porteur de projet)."""

    id: int | None = Field(default=None, primary_key=True)
    advisor_id: int = Field(foreign_key="app_user.id", index=True)
    enrolled_at: datetime
    # The participant's reference in an imported spreadsheet: importing it again finds them.
    external_ref: str | None = Field(
        default=None, max_length=100, unique=True, index=True, nullable=True
    )

    @property
    def reference(self) -> str:
        """Return the opaque reference used outside the database (Prefect, emails)."""
        return f"P-{self.id:05d}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"
