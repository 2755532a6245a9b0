"""The reconciler: compares active pathways with their Prefect flow runs and brings them back.

A fast pass looks only at pathways whose latest event the flow has not acknowledged in time (an
indexed column), so it stays cheap with 10,000 pathways; a full pass, less often, looks at every
active pathway. A dead, lost, cancelled or stalled flow run is replaced by a new generation that
rebuilds from the database. Failed attempts back off, then give up visibly (`stuck_reason`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from crealux_core.domain.healing import Diagnosis, Remedy, RunState, backoff, diagnose
from crealux_core.models import PathwayRun, PathwayStatus, User, Wait
from crealux_core.services import policy as access
from crealux_core.services.delivery import start_flow, wake
from crealux_core.services.errors import Forbidden, NotFound
from crealux_core.services.lookup import get_row
from crealux_core.services.policy import Action
from crealux_core.services.ports import OrchestrationError, Orchestrator
from crealux_core.services.progress import current_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealPolicy:
    grace: timedelta = timedelta(seconds=5)  # an event the flow has not seen after this
    stall: timedelta = timedelta(seconds=180)  # Pending or Running longer than this
    max_attempts: int = 8
    base_backoff: timedelta = timedelta(seconds=10)
    max_backoff: timedelta = timedelta(minutes=30)


@dataclass
class Reconciled:
    checked: int = 0
    started: int = 0
    woken: int = 0
    replaced: int = 0
    failed: int = 0
    stuck: int = 0
    reasons: dict[int, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "started": self.started,
            "woken": self.woken,
            "replaced": self.replaced,
            "failed": self.failed,
            "stuck": self.stuck,
        }


def _candidates(
    session: Session, *, now: datetime, policy: HealPolicy, full: bool, limit: int
) -> list[PathwayRun]:
    query = select(PathwayRun).where(
        PathwayRun.status == PathwayStatus.ACTIVE,
        col(PathwayRun.stuck_reason).is_(None),
        or_(col(PathwayRun.heal_after).is_(None), col(PathwayRun.heal_after) <= now),
    )
    if not full:  # what the flow has not caught up with in time (a new pathway included)
        query = query.where(
            or_(
                col(PathwayRun.needs_flow_at) <= now - policy.grace,
                and_(
                    col(PathwayRun.flow_run_id).is_(None), col(PathwayRun.needs_flow_at).is_(None)
                ),
            )
        )
    return list(session.exec(query.order_by(col(PathwayRun.id)).limit(limit)).all())


def _record_attempt(
    session: Session, run: PathwayRun, *, error: str | None, now: datetime, policy: HealPolicy
) -> bool:
    """Count a healing attempt and back off; return True if the pathway is now stuck."""
    run.heal_attempts += 1
    run.heal_after = now + backoff(
        run.heal_attempts, base=policy.base_backoff, cap=policy.max_backoff
    )
    run.last_heal_error = error[:500] if error else None
    if run.heal_attempts >= policy.max_attempts:
        run.stuck_reason = (
            f"{run.heal_attempts} tentatives de relance sans succès"
            + (f" : {error}" if error else "")
        )[:500]
    session.add(run)
    session.commit()
    return run.stuck_reason is not None


def _replace(session: Session, run: PathwayRun, orchestrator: Orchestrator, now: datetime) -> None:
    """Retire the current flow run and make room for the next generation."""
    old = run.flow_run_id
    if old is not None:
        try:
            orchestrator.cancel(flow_run_id=old)
        except OrchestrationError as error:
            log.info("could not cancel replaced flow run %s: %s", old, error)
    run.generation += 1
    run.flow_run_id = None
    run.needs_flow_at = run.needs_flow_at or now  # until the new run catches up
    session.add(run)
    session.commit()


def heal(
    *,
    session: Session,
    run: PathwayRun,
    diagnosis: Diagnosis,
    orchestrator: Orchestrator,
    now: datetime,
    policy: HealPolicy,
    result: Reconciled,
) -> None:
    """Apply a diagnosis to one pathway run, recording the attempt."""
    if diagnosis.remedy is Remedy.NONE:
        return
    log.info("pathway run %s: %s (%s)", run.id, diagnosis.remedy, diagnosis.reason)
    result.reasons[run.id or 0] = diagnosis.reason
    error: str | None = None
    if diagnosis.remedy is Remedy.WAKE:
        if wake(
            session=session,
            pathway_run_id=run.id or 0,
            event_id=run.last_event_id,
            orchestrator=orchestrator,
            retry_delays=(),  # the next pass tries again
        ):
            result.woken += 1
        else:
            error = "the waiting run could not be resumed"
    else:
        if diagnosis.remedy is Remedy.REPLACE:
            _replace(session, run, orchestrator, now)
            result.replaced += 1
        if start_flow(session=session, pathway_run_id=run.id or 0, orchestrator=orchestrator):
            result.started += 1
        else:
            error = "Prefect unreachable or the pathway deployment is missing"
    if error:
        result.failed += 1
    session.refresh(run)
    if _record_attempt(session, run, error=error or diagnosis.reason, now=now, policy=policy):
        result.stuck += 1


def _diagnose(
    session: Session,
    run: PathwayRun,
    states: Mapping[str, RunState],
    *,
    needs_flow: bool,
    now: datetime,
    policy: HealPolicy,
) -> Diagnosis:
    wait = current_wait(session=session, pathway_run_id=run.id or 0)
    state = states.get(run.flow_run_id) if run.flow_run_id else None
    return diagnose(
        has_flow_run=run.flow_run_id is not None,
        state=state,
        wait_key=wait.key if wait else None,
        needs_flow=needs_flow,
        now=now,
        stall=policy.stall,
        own_key=state is not None and _is_own_wait(session, run, state.pause_key),
    )


def _is_own_wait(session: Session, run: PathwayRun, key: str | None) -> bool:
    """Return True if `key` is a wait of the run's current flow run (states are read before
    waits: the run may have moved to its next wait in between)."""
    if not key or not key.startswith("wait-") or not key[5:].isdigit():
        return False
    wait = session.get(Wait, int(key[5:]))
    return wait is not None and wait.flow_run_id == run.flow_run_id


def reconcile(
    *,
    session: Session,
    orchestrator: Orchestrator,
    now: datetime,
    policy: HealPolicy | None = None,
    full: bool = False,
    limit: int = 500,
) -> Reconciled:
    """Bring back the pathways that need it (all active ones with `full`)."""
    policy = policy or HealPolicy()
    result = Reconciled()
    runs = _candidates(session, now=now, policy=policy, full=full, limit=limit)
    if not runs:
        return result
    try:
        states = orchestrator.describe(run.flow_run_id for run in runs if run.flow_run_id)
    except OrchestrationError as error:
        log.warning("reconcile: Prefect unreachable: %s", error)
        result.failed = len(runs)
        return result
    for run in runs:
        result.checked += 1
        diagnosis = _diagnose(
            session, run, states, needs_flow=run.needs_flow_at is not None, now=now, policy=policy
        )
        heal(
            session=session,
            run=run,
            diagnosis=diagnosis,
            orchestrator=orchestrator,
            now=now,
            policy=policy,
            result=result,
        )
    return result


def retry_pathway(
    *,
    session: Session,
    pathway_run_id: int,
    orchestrator: Orchestrator,
    now: datetime,
    actor: User | None = None,
) -> Reconciled:
    """Forget a pathway's failed attempts and heal it now (`crealux pathway heal`, dashboard).

    Only the coordinator may; `actor=None` is the maintainer's own call.
    """
    if actor is not None and not access.can(actor, Action.RESTART_PATHWAYS):
        raise Forbidden("only the coordination may restart a pathway")
    run = get_row(session, PathwayRun, pathway_run_id)
    if run.status is not PathwayStatus.ACTIVE:
        raise NotFound(f"pathway run {pathway_run_id} is not active")
    run.stuck_reason, run.heal_attempts, run.heal_after = None, 0, None
    run.needs_flow_at = run.needs_flow_at or now - timedelta(days=1)
    session.add(run)
    session.commit()
    policy = HealPolicy(grace=timedelta(0))
    result = Reconciled()
    try:
        states = orchestrator.describe([run.flow_run_id] if run.flow_run_id else [])
    except OrchestrationError as error:
        _record_attempt(session, run, error=str(error), now=now, policy=policy)
        result.checked, result.failed = 1, 1
        return result
    diagnosis = _diagnose(session, run, states, needs_flow=True, now=now, policy=policy)
    result.checked = 1
    heal(
        session=session,
        run=run,
        diagnosis=diagnosis,
        orchestrator=orchestrator,
        now=now,
        policy=policy,
        result=result,
    )
    return result


@dataclass(frozen=True)
class StuckPathway:
    pathway_run_id: int
    participant_id: int
    reason: str
    attempts: int
    since: datetime | None


def stuck_pathways(*, session: Session, actor: User | None = None) -> list[StuckPathway]:
    """Return the active pathways the reconciler gave up on, or is still trying to heal (the
    coordination's list; `actor=None` is the system's own view)."""
    if actor is not None and not access.can(actor, Action.READ_PIPELINE):
        raise Forbidden("only the coordination sees the stuck pathways")
    rows = session.exec(
        select(PathwayRun).where(
            PathwayRun.status == PathwayStatus.ACTIVE,
            or_(col(PathwayRun.stuck_reason).is_not(None), col(PathwayRun.heal_attempts) > 0),
        )
    ).all()
    return [
        StuckPathway(
            pathway_run_id=run.id or 0,
            participant_id=run.participant_id,
            reason=run.stuck_reason or run.last_heal_error or "relance en cours",
            attempts=run.heal_attempts,
            since=run.needs_flow_at,
        )
        for run in rows
    ]
