"""Small helpers shared by the service tests: answers that fit the shipped rules (version 3 of
the pathway), and a walk that decides steps until the pathway waits on a given one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from crealux_core.models import Notification, StepRun, StepStatus, User
from crealux_core.rules import Rules
from crealux_core.services.deadlines import sweep
from crealux_core.services.events import current_step
from crealux_core.services.steps import Submitted, submit_decision
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0

FIRST = {
    "meeting_on": "2026-11-02",
    "consent_given": True,
    "referred_by": "self",
    "expectation": "creation",
}
SELF_EVALUATION = {
    "confidence": 3,
    "motivation": 4,
    "project_clarity": 2,
    "main_need": "skills",
}
ASSESSMENT = {
    "assessed_on": "2026-11-02",
    "labour_status": "long_term_unemployed",
    "education_level": "isced_3_4",
    "has_qualification": False,
    "barrier_housing": False,
    "barrier_health": False,
    "barrier_mobility": True,
    "barrier_childcare": False,
    "barrier_debt": False,
    "project_maturity": "outline",
}
SOCIAL = {"barriers_lifted": True, "sessions": 6}
TRAINING = {
    "training_kind": "qualifying",
    "completed": True,
    "hours": 320,
    "qualification_obtained": True,
}
EMPLOYED = {"employed": True, "contract": "permanent", "contract_starts_on": "2026-11-02"}
NOT_EMPLOYED = {"employed": False}
VALID_COMPANY_NUMBER = "0403.170.701"
CREATION = {
    "joined_village": True,
    "business_plan_ready": True,
    "status": "principal",
    "started_on": "2026-11-02",
    "sector": "crafts",
    "company_number": VALID_COMPANY_NUMBER,
}
NOT_STARTED = {"joined_village": True, "business_plan_ready": False, "status": "not_started"}
CHECKPOINT = {"still_active": True, "income_from_activity": True, "support_needed": False}
STOPPED = {"still_active": False, "income_from_activity": False, "support_needed": True}
EXIT = {"left_on": "2026-11-02", "reason": "business_started", "situation": "self_employed"}
LEAVING_RESULT = {"situation": "self_employed", "qualification_gained": False}
SIX_MONTHS = {"situation": "self_employed", "improved": True}

# What `walk_to` answers at each step (orientation takes its route from the walk).
ANSWERS: dict[str, dict[str, Any]] = {
    "first_reception": FIRST,
    "self_evaluation_entry": SELF_EVALUATION,
    "socio_professional_assessment": ASSESSMENT,
    "social_accompaniment": SOCIAL,
    "training": TRAINING,
    "job_search": EMPLOYED,
    "business_creation": CREATION,
    "post_creation_3m": CHECKPOINT,
    "post_creation_6m": CHECKPOINT,
    "post_creation_12m": CHECKPOINT,
    "self_evaluation_mid": SELF_EVALUATION,
    "self_evaluation_end": SELF_EVALUATION,
    "exit": EXIT,
    "leaving_result": LEAVING_RESULT,
    "six_month_result": SIX_MONTHS,
}
# Who decides each step: the advisor, or the staff of the partner the step concerns.
DECIDED_BY = {
    "social_accompaniment": "cpas",
    "training": "promsoc",
    "business_creation": "challenge",
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


def walk_to(
    session: Session,
    rules: Rules,
    pathway_run_id: int,
    step_key: str,
    *,
    route: str | Sequence[str] = "creation",
    answers: Mapping[str, dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> StepRun:
    """Decide the pathway's steps, as their advisor or partner would, until it waits on
    `step_key`; return that step (open, or scheduled).

    Each visit to orientation takes the next of `route`; `answers` replaces the usual answers
    of some steps (ANSWERS). A scheduled step on the way is opened by a sweep at its date,
    and the walk goes on from then.
    """
    routes = [route] if isinstance(route, str) else list(route)
    chosen = {**ANSWERS, **(answers or {})}
    moment = now or T0 + timedelta(minutes=10)
    for _ in range(50):
        session.expire_all()
        step = current_step(session, pathway_run_id)
        if step is None:
            raise AssertionError(f"pathway {pathway_run_id} ended before {step_key}")
        if step.step_key == step_key:
            return step
        if step.status is StepStatus.SCHEDULED:
            assert step.opens_at is not None
            moment = max(moment, step.opens_at)
            sweep(
                session=session,
                rules=rules,
                now=moment,
                dashboard_url=DASHBOARD_URL,
                pathway_run_id=pathway_run_id,
            )
            continue
        if step.step_key == "orientation":
            if not routes:
                raise AssertionError(f"no route left for orientation on the way to {step_key}")
            data = orientation(routes.pop(0))
        else:
            data = chosen[step.step_key]
        actor = DECIDED_BY.get(step.step_key, "conseillere")
        decide(session, rules, step.id or 0, data, actor=actor, now=moment)
    raise AssertionError(f"pathway {pathway_run_id} never reached {step_key}")
