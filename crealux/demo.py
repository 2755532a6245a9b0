"""Demo data: the partner organisations of the rules, demo users, a dozen participants whose
pathways run and wait at different steps. Everything goes through the services and real flows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import select

from crealux_core.clock import utcnow
from crealux_core.models import Gender, Participant, ParticipantCreate, Role, StepStatus
from crealux_core.runtime import Runtime
from crealux_core.services.errors import NotFound
from crealux_core.services.organisations import sync_organisations
from crealux_core.services.participants import enroll_participant
from crealux_core.services.steps import complete_step, list_steps
from crealux_core.services.users import create_user, get_user

DEMO_PASSWORD = "demo"

DEMO_USERS = [
    ("conseillere", "Claire Lambert", Role.ADVISOR, "integra-plus"),
    ("conseiller", "Marc Jacquemin", Role.ADVISOR, "integra-plus"),
    ("coordination", "Anne Coordination", Role.COORDINATOR, "integra-plus"),
    ("challenge", "Équipe Challenge", Role.PARTNER, "challenge"),
    ("promsoc", "Secrétariat Promotion sociale", Role.PARTNER, "promotion-sociale-marche"),
    ("trusquin", "Équipe Le Trusquin", Role.PARTNER, "le-trusquin"),
    ("cpas", "Service social CPAS", Role.PARTNER, "cpas-durbuy"),
]


@dataclass(frozen=True)
class DemoParticipant:
    first_name: str
    last_name: str
    gender: Gender
    birth_year: int
    municipality: str
    advisor: str
    steps_done: int  # how many steps to complete: 0 waits at first reception
    route: str = "creation"


DEMO_PARTICIPANTS = [
    DemoParticipant("Sophie", "Lemaire", Gender.FEMALE, 1988, "Durbuy", "conseillere", 0),
    DemoParticipant("Karim", "Benali", Gender.MALE, 1979, "Marche-en-Famenne", "conseillere", 0),
    DemoParticipant("Julie", "Renard", Gender.FEMALE, 1995, "Hotton", "conseiller", 0),
    DemoParticipant("Alex", "Marchal", Gender.NON_BINARY, 1992, "Érezée", "conseillere", 1),
    DemoParticipant("Nathalie", "Collard", Gender.FEMALE, 1971, "Barvaux", "conseillere", 1),
    DemoParticipant("Thomas", "Gérard", Gender.MALE, 1984, "Marche-en-Famenne", "conseiller", 1),
    DemoParticipant("Fatima", "El Amrani", Gender.FEMALE, 1990, "Durbuy", "conseillere", 2),
    DemoParticipant("Luc", "Hansen", Gender.MALE, 1966, "Hotton", "conseiller", 2),
    DemoParticipant("Marie", "Thiry", Gender.FEMALE, 1983, "Barvaux", "conseillere", 3, "creation"),
    DemoParticipant("David", "Lejeune", Gender.MALE, 1999, "Érezée", "conseillere", 3, "training"),
    DemoParticipant(
        "Céline", "Dewez", Gender.FEMALE, 1977, "Marche-en-Famenne", "conseiller", 3, "social"
    ),
    DemoParticipant("Jean", "Pirard", Gender.MALE, 1961, "Durbuy", "conseiller", 3, "employment"),
]


def demo_answers(step_key: str, today: date, route: str) -> dict[str, Any]:
    """Return plausible answers for a step of the CREALux pathway."""
    answers: dict[str, dict[str, Any]] = {
        "first_reception": {
            "meeting_on": today - timedelta(days=20),
            "consent_given": True,
            "referred_by": "cpas",
            "expectation": "creation",
        },
        "socio_professional_assessment": {
            "assessed_on": today - timedelta(days=10),
            "labour_status": "long_term_unemployed",
            "education_level": "isced_3_4",
            "barrier_housing": False,
            "barrier_health": False,
            "barrier_mobility": True,
            "barrier_childcare": False,
            "barrier_debt": route == "social",
            "project_maturity": "outline",
        },
        "orientation": {"decided_on": today - timedelta(days=3), "route": route},
    }
    return answers[step_key]


def ensure_reference_data(runtime: Runtime) -> None:
    """Mirror the organisations of the rules and create the demo users (idempotent)."""
    with runtime.session() as session:
        sync_organisations(session=session, rules=runtime.rules)
        for username, name, role, organisation in DEMO_USERS:
            try:
                get_user(session=session, username=username)
            except NotFound:
                pass
            else:
                continue
            create_user(
                session=session,
                username=username,
                display_name=name,
                role=role,
                organisation_key=organisation,
                password=DEMO_PASSWORD,
            )


def has_participants(runtime: Runtime) -> bool:
    with runtime.session() as session:
        return session.exec(select(Participant.id)).first() is not None


def load_demo(
    runtime: Runtime,
    *,
    progress: Callable[[str], None] = print,
    timeout: float = 600,
    now: Callable[[], datetime] = utcnow,
) -> int:
    """Enroll the demo participants and walk each to its step; return how many were enrolled."""
    ensure_reference_data(runtime)
    targets: dict[int, DemoParticipant] = {}
    with runtime.session() as session:
        for person in DEMO_PARTICIPANTS:
            advisor = get_user(session=session, username=person.advisor)
            participant, _ = enroll_participant(
                session=session,
                rules=runtime.rules,
                data=ParticipantCreate(
                    first_name=person.first_name,
                    last_name=person.last_name,
                    gender=person.gender,
                    birth_year=person.birth_year,
                    municipality=person.municipality,
                ),
                advisor=advisor,
                now=now(),
                orchestrator=runtime.orchestrator,
            )
            targets[participant.id or 0] = person
    progress(f"{len(targets)} participants inscrits; avancement des parcours de démonstration...")
    deadline = time.monotonic() + timeout
    while targets and time.monotonic() < deadline:
        for participant_id, person in list(targets.items()):
            if _advance(runtime, participant_id, person, now()):
                del targets[participant_id]
        time.sleep(0.5)
    if targets:
        progress(f"{len(targets)} parcours n'ont pas atteint leur étape de démonstration à temps")
    return len(DEMO_PARTICIPANTS)


def _advance(runtime: Runtime, participant_id: int, person: DemoParticipant, now: datetime) -> bool:
    """Complete the participant's open step if its run waits on it; True once the target is met."""
    with runtime.session() as session:
        steps = list_steps(
            session=session, rules=runtime.rules, user=None, participant_id=participant_id
        )
        done = sum(step.status is StepStatus.COMPLETED for step in steps)
        open_steps = [step for step in steps if step.status is StepStatus.OPEN]
        if done >= person.steps_done:
            return bool(open_steps)
        if not open_steps or open_steps[0].flow_run_id is None:
            return False
        step = open_steps[0]
        state, key = runtime.orchestrator.run_state(open_steps[0].flow_run_id)
        if key != f"step-{step.id}" or state != "Suspended":
            return False
        complete_step(
            session=session,
            rules=runtime.rules,
            step_run_id=step.id,
            actor=get_user(session=session, username=person.advisor),
            data=demo_answers(step.step_key, now.date(), person.route),
            note="Donnée de démonstration.",
            now=now,
            orchestrator=runtime.orchestrator,
        )
    return False
