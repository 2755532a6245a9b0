"""One flow run per participant's pathway.

The flow is a driver. Every input has already moved the pathway on when its event was committed;
on each pass (it re-runs from the top after each resume) the flow acknowledges what happened,
applies the pathway's deadlines that have passed, sends what is queued, and suspends on a new
key (`wait-<id>`) until the next event wakes it. The resume input is an event id, nothing else;
one that matches no committed event is logged and ignored. A run replaced by a newer generation
stops at its next pass.
"""

from __future__ import annotations

from functools import lru_cache

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.flow_runs import suspend_flow_run
from prefect.runtime import flow_run

from crealux_core.clock import utcnow
from crealux_core.runtime import Runtime
from crealux_core.services.deadlines import sweep
from crealux_core.services.notifications import dispatch_notifications, queued_notifications
from crealux_core.services.progress import (
    Pass,
    Wake,
    begin_pass,
    has_unseen_events,
    record_wake,
)


@lru_cache(maxsize=1)
def _runtime() -> Runtime:
    """Return this process's runtime (a flow run is one process, started by the runner)."""
    return Runtime.from_env()


@task(name="acknowledge-events", cache_policy=NO_CACHE, persist_result=False)
def acknowledge(pathway_run_id: int, generation: int, this_run: str) -> Pass:
    runtime = _runtime()
    with runtime.session() as session:
        return begin_pass(
            session=session,
            rules=runtime.rules,
            pathway_run_id=pathway_run_id,
            generation=generation,
            flow_run_id=this_run,
            now=utcnow(),
        )


@task(name="apply-deadlines", cache_policy=NO_CACHE, persist_result=False)
def apply_deadlines(pathway_run_id: int) -> dict[str, int]:
    runtime = _runtime()
    with runtime.session() as session:
        return sweep(
            session=session,
            rules=runtime.rules,
            now=utcnow(),
            dashboard_url=runtime.settings.dashboard_url,
            pathway_run_id=pathway_run_id,
        ).as_json()


@task(
    name="send-notification",
    task_run_name="send-notification-{notification_id}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def send_notification(notification_id: int) -> int:
    runtime = _runtime()
    with runtime.session() as session:
        return dispatch_notifications(
            session=session,
            rules=runtime.rules,
            notifier=runtime.notifier,
            now=utcnow(),
            notification_id=notification_id,
        ).sent


@task(name="record-wake", cache_policy=NO_CACHE, persist_result=False)
def wake_up(wait_id: int, event_id: int | None) -> bool:
    runtime = _runtime()
    with runtime.session() as session:
        return record_wake(session=session, wait_id=wait_id, event_id=event_id, now=utcnow())


def _send_queued(pathway_run_id: int) -> None:
    with _runtime().session() as session:
        queued = queued_notifications(
            session=session, pathway_run_id=pathway_run_id, now=utcnow(), rules=_runtime().rules
        )
    for notification_id in queued:
        send_notification(notification_id)


@flow(name="pathway", flow_run_name="pathway-{pathway_run_id}", persist_result=False)
def pathway(pathway_run_id: int, generation: int = 0) -> str:
    """Drive one pathway run: wait for its events until it ends."""
    logger = get_run_logger()
    this_run = str(flow_run.get_id())
    while True:
        apply_deadlines(pathway_run_id)
        current = acknowledge(pathway_run_id, generation, this_run)
        _send_queued(pathway_run_id)
        if current.superseded:
            logger.info("pathway run %s is driven by a newer flow run", pathway_run_id)
            return "superseded"
        if current.ended or current.wait_key is None or current.wait_id is None:
            if current.problem:
                logger.warning(
                    "pathway run %s cannot continue: %s", pathway_run_id, current.problem
                )
                return "stuck"
            logger.info("pathway run %s has ended", pathway_run_id)
            return "completed"
        with _runtime().session() as session:
            if has_unseen_events(session=session, pathway_run_id=pathway_run_id):
                continue  # an event came during this pass: its wake may have found us running
        logger.info("pathway run %s waits on %s", pathway_run_id, current.wait_key)
        received = suspend_flow_run(wait_for_input=Wake, key=current.wait_key, timeout=None)
        if not wake_up(current.wait_id, received.event_id):
            logger.warning(
                "ignored a resume of %s that names no event of this pathway (%s)",
                current.wait_key,
                received.event_id,
            )
