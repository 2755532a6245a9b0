"""Demo mode: the demo accounts exist only there, and the demo loads in seconds with no Prefect."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import col, select

from crealux.demo import (
    DEMO_PARTICIPANTS,
    DEMO_REFERRALS,
    DEMO_USERS,
    create_demo_users,
    ensure_reference_data,
    is_fresh,
    load_demo,
    sync_organisations,
)
from crealux_core.clock import utcnow
from crealux_core.db import migrate
from crealux_core.models import (
    EventKind,
    Participant,
    PathwayEvent,
    PathwayRun,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.runtime import Runtime
from crealux_core.services.events import current_step
from crealux_core.services.users import authenticate, create_first_coordinator
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.conftest import clean_environ, free_port
from tests.test_cli import json_of, run_cli

ROUTE_STEP = {
    "creation": "business_creation",
    "training": "training",
    "social": "social_accompaniment",
    "employment": "job_search",
}
BEFORE_ROUTE = [
    "first_reception",
    "self_evaluation_entry",
    "socio_professional_assessment",
    "orientation",
]
AFTER_ROUTE = {"creation": ["post_creation_3m"]}  # scheduled: 3 months after the start date


def expected_step(steps_done: int, route: str) -> str:
    """Return the step a demo pathway waits on after `steps_done` decisions on `route`."""
    walk = [*BEFORE_ROUTE, ROUTE_STEP[route], *AFTER_ROUTE.get(route, [])]
    return walk[steps_done]


def empty_instance(home: Path) -> Runtime:
    """A migrated SQLite instance with nothing in it (what `crealux init` starts from)."""
    settings = Settings(
        home=home,
        rules_dir=REPO_RULES_DIR,
        prefect_port=free_port(),
        dashboard_port=free_port(),
        smtp_port=free_port(),
    )
    home.mkdir(parents=True)
    migrate(settings.app_database_url)
    return Runtime(settings)


def test_the_demo_loads_in_seconds_each_pathway_waiting_on_its_step(runtime: Runtime) -> None:
    started = time.monotonic()
    pathway_run_ids = load_demo(runtime, progress=lambda line: None)
    elapsed = time.monotonic() - started
    assert elapsed < 15, elapsed  # about a second on a quiet machine; Prefect is never asked
    assert len(pathway_run_ids) == len(DEMO_PARTICIPANTS) == 12
    now = utcnow()
    with runtime.session() as session:
        for pathway_run_id, person in zip(pathway_run_ids, DEMO_PARTICIPANTS, strict=True):
            run = session.get(PathwayRun, pathway_run_id)
            assert run is not None and run.flow_run_id is None  # the reconciler starts it
            participant = session.get(Participant, run.participant_id)
            assert participant is not None and participant.first_name == person.first_name
            step = current_step(session, pathway_run_id)
            assert step is not None
            assert step.step_key == expected_step(person.steps_done, person.route), person
            if step.status is StepStatus.SCHEDULED:  # a checkpoint after the creation
                assert step.opens_at is not None and step.opens_at > now
            else:
                assert step.status is StepStatus.OPEN
                assert step.due_at is not None and step.due_at > now  # nothing overdue at start
            decisions = session.exec(
                select(PathwayEvent)
                .where(
                    PathwayEvent.pathway_run_id == pathway_run_id,
                    PathwayEvent.kind == EventKind.DECISION,
                )
                .order_by(col(PathwayEvent.id))
            ).all()
            assert len(decisions) == person.steps_done
            enrolled_on = participant.enrolled_at.date()
            for decision in decisions:
                assert participant.enrolled_at <= decision.occurred_at <= now
                for name, value in decision.payload.items():
                    if name.endswith("_on"):  # a date of something that happened
                        day = date.fromisoformat(value)
                        assert enrolled_on - timedelta(days=365) <= day <= now.date()
        steps = session.exec(select(StepRun)).all()
        referral_steps = [step for step in steps if step.step_key == "partner_referral"]
        assert len(referral_steps) == len(DEMO_REFERRALS)  # alongside, optional
        assert len(steps) == sum(p.steps_done + 1 for p in DEMO_PARTICIPANTS) + len(DEMO_REFERRALS)


def test_demo_accounts_exist_only_in_demo_mode(tmp_path: Path) -> None:
    runtime = empty_instance(tmp_path / "home")
    try:
        assert sync_organisations(runtime) > 0  # every mode: the partners of the rules
        with runtime.session() as session:
            assert session.exec(select(User)).all() == []
        assert is_fresh(runtime)  # `crealux up` would load the demo here

        with runtime.session() as session:
            create_first_coordinator(
                session=session, username="coordination", password="une phrase secrète"
            )
        assert not is_fresh(runtime)  # set up by `crealux init`: `up` adds no demo account

        created = create_demo_users(runtime)  # `crealux demo`, asked for on purpose
        assert created == [name for name, *_ in DEMO_USERS if name != "coordination"]
        ensure_reference_data(runtime)  # idempotent
        with runtime.session() as session:
            assert len(session.exec(select(User)).all()) == len(DEMO_USERS)
            assert authenticate(session=session, username="conseillere", password="demo")
            assert not authenticate(session=session, username="coordination", password="demo")
            assert authenticate(
                session=session, username="coordination", password="une phrase secrète"
            )
    finally:
        runtime.engine.dispose()


def test_crealux_demo_loads_the_demo_into_an_instance_without_prefect(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runtime = empty_instance(home)
    sync_organisations(runtime)
    runtime.engine.dispose()
    env = {
        "CREALUX_HOME": str(home),
        "CREALUX_PREFECT_PORT": str(runtime.settings.prefect_port),
        "CREALUX_DASHBOARD_PORT": str(runtime.settings.dashboard_port),
        "CREALUX_SMTP_PORT": str(runtime.settings.smtp_port),
    }
    result = run_cli({**clean_environ(), **env}, "demo", "--json")
    assert result.returncode == 0, result.stderr
    loaded = json_of(result)
    assert loaded["participants_loaded"] == 12
    assert loaded["flow_runs_started"] == 0  # Prefect is down: the maintainer starts them
    assert loaded["seconds"] < 15
    with runtime.session() as session:
        waiting = session.exec(
            select(StepRun).where(col(StepRun.status).in_([StepStatus.OPEN, StepStatus.SCHEDULED]))
        ).all()
        assert len({step.pathway_run_id for step in waiting}) == 12
    runtime.engine.dispose()


def test_the_demo_gives_the_coordinator_indicators_to_look_at(runtime: Runtime) -> None:
    """Outreach actions, structures (one sensitised twice, counted once), accompanied
    participants: the indicator page of a fresh demo is not a table of zeros."""
    from crealux.demo import DEMO_OUTREACH, load_demo_outreach
    from crealux_core.services.reports import indicator_report
    from crealux_core.services.users import get_user

    load_demo(runtime, progress=lambda line: None)
    assert load_demo_outreach(runtime, utcnow()) == (0, 0)  # recorded once, already
    with runtime.session() as session:
        report = indicator_report(
            session=session,
            rules=runtime.rules,
            user=get_user(session=session, username="coordination"),
            now=utcnow(),
        )
    achieved = {line.key: line.achieved for line in report.lines}
    candidates = sum(a["people_reached"] for a in DEMO_OUTREACH if a["category"] == "candidates")
    assert achieved["candidates_sensitised"] == candidates
    assert achieved["first_line_structures"] == 3  # the CPAS de Durbuy twice: once
    assert achieved["professional_structures"] == 2
    assert achieved["prospective_workshops"] == 2
    assert achieved["candidates_accompanied"] == len(DEMO_PARTICIPANTS)
