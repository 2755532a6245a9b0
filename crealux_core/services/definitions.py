"""The pathway definitions runs started on: kept in the database, checked against rules/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crealux_core.models import PathwayDefinition, PathwayRun
from crealux_core.rules.specs import PathwaySpec, Rules
from crealux_core.services.errors import Conflict


class DefinitionChanged(Conflict):
    """A definition in rules/ differs from the one already used under the same version."""


def _changed(rules: Rules, spec: PathwaySpec) -> DefinitionChanged:
    return DefinitionChanged(
        f"{rules.source_of(spec.key, spec.version)}: pathway {spec.key!r} version {spec.version}"
        " was edited after pathways started on it; keep that version as it was and give the"
        f" edited definition a new version (version: {spec.version + 1})"
    )


def register_definitions(*, session: Session, rules: Rules, now: datetime) -> int:
    """Record each loaded definition the first time it is seen; refuse an edited one.

    Return how many were new. Commits.
    """
    known = {(row.key, row.version): row for row in session.exec(select(PathwayDefinition)).all()}
    new = 0
    for by_version in rules.versions.values():
        for spec in by_version.values():
            row = known.get((spec.key, spec.version))
            if row is not None:
                if row.digest != spec.digest():
                    raise _changed(rules, spec)
                continue
            session.add(
                PathwayDefinition(
                    key=spec.key,
                    version=spec.version,
                    digest=spec.digest(),
                    spec_json=spec.model_dump_json(),
                    registered_at=now,
                )
            )
            new += 1
    try:
        session.commit()
    except IntegrityError:  # registered meanwhile by another process: check again
        session.rollback()
        return register_definitions(session=session, rules=rules, now=now)
    return new


def definition_of(*, session: Session, rules: Rules, run: PathwayRun) -> PathwaySpec:
    """Return the definition a run started on (or was migrated to), from rules/ or, if its file
    is gone, from the database; refuse one that was edited since."""
    spec = rules.pathway_version(run.pathway_key, run.pathway_version)
    if spec is None:
        row = session.exec(
            select(PathwayDefinition).where(
                PathwayDefinition.key == run.pathway_key,
                PathwayDefinition.version == run.pathway_version,
            )
        ).first()
        if row is None:
            raise Conflict(
                f"le parcours {run.pathway_key} version {run.pathway_version} n'est plus dans"
                " les règles ni dans la base : il ne peut pas continuer"
            )
        spec = PathwaySpec.model_validate_json(row.spec_json)
    if run.definition_digest and spec.digest() != run.definition_digest:
        raise _changed(rules, spec)
    return spec
