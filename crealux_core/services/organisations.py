"""Keep the organisations table in step with rules/organisations.yaml."""

from __future__ import annotations

from sqlmodel import Session, select

from crealux_core.models import Organisation
from crealux_core.rules.specs import Rules


def sync_organisations(*, session: Session, rules: Rules) -> int:
    """Insert or update one row per organisation of the rules; commits; return how many changed."""
    existing = {org.key: org for org in session.exec(select(Organisation)).all()}
    changed = 0
    for key, spec in rules.organisations.items():
        row = existing.get(key) or Organisation(key=key, name=spec.name, kind=spec.kind)
        if row.id is None or (row.name, row.kind) != (spec.name, spec.kind):
            row.name, row.kind = spec.name, spec.kind
            session.add(row)
            changed += 1
    session.commit()
    return changed


def organisation_by_key(*, session: Session, key: str) -> Organisation:
    row = session.exec(select(Organisation).where(Organisation.key == key)).first()
    if row is None:
        raise LookupError(f"organisation {key!r} is not in the database: run `crealux init`")
    return row
