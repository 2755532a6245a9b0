"""The reconciler: starts pathways without a flow run, delivers committed decisions that were not
delivered, and retries notifications that could not be sent. Scheduled every minute."""

from __future__ import annotations

from prefect import flow, get_run_logger

from crealux_core.clock import utcnow
from crealux_core.runtime import Runtime
from crealux_core.services.delivery import reconcile as reconcile_pathways
from crealux_core.services.notifications import dispatch_notifications


@flow(name="reconcile", persist_result=False)
def reconcile() -> dict[str, int]:
    """Catch up on whatever a crash or an unreachable server left undone."""
    runtime = Runtime.from_env()
    with runtime.session() as session:
        done = reconcile_pathways(session=session, orchestrator=runtime.orchestrator, now=utcnow())
        sent = dispatch_notifications(
            session=session, rules=runtime.rules, notifier=runtime.notifier, now=utcnow()
        )
    summary = {
        "started": done.started,
        "delivered": done.delivered,
        "pending": done.pending,
        "sent": sent.sent,
        "failed": sent.failed,
    }
    get_run_logger().info("reconciled: %s", summary)
    return summary
