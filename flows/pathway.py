"""One flow run per participant's pathway.

The flow is a driver: on every pass (it re-runs from the top after each resume) it asks the
database which step the pathway waits on, opening it if needed, sends what is queued, and
suspends with a key derived from the step run's id until the decision arrives. A decision that
is already committed in the database (it raced the suspend, or the run was re-run) is applied
from there. Every effect is keyed by database ids, so a re-run does nothing twice.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.flow_runs import suspend_flow_run
from prefect.runtime import flow_run

from crealux_core.clock import utcnow
from crealux_core.rules import step_input_model
from crealux_core.runtime import Runtime
from crealux_core.services.notifications import dispatch_notifications
from crealux_core.services.progress import (
    apply_decision,
    committed_decision,
    open_current_step,
    step_spec_of,
)


def _send_queued(runtime: Runtime, pathway_run_id: int) -> None:
    with runtime.session() as session:
        dispatch_notifications(
            session=session,
            rules=runtime.rules,
            notifier=runtime.notifier,
            now=utcnow(),
            pathway_run_id=pathway_run_id,
        )


@flow(name="pathway", flow_run_name="pathway-{pathway_run_id}", persist_result=False)
def pathway(pathway_run_id: int) -> str:
    """Drive one pathway run step by step until it ends."""
    logger = get_run_logger()
    runtime = Runtime.from_env()
    this_run = str(flow_run.get_id())
    dashboard_url = runtime.settings.dashboard_url
    while True:
        with runtime.session() as session:
            step_run = open_current_step(
                session=session,
                rules=runtime.rules,
                pathway_run_id=pathway_run_id,
                flow_run_id=this_run,
                dashboard_url=dashboard_url,
                now=utcnow(),
            )
            step = (
                step_spec_of(session=session, rules=runtime.rules, step_run=step_run)
                if step_run
                else None
            )
        _send_queued(runtime, pathway_run_id)
        if step_run is None or step is None:
            logger.info("pathway run %s has ended", pathway_run_id)
            return "completed"
        with runtime.session() as session:
            decision_id = committed_decision(session=session, step_run_id=step_run.id or 0)
        if decision_id is None:
            logger.info("waiting on step run %s (%s)", step_run.id, step.key)
            received = suspend_flow_run(
                wait_for_input=step_input_model(step), key=step_run.suspend_key, timeout=None
            )
            decision_id = received.decision_id
        with runtime.session() as session:
            apply_decision(
                session=session,
                rules=runtime.rules,
                step_run_id=step_run.id or 0,
                decision_id=decision_id,
                flow_run_id=this_run,
                dashboard_url=dashboard_url,
                now=utcnow(),
            )
