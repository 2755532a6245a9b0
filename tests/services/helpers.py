"""Small helpers shared by the service tests: answers that fit the shipped rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from crealux_core.models import Notification, StepRun, StepStatus, User
from crealux_core.rules import Rules
from crealux_core.services.steps import Submitted, submit_decision
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0

FIRST = {
    "meeting_on": "2026-11-02",
    "consent_given": True,
    "referred_by": "self",
    "expectation": "creation",
}
ASSESSMENT = {
    "assessed_on": "2026-11-02",
    "labour_status": "long_term_unemployed",
    "education_level": "isced_3_4",
    "barrier_housing": False,
    "barrier_health": False,
    "barrier_mobility": True,
    "barrier_childcare": False,
    "barrier_debt": False,
    "project_maturity": "outline",
}


def orientation(route: str) -> dict[str, Any]:
    return {"decided_on": "2026-11-02", "route": route}


def steps_of(session: Session, pathway_run_id: int) -> list[tuple[int, str, StepStatus]]:
    session.expire_all()
    rows = session.exec(
        select(StepRun).where(StepRun.pathway_run_id == pathway_run_id).order_by(col(StepRun.seq))
    ).all()
    return [(row.seq, row.step_key, row.status) for row in rows]


def notifications_of(session: Session, pathway_run_id: int) -> list[str]:
    return list(
        session.exec(
            select(Notification.event_key)
            .where(Notification.pathway_run_id == pathway_run_id)
            .order_by(col(Notification.id))
        ).all()
    )


def decide(
    session: Session,
    rules: Rules,
    step_run_id: int,
    data: dict[str, Any],
    *,
    actor: str = "conseillere",
    note: str | None = None,
    now: datetime | None = None,
) -> Submitted:
    user: User = get_user(session=session, username=actor)
    return submit_decision(
        session=session,
        rules=rules,
        step_run_id=step_run_id,
        actor=user,
        data=data,
        note=note,
        now=now or T0 + timedelta(minutes=10),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
