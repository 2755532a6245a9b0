"""The reconciler, the deadline sweeper and the daily digests as one Prefect flow, for a
deployment that prefers Prefect's scheduler to the `crealux maintain` process (see
prefect.yaml). Both are the same services, safe to run at once: every effect is claimed with a
compare-and-set update."""

from __future__ import annotations

from prefect import flow, get_run_logger

from crealux_core.clock import utcnow
from crealux_core.runtime import Runtime
from crealux_core.services.deadlines import sweep
from crealux_core.services.notifications import dispatch_digests, dispatch_notifications
from crealux_core.services.reconcile import reconcile as reconcile_pathways


@flow(name="reconcile", persist_result=False)
def reconcile() -> dict[str, int]:
    """Check every active pathway against Prefect, sweep deadlines, send what is queued and
    the digests that are due."""
    runtime = Runtime.from_env()
    with runtime.session() as session:
        swept = sweep(
            session=session,
            rules=runtime.rules,
            now=utcnow(),
            dashboard_url=runtime.settings.dashboard_url,
        )
        healed = reconcile_pathways(
            session=session, orchestrator=runtime.orchestrator, now=utcnow(), full=True
        )
        sent = dispatch_notifications(
            session=session, rules=runtime.rules, notifier=runtime.notifier, now=utcnow()
        )
        digests = dispatch_digests(
            session=session,
            rules=runtime.rules,
            notifier=runtime.notifier,
            now=utcnow(),
            at=runtime.settings.digest_time,
            timezone=runtime.settings.digest_timezone,
        )
    summary = {
        **swept.as_json(),
        **healed.as_json(),
        "sent": sent.sent,
        "failed": sent.failed,
        "digests_sent": digests.sent,
        "digests_failed": digests.failed,
    }
    get_run_logger().info("reconciled: %s", summary)
    return summary
