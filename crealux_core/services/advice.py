"""Orientation advice beside the decision: what rules/orientation.yaml recommends from the
assessment's answers, recorded with the advisor's decision in the same transaction, and how
often the two differ (for the coordinator)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from crealux_core.domain.orientation import Advice, advise
from crealux_core.models import OrientationAdvice, PathwayEvent, PathwayRun, StepRun
from crealux_core.rules.specs import PathwaySpec, Rules
from crealux_core.services import events
from crealux_core.services.lookup import get_row


def advice_for(*, session: Session, rules: Rules, step_run: StepRun) -> Advice | None:
    """Return the advice for a step when it is the decision the orientation rules advise on."""
    run = get_row(session, PathwayRun, step_run.pathway_run_id)
    spec = rules.orientation_for(run.pathway_key, run.pathway_version)
    if spec is None or step_run.step_key != spec.decided_step or step_run.optional:
        return None
    return advise(spec, events.answers_of(session, run.id or 0))


def recorder(rules: Rules) -> events.OnDecision:
    """Return the hook that records, with an orientation decision, the advice given for it."""

    def record_advice(
        session: Session, pathway: PathwaySpec, step_run: StepRun, event: PathwayEvent
    ) -> None:
        run = get_row(session, PathwayRun, step_run.pathway_run_id)
        spec = rules.orientation_for(run.pathway_key, run.pathway_version)
        if spec is None or step_run.step_key != spec.decided_step:
            return
        advice = advise(spec, events.answers_of(session, run.id or 0))
        session.add(
            OrientationAdvice(
                step_run_id=step_run.id or 0,
                event_id=event.id or 0,
                advised_route=advice.route if advice else None,
                advice_rule=advice.rule_key if advice else None,
                decided_route=str(event.payload.get(spec.decided_field, "")),
                decided_at=event.occurred_at,
            )
        )

    return record_advice


def recorded_advice(*, session: Session, step_run_id: int) -> OrientationAdvice | None:
    return session.exec(
        select(OrientationAdvice).where(OrientationAdvice.step_run_id == step_run_id)
    ).first()


@dataclass(frozen=True)
class AdviceStats:
    decisions: int
    advised: int  # decisions for which advice was given
    followed: int
    pairs: list[tuple[str | None, str, int]]  # advised route, decided route, how many

    @property
    def differed(self) -> int:
        return self.advised - self.followed

    @property
    def differed_share(self) -> float | None:
        return self.differed / self.advised if self.advised else None


def advice_stats(
    *, session: Session, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> AdviceStats:
    """Count orientation decisions against their advice (grouped in SQL), within a period."""
    filters = []
    if since is not None:
        filters.append(col(OrientationAdvice.decided_at) >= since)
    if until is not None:
        filters.append(col(OrientationAdvice.decided_at) < until)
    advised = col(OrientationAdvice.advised_route).is_not(None)
    followed = advised & (
        col(OrientationAdvice.advised_route) == col(OrientationAdvice.decided_route)
    )
    totals = session.exec(
        select(
            func.count(col(OrientationAdvice.id)),
            func.coalesce(func.sum(case((advised, 1), else_=0)), 0),
            func.coalesce(func.sum(case((followed, 1), else_=0)), 0),
        ).where(*filters)
    ).one()
    pairs = session.exec(
        select(
            OrientationAdvice.advised_route,
            OrientationAdvice.decided_route,
            func.count(col(OrientationAdvice.id)),
        )
        .where(*filters)
        .group_by(col(OrientationAdvice.advised_route), col(OrientationAdvice.decided_route))
        .order_by(func.count(col(OrientationAdvice.id)).desc())
    ).all()
    return AdviceStats(
        decisions=int(totals[0]),
        advised=int(totals[1]),
        followed=int(totals[2]),
        pairs=[(advised_route, decided, int(count)) for advised_route, decided, count in pairs],
    )
