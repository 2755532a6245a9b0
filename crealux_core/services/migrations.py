"""Moving running pathways to another version of their definition, on purpose.

A pathway keeps the version it started with. `migrate_pathways` shows (dry run) and then applies,
run by run, what changes for each: the steps the new version adds or removes, the current step
carried over (or renamed through a step map) and re-dated by the new deadlines. Each applied
migration is an event on the pathway, like any other input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from crealux_core.domain.pathway import step_times
from crealux_core.models import EventKind, PathwayRun, PathwayStatus, StepRun, User
from crealux_core.rules.specs import PathwaySpec, Rules
from crealux_core.services import events, policy
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import Conflict, Forbidden, NotFound
from crealux_core.services.organisations import organisation_by_key
from crealux_core.services.policy import Action


@dataclass
class MigrationPlan:
    pathway_run_id: int
    participant_id: int
    from_version: int
    to_version: int
    changes: list[str] = field(default_factory=list)
    blocked: str | None = None
    applied: bool = False

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _iso(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "-"


def _plan_one(
    session: Session,
    rules: Rules,
    run: PathwayRun,
    target: PathwaySpec,
    step_map: Mapping[str, str],
) -> tuple[MigrationPlan, dict[str, Any]]:
    """Return what migrating a run would change, and the new values of its current step."""
    plan = MigrationPlan(
        pathway_run_id=run.id or 0,
        participant_id=run.participant_id,
        from_version=run.pathway_version,
        to_version=target.version,
    )
    try:
        source = definition_of(session=session, rules=rules, run=run)
    except Conflict as error:
        plan.blocked = str(error)
        return plan, {}
    added = sorted(set(target.steps) - set(source.steps))
    removed = sorted(set(source.steps) - set(target.steps))
    plan.changes += [f"step added: {key}" for key in added]
    plan.changes += [f"step removed: {key}" for key in removed]
    current = events.current_step(session, run.id or 0)
    if current is None:
        return plan, {}
    new_key = step_map.get(current.step_key, current.step_key)
    if new_key not in target.steps:
        plan.blocked = (
            f"the current step {current.step_key!r} is not in version {target.version}:"
            f" map it to a step of that version (--map {current.step_key}=STEP)"
        )
        return plan, {}
    values: dict[str, Any] = {"step_key": new_key}
    if new_key != current.step_key:
        plan.changes.append(f"current step {current.step_key} becomes {new_key}")
    step = target.step(new_key)
    if current.opened_at is not None:
        times = step_times(step, current.opened_at, events.answers_of(session, run.id or 0))
        for name in ("due_at", "remind_at", "escalate_at", "overdue_at"):
            old, new = getattr(current, name), getattr(times, name)
            if old != new:
                plan.changes.append(
                    f"{new_key} {name.removesuffix('_at')}: {_iso(old)} -> {_iso(new)}"
                )
                values[name] = new
    organisation = organisation_by_key(session=session, key=step.concerns)
    if organisation.id != current.organisation_id:
        plan.changes.append(f"{new_key} now concerns {step.concerns}")
        values["organisation_id"] = organisation.id
    values["_step_run_id"] = current.id
    return plan, values


def migrate_pathways(
    *,
    session: Session,
    rules: Rules,
    pathway_key: str,
    to_version: int,
    actor: User,
    now: datetime,
    dry_run: bool,
    step_map: Mapping[str, str] | None = None,
) -> list[MigrationPlan]:
    """Plan, and unless `dry_run` apply, the migration of every active run of a pathway
    (the coordination only)."""
    if not policy.can(actor, Action.MIGRATE_PATHWAYS):
        raise Forbidden("only the coordination migrates pathways to another version")
    target = rules.pathway_version(pathway_key, to_version)
    if target is None:
        known = sorted(rules.versions.get(pathway_key, {}))
        raise NotFound(f"pathway {pathway_key!r} has no version {to_version} (known: {known})")
    runs = session.exec(
        select(PathwayRun)
        .where(
            PathwayRun.pathway_key == pathway_key,
            PathwayRun.status == PathwayStatus.ACTIVE,
            PathwayRun.pathway_version != to_version,
        )
        .order_by(col(PathwayRun.id))
    ).all()
    plans = []
    for run in runs:
        plan, values = _plan_one(session, rules, run, target, step_map or {})
        plans.append(plan)
        if dry_run or plan.blocked:
            continue
        _apply(session, run, target, plan, values, actor_id=actor.id or 0, now=now)
    return plans


def _apply(
    session: Session,
    run: PathwayRun,
    target: PathwaySpec,
    plan: MigrationPlan,
    values: dict[str, Any],
    *,
    actor_id: int,
    now: datetime,
) -> None:
    step_run_id = values.pop("_step_run_id", None)
    if step_run_id is not None:
        step_run = session.get(StepRun, step_run_id)
        assert step_run is not None
        for name, value in values.items():
            setattr(step_run, name, value)
        if step_run.remind_at and step_run.remind_at > now:
            step_run.reminded_at = None
        if step_run.escalate_at and step_run.escalate_at > now:
            step_run.escalated_at = None
        session.add(step_run)
    run.pathway_version, run.definition_digest = target.version, target.digest()
    events.record(
        session,
        run,
        kind=EventKind.MIGRATION,
        now=now,
        actor_id=actor_id,
        payload={"from": plan.from_version, "to": plan.to_version, "changes": plan.changes},
    )
    session.commit()
    plan.applied = True
