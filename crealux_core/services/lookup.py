from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session

from crealux_core.services.errors import NotFound

T = TypeVar("T")


def get_row(session: Session, model: type[T], ident: int) -> T:
    """Return the row of `model` with this id, or raise NotFound."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"{model.__name__} {ident} does not exist")
    return row
