"""Random interleavings of everything that can reach pathways: decisions (some sent twice, as
from two tabs), skips, reassignments, deadline sweeps as time moves on, flow passes, reconciler
passes with Prefect down, and notification dispatches to a real SMTP server.

Whatever the order: no step is opened twice, every pathway has exactly one current step or has
ended, and no notification is sent twice.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, func, select

from crealux_core.models import (
    Gender,
    Notification,
    NotificationStatus,
    ParticipantCreate,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
)
from crealux_core.notify import AppriseNotifier
from crealux_core.orchestration import PrefectOrchestrator
from crealux_core.rules import Rules, load_rules
from crealux_core.rules.specs import FieldType, StepSpec
from crealux_core.services import events
from crealux_core.services.deadlines import sweep
from crealux_core.services.definitions import definition_of
from crealux_core.services.errors import AlreadyDone, Forbidden, InvalidInput
from crealux_core.services.notifications import dispatch_notifications
from crealux_core.services.participants import enroll_participant
from crealux_core.services.progress import begin_pass, record_wake
from crealux_core.services.reconcile import reconcile
from crealux_core.services.steps import reassign_step, skip_step, submit_decision
from crealux_core.services.users import get_user
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.conftest import DASHBOARD_URL, T0
from tests.smtp import SmtpSink

OPERATIONS = ["decide", "decide_twice", "skip", "reassign", "sweep", "flow", "reconcile", "send"]


def answers(step: StepSpec, rng: random.Random, today: date) -> dict[str, Any]:
    """Return valid answers for a step's form, chosen at random."""
    values: dict[str, Any] = {}
    for name, field in step.form.items():
        if field.type is FieldType.BOOL:
            values[name] = rng.random() < 0.8
        elif field.type is FieldType.CHOICE:
            values[name] = rng.choice(sorted(field.choices or {}))
        elif field.type in (FieldType.INT, FieldType.SCALE):
            values[name] = rng.randint(field.min or 0, field.max or 10)
        elif field.type is FieldType.COMPANY_NUMBER:
            values[name] = company_number(rng)
        else:
            values[name] = (today - timedelta(days=rng.randint(0, 20))).isoformat()
    return values


def company_number(rng: random.Random) -> str:
    """Return a Belgian enterprise number whose modulo-97 check digits hold."""
    first = rng.randint(2_000_000, 19_999_999)  # 8 digits starting with 0 or 1
    return f"{first:08d}{97 - first % 97:02d}"


class World:
    def __init__(self, session: Session, rules: Rules, orchestrator: PrefectOrchestrator) -> None:
        self.session, self.rules, self.orchestrator = session, rules, orchestrator
        self.now = T0
        self.coordinator = get_user(session=session, username="coordination")
        self.colleague = get_user(session=session, username="conseiller")
        self.runs: list[int] = []
        self.flow_waits: dict[int, int] = {}

    def enrol(self, count: int) -> None:
        advisor = get_user(session=self.session, username="conseillere")
        for index in range(count):
            _, run = enroll_participant(
                session=self.session,
                rules=self.rules,
                data=ParticipantCreate(
                    first_name=f"H{index}", last_name="Prop", gender=Gender.MALE
                ),
                advisor=advisor,
                now=self.now,
                orchestrator=None,
                dashboard_url=DASHBOARD_URL,
            )
            self.runs.append(run.id or 0)

    def current(self, run_id: int) -> StepRun | None:
        self.session.expire_all()
        return events.current_step(self.session, run_id)

    def apply(self, operation: str, target: int, rng: random.Random) -> None:
        run_id = self.runs[target % len(self.runs)]
        step = self.current(run_id)
        self.now += timedelta(hours=rng.choice([0, 1, 30, 24 * 9, 24 * 40]))
        if operation in ("decide", "decide_twice") and step is not None:
            run = self.session.get(PathwayRun, run_id)
            assert run is not None
            spec = definition_of(session=self.session, rules=self.rules, run=run)
            data = answers(spec.step(step.step_key), rng, self.now.date())
            for _ in range(2 if operation == "decide_twice" else 1):
                try:
                    submit_decision(
                        session=self.session,
                        rules=self.rules,
                        step_run_id=step.id or 0,
                        actor=self.coordinator,
                        data=data,
                        note="note",
                        now=self.now,
                        orchestrator=None,
                        dashboard_url=DASHBOARD_URL,
                    )
                except (AlreadyDone, Forbidden):
                    pass  # a scheduled step, or the second tab
                except InvalidInput as error:
                    raise AssertionError(f"valid answers refused: {error}") from None
        elif operation == "skip" and step is not None:
            with contextlib.suppress(AlreadyDone):
                skip_step(
                    session=self.session,
                    rules=self.rules,
                    step_run_id=step.id or 0,
                    actor=self.coordinator,
                    reason="raison",
                    now=self.now,
                    orchestrator=None,
                    dashboard_url=DASHBOARD_URL,
                )
        elif operation == "reassign" and step is not None:
            reassign_step(
                session=self.session,
                rules=self.rules,
                step_run_id=step.id or 0,
                actor=self.coordinator,
                assignee=self.colleague,
                note=None,
                now=self.now,
            )
        elif operation == "sweep":
            sweep(session=self.session, rules=self.rules, now=self.now, dashboard_url=DASHBOARD_URL)
        elif operation == "flow":
            self.flow_pass(run_id)
        elif operation == "reconcile":
            reconcile(session=self.session, orchestrator=self.orchestrator, now=self.now)
        elif operation == "send":
            dispatch_notifications(
                session=self.session, rules=self.rules, notifier=AppriseNotifier(), now=self.now
            )

    def flow_pass(self, run_id: int) -> None:
        """A flow run's pass: wake from its last wait if any, then wait again."""
        wait_id = self.flow_waits.pop(run_id, None)
        run = self.session.get(PathwayRun, run_id, populate_existing=True)
        assert run is not None
        if wait_id is not None:
            record_wake(
                session=self.session, wait_id=wait_id, event_id=run.last_event_id, now=self.now
            )
        found = begin_pass(
            session=self.session,
            rules=self.rules,
            pathway_run_id=run_id,
            generation=run.generation,
            flow_run_id=run.flow_run_id or str(uuid.uuid4()),
            now=self.now,
        )
        if found.wait_id is not None:
            self.flow_waits[run_id] = found.wait_id

    def check(self, smtp: SmtpSink) -> None:
        session = self.session
        session.expire_all()
        for run_id in self.runs:
            run = session.get(PathwayRun, run_id)
            assert run is not None
            current = session.exec(
                select(func.count())
                .select_from(StepRun)
                .where(
                    StepRun.pathway_run_id == run_id,
                    col(StepRun.status).in_([StepStatus.OPEN, StepStatus.SCHEDULED]),
                )
            ).one()
            expected = 1 if run.status is PathwayStatus.ACTIVE else 0
            assert current == expected, f"pathway {run_id} ({run.status}) has {current} current"
            opened = session.exec(
                select(func.count())
                .select_from(StepRun)
                .where(StepRun.pathway_run_id == run_id, col(StepRun.opened_at).is_not(None))
            ).one()
            announced = session.exec(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.pathway_run_id == run_id,
                    col(Notification.event_key).startswith("step-opened:"),
                )
            ).one()
            assert opened == announced  # each step opened once, announced once
        sent = session.exec(
            select(Notification).where(Notification.status == NotificationStatus.SENT)
        ).all()
        assert all(notification.attempts == 1 for notification in sent)
        assert len(smtp.received) == len(sent)  # every example so far shares this database


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    script=st.lists(
        st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 2)), min_size=5, max_size=25
    ),
    seed=st.integers(0, 2**16),
)
def test_any_interleaving_keeps_one_current_step_and_sends_each_message_once(
    session: Session,
    settings: Settings,
    smtp: SmtpSink,
    unreachable_orchestrator: PrefectOrchestrator,
    script: list[tuple[str, int]],
    seed: int,
) -> None:
    rules = load_rules(REPO_RULES_DIR, env={"CREALUX_SMTP_PORT": str(settings.smtp_port)})
    world = World(session, rules, unreachable_orchestrator)
    world.enrol(3)
    rng = random.Random(seed)
    for operation, target in script:
        world.apply(operation, target, rng)
        world.check(smtp)
    world.apply("send", 0, rng)
    world.check(smtp)
