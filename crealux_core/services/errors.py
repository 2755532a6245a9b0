"""Errors the services raise; each says what is wrong in words a user can act on."""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """Base of the errors a use case reports to its caller."""


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class InvalidInput(ServiceError):
    """Submitted data refused field by field; nothing was written."""

    def __init__(self, field_errors: Mapping[str, str]) -> None:
        self.field_errors = dict(field_errors)
        detail = "; ".join(f"{field}: {message}" for field, message in self.field_errors.items())
        super().__init__(f"invalid input: {detail}")


class AlreadyDone(Conflict):
    """The step was already decided: says what, by whom and when; the second note was kept."""

    def __init__(self, message: str, *, decided_by: str | None, decided_at: str | None) -> None:
        self.decided_by = decided_by
        self.decided_at = decided_at
        super().__init__(message)


class CannotContinue(Conflict):
    """The pathway cannot go on as its definition stands (for example the rules were edited)."""
