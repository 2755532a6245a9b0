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
