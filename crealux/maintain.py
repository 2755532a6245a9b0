"""`crealux maintain`: one long-lived process that keeps every pathway moving.

Every tick (2 s) it looks, with one indexed query, for pathways whose flow run has not caught up
with their latest event and heals them; it sends queued notifications; every 15 s it sweeps
deadlines and, once the day's digest time has come, sends the digests of the organisations that
ask for one; every minute it checks every active pathway against Prefect. An idle instance
costs a few small queries a tick, and no new process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crealux_core.clock import utcnow
from crealux_core.runtime import Runtime
from crealux_core.services.deadlines import sweep
from crealux_core.services.notifications import dispatch_digests, dispatch_notifications
from crealux_core.services.reconcile import HealPolicy, reconcile

log = logging.getLogger("crealux.maintain")


@dataclass
class Maintainer:
    runtime: Runtime
    last_run: dict[str, float] = field(default_factory=dict)

    @property
    def policy(self) -> HealPolicy:
        settings = self.runtime.settings
        return HealPolicy(
            grace=timedelta(seconds=settings.grace_seconds),
            stall=timedelta(seconds=settings.stall_seconds),
        )

    def _due(self, name: str, every: float, clock: float) -> bool:
        if clock - self.last_run.get(name, float("-inf")) < every:
            return False
        self.last_run[name] = clock
        return True

    def tick(self, now: datetime, clock: float) -> dict[str, int]:
        """Do what is due at this tick; return counts of what was done (for the log)."""
        settings = self.runtime.settings
        done: dict[str, int] = {}
        with self.runtime.session() as session:
            if self._due("sweep", settings.sweep_seconds, clock):
                swept = sweep(
                    session=session,
                    rules=self.runtime.rules,
                    now=now,
                    dashboard_url=settings.dashboard_url,
                )
                done.update(swept.as_json())
                digests = dispatch_digests(
                    session=session,
                    rules=self.runtime.rules,
                    notifier=self.runtime.notifier,
                    now=now,
                    at=settings.digest_time,
                    timezone=settings.digest_timezone,
                )
                done.update(digests_sent=digests.sent, digests_failed=digests.failed)
            full = self._due("full", settings.full_reconcile_seconds, clock)
            healed = reconcile(
                session=session,
                orchestrator=self.runtime.orchestrator,
                now=now,
                policy=self.policy,
                full=full,
                limit=10_000 if full else 500,
            )
            done.update({f"heal_{key}": value for key, value in healed.as_json().items()})
            # A pathway's own flow run sends its messages (as tasks the Prefect UI shows); the
            # maintainer sends what nobody sent within the grace: a flow that is down or slow,
            # reminders and escalations of pathways whose run has nothing to wake for.
            sent = dispatch_notifications(
                session=session,
                rules=self.runtime.rules,
                notifier=self.runtime.notifier,
                now=now,
                queued_before=now - self.policy.grace,
            )
            done.update(sent=sent.sent, send_failed=sent.failed)
        return {key: value for key, value in done.items() if value}


def run(
    runtime: Runtime,
    *,
    stop: threading.Event | None = None,
    now: Callable[[], datetime] = utcnow,
) -> None:
    """Tick until `stop` is set (or the process is interrupted)."""
    stop = stop or threading.Event()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request every tick
    maintainer = Maintainer(runtime)
    while not stop.is_set():
        started = time.monotonic()
        try:
            done = maintainer.tick(now(), started)
        except Exception:  # a database hiccup must not end the maintainer; log and go on
            log.exception("maintenance tick failed")
            done = {}
        if done:
            log.info("maintenance: %s", done)
        stop.wait(max(0.1, runtime.settings.maintain_tick_seconds - (time.monotonic() - started)))
