"""Demo data: the demo accounts and a dozen participants whose pathways wait at different steps.

Only demo mode creates any of it: `crealux up` on a fresh data directory, or `crealux demo`. The
organisations of the rules are mirrored in every mode (`sync_organisations`).

The participants are loaded through the same services as the dashboard, with no orchestrator:
each enrolment and decision is an event committed with its transition, so the whole demo loads
in a second or two and every pathway waits on its step at once. Their flow runs start afterwards
(the maintainer's reconciler starts them, or `start_flows` when Prefect is up) and catch up from
the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from crealux_core.clock import utcnow
from crealux_core.models import (
    Gender,
    Participant,
    ParticipantCreate,
    PathwayRun,
    Role,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.runtime import Runtime
from crealux_core.services import organisations
from crealux_core.services.delivery import start_flow
from crealux_core.services.events import current_step
from crealux_core.services.participants import enroll_participant
from crealux_core.services.plans import add_goal
from crealux_core.services.ports import Orchestrator
from crealux_core.services.steps import submit_decision
from crealux_core.services.users import create_user, get_user

DEMO_PASSWORD = "demo"

# username, display name, role, organisation, e-mail, caseload quota, speciality
DEMO_USERS = [
    (
        "conseillere",
        "Claire Lambert",
        Role.ADVISOR,
        "integra-plus",
        "claire.lambert@integraplus.example",
        25,
        "creation",
    ),
    (
        "conseiller",
        "Marc Jacquemin",
        Role.ADVISOR,
        "integra-plus",
        "marc.jacquemin@integraplus.example",
        25,
        "employment",
    ),
    (
        "coordination",
        "Anne Coordination",
        Role.COORDINATOR,
        "integra-plus",
        "coordination@integraplus.example",
        None,
        None,
    ),
    ("challenge", "Équipe Challenge", Role.PARTNER, "challenge", None, None, None),
    (
        "promsoc",
        "Secrétariat Promotion sociale",
        Role.PARTNER,
        "promotion-sociale-marche",
        None,
        None,
        None,
    ),
    ("trusquin", "Équipe Le Trusquin", Role.PARTNER, "le-trusquin", None, None, None),
    ("cpas", "Service social CPAS", Role.PARTNER, "cpas-durbuy", None, None, None),
    ("forem", "Conseil Forem", Role.PARTNER, "forem-marche", None, None, None),
]

# Who decides a partner's step in the demo: a member of the step's organisation.
PARTNER_OF_STEP = {
    "business_creation": "challenge",
    "training": "promsoc",
    "social_accompaniment": "cpas",
}


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
    DemoParticipant("Julie", "Renard", Gender.FEMALE, 1995, "Hotton", "conseiller", 1),
    DemoParticipant("Alex", "Marchal", Gender.NON_BINARY, 1992, "Érezée", "conseillere", 2),
    DemoParticipant("Nathalie", "Collard", Gender.FEMALE, 1971, "Barvaux", "conseillere", 2),
    DemoParticipant("Thomas", "Gérard", Gender.MALE, 1984, "Marche-en-Famenne", "conseiller", 2),
    DemoParticipant("Fatima", "El Amrani", Gender.FEMALE, 1990, "Durbuy", "conseillere", 3),
    DemoParticipant("Luc", "Hansen", Gender.MALE, 1966, "Hotton", "conseiller", 3),
    DemoParticipant("Marie", "Thiry", Gender.FEMALE, 1983, "Barvaux", "conseillere", 5, "creation"),
    DemoParticipant("David", "Lejeune", Gender.MALE, 1999, "Érezée", "conseillere", 4, "training"),
    DemoParticipant(
        "Céline", "Dewez", Gender.FEMALE, 1977, "Marche-en-Famenne", "conseiller", 4, "social"
    ),
    DemoParticipant("Jean", "Pirard", Gender.MALE, 1961, "Durbuy", "conseiller", 4, "employment"),
]

# Goals agreed at the assessment, for the demo participants who are past it.
DEMO_GOALS = {
    "creation": ["Finaliser mon plan d'affaires", "Trouver un local à Barvaux"],
    "training": ["Obtenir le permis B", "Terminer la formation d'auxiliaire"],
    "social": ["Apurer mes dettes avec le médiateur", "Trouver une garde pour mon fils"],
    "employment": ["Mettre mon CV à jour", "Décrocher un contrat avant l'été"],
}

# A demo pathway's steps were decided three days apart, the last one two days before the load,
# and it was enrolled three days before its first decision: its dates and deadlines look like a
# real one's, and no reminder is due when the demo starts.
DAYS_BETWEEN_DECISIONS = 3
LAST_DECISION_DAYS_AGO = 2


def decided_days_ago(steps_done: int, index: int) -> int:
    """Return how many days before the load the `index`-th of `steps_done` decisions was."""
    return LAST_DECISION_DAYS_AGO + DAYS_BETWEEN_DECISIONS * (steps_done - 1 - index)


def enrolled_days_ago(steps_done: int) -> int:
    return LAST_DECISION_DAYS_AGO + DAYS_BETWEEN_DECISIONS * steps_done


_EXPECTATIONS = {"training": "training", "employment": "employment"}


def demo_answers(step_key: str, today: date, route: str) -> dict[str, Any]:
    """Return plausible answers for a step of the CREALux pathway, decided on `today`.

    Dates are the day of the decision: not in the future, and after the enrolment.
    """
    self_evaluation = {
        "confidence": 2,
        "motivation": 4,
        "project_clarity": 3 if route == "creation" else 2,
        "main_need": "skills" if route == "training" else "confidence",
    }
    answers: dict[str, dict[str, Any]] = {
        "first_reception": {
            "meeting_on": today.isoformat(),
            "consent_given": True,
            "referred_by": "cpas",
            "expectation": _EXPECTATIONS.get(route, "creation"),
        },
        "self_evaluation_entry": self_evaluation,
        "self_evaluation_mid": self_evaluation,
        "self_evaluation_end": {**self_evaluation, "confidence": 4, "project_clarity": 4},
        "socio_professional_assessment": {
            "assessed_on": today.isoformat(),
            "labour_status": "long_term_unemployed",
            "education_level": "isced_0_2" if route == "training" else "isced_3_4",
            "has_qualification": route != "training",
            "barrier_housing": False,
            "barrier_health": False,
            "barrier_mobility": True,
            "barrier_childcare": False,
            "barrier_debt": route == "social",
            "project_maturity": "outline" if route == "creation" else "none",
            "disability": "no",
            "foreign_background": "undisclosed" if route == "social" else "no",
            "third_country_national": "no",
            "minority": "undisclosed",
            "homeless": "no",
            "rural_area": "yes",
        },
        "orientation": {"decided_on": today.isoformat(), "route": route},
        "business_creation": {
            "joined_village": True,
            "business_plan_ready": True,
            "status": "complementary",
            "started_on": today.isoformat(),
            "sector": "crafts",
            "company_number": "0403.170.701",
        },
        "social_accompaniment": {"barriers_lifted": True, "sessions": 6},
        "training": {
            "training_kind": "qualifying",
            "completed": True,
            "hours": 320,
            "qualification_obtained": True,
        },
        "job_search": {
            "employed": True,
            "contract": "fixed_term",
            "contract_starts_on": today.isoformat(),
        },
        "exit": {"left_on": today.isoformat(), "reason": "goal_reached", "situation": "employed"},
        "leaving_result": {"situation": "employed", "qualification_gained": route == "training"},
        "six_month_result": {"situation": "employed", "improved": True},
    }
    for checkpoint in ("post_creation_3m", "post_creation_6m", "post_creation_12m"):
        answers[checkpoint] = {
            "still_active": True,
            "income_from_activity": True,
            "support_needed": False,
        }
    return answers[step_key]


def sync_organisations(runtime: Runtime) -> int:
    """Mirror the organisations of the rules into the database (every mode; idempotent)."""
    with runtime.session() as session:
        return organisations.sync_organisations(session=session, rules=runtime.rules)


def create_demo_users(runtime: Runtime) -> list[str]:
    """Create the demo accounts (password `demo`) that do not exist yet; return their names.

    An existing account is left as it is: a coordinator created by `crealux init` keeps its
    password. Demo mode only.
    """
    created: list[str] = []
    with runtime.session() as session:
        for username, name, role, organisation, email, quota, speciality in DEMO_USERS:
            if session.exec(select(User.id).where(User.username == username)).first():
                continue
            user = create_user(
                session=session,
                username=username,
                display_name=name,
                role=role,
                organisation_key=organisation,
                password=DEMO_PASSWORD,
            )
            user.email, user.caseload_quota, user.speciality = email, quota, speciality
            session.add(user)
            session.commit()
            created.append(username)
    return created


def ensure_reference_data(runtime: Runtime) -> None:
    """Mirror the organisations and create the demo users (idempotent): what tests start from."""
    sync_organisations(runtime)
    create_demo_users(runtime)


def has_participants(runtime: Runtime) -> bool:
    with runtime.session() as session:
        return session.exec(select(Participant.id)).first() is not None


def is_fresh(runtime: Runtime) -> bool:
    """True if nobody has used this instance yet: no participant and no account.

    An instance set up with `crealux init` has its coordinator, so it never gets demo accounts
    from `crealux up`.
    """
    with runtime.session() as session:
        return (
            session.exec(select(Participant.id)).first() is None
            and session.exec(select(User.id)).first() is None
        )


def load_demo(
    runtime: Runtime,
    *,
    progress: Callable[[str], None] = print,
    now: Callable[[], datetime] = utcnow,
) -> list[int]:
    """Create the demo accounts, enroll the demo participants and decide the steps each has done.

    Nothing waits on Prefect: the pathways are committed with their current step open, and their
    flow runs start later (`start_flows`, or the reconciler). Return the pathway run ids.
    """
    create_demo_users(runtime)
    moment = now()
    pathway_run_ids: list[int] = []
    for person in DEMO_PARTICIPANTS:
        pathway_run_ids.append(_walk(runtime, person, moment))
    progress(f"{len(pathway_run_ids)} participants de démonstration inscrits, chacun à son étape")
    actions, structures = load_demo_outreach(runtime, moment)
    progress(f"{actions} actions de sensibilisation et {structures} structures sensibilisées")
    sent = load_demo_referrals(
        runtime, moment, dict(zip(DEMO_PARTICIPANTS, pathway_run_ids, strict=True))
    )
    progress(f"{sent} orientation(s) vers un partenaire en attente de réponse")
    enrolled = load_demo_training(runtime, moment)
    progress(f"une session de formation en cours, {enrolled} participant(s) inscrit(s)")
    return pathway_run_ids


def load_demo_training(runtime: Runtime, moment: datetime) -> int:
    """Open a session of « Auxiliaire polyvalente » at the Promotion sociale, a week old, and
    enrol the demo participants who are on their training step; return how many."""
    from crealux_core.services.training import create_session, enrol

    with runtime.session() as session:
        coordinator = get_user(session=session, username="coordination")
        start = (moment - timedelta(days=7)).date()
        view = create_session(
            session=session,
            rules=runtime.rules,
            user=coordinator,
            organisation_key="promotion-sociale-marche",
            offer_key="care-auxiliary",
            starts_on=start,
            ends_on=start + timedelta(days=60),
            capacity=12,
            place="Marche-en-Famenne, rue des Écoles 5",
            now=moment - timedelta(days=8),
        )
        on_training = session.exec(
            select(Participant.id)
            .join(PathwayRun, col(PathwayRun.participant_id) == col(Participant.id))
            .join(StepRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
            .where(StepRun.step_key == "training", StepRun.status == StepStatus.OPEN)
        ).all()
        for participant_id in on_training:
            enrol(
                session=session,
                rules=runtime.rules,
                user=coordinator,
                training_session_id=view.id,
                participant_id=participant_id or 0,
                now=moment - timedelta(days=8),
                dashboard_url=runtime.settings.dashboard_url,
            )
    return len(on_training)


# Referrals: one sent to the Forem's job club, waiting for its answer; one step still to refer.
DEMO_REFERRALS = {
    "Jean": ("forem-marche/job-club", "Cherche un emploi de magasinier ; a besoin d'un CV à jour."),
    "Fatima": None,  # « À orienter »: the advisor chooses on the page « Orientations »
}


def load_demo_referrals(
    runtime: Runtime, moment: datetime, runs: dict[DemoParticipant, int]
) -> int:
    """Add the referral step to the demo participants of DEMO_REFERRALS and send what is to
    be sent; return how many referrals were sent."""
    from crealux_core.services.plans import add_optional_step
    from crealux_core.services.referrals import refer

    sent = 0
    dashboard_url = runtime.settings.dashboard_url
    with runtime.session() as session:
        for person, pathway_run_id in runs.items():
            if person.first_name not in DEMO_REFERRALS:
                continue
            advisor = get_user(session=session, username=person.advisor)
            add_optional_step(
                session=session,
                rules=runtime.rules,
                user=advisor,
                pathway_run_id=pathway_run_id,
                step_key="partner_referral",
                note="Donnée de démonstration.",
                now=moment - timedelta(days=1),
                orchestrator=None,
                dashboard_url=dashboard_url,
            )
            what = DEMO_REFERRALS[person.first_name]
            if what is None:
                continue
            step = session.exec(
                select(StepRun).where(
                    StepRun.pathway_run_id == pathway_run_id,
                    StepRun.step_key == "partner_referral",
                )
            ).one()
            offer, reason = what
            refer(
                session=session,
                rules=runtime.rules,
                step_run_id=step.id or 0,
                actor=advisor,
                offer=offer,
                reason=reason,
                now=moment - timedelta(days=1),
                orchestrator=None,
                dashboard_url=dashboard_url,
            )
            sent += 1
    return sent


# Outreach before anyone enrols (days before the load): information sessions, the fair, a school
# visit, training information, prospective workshops; and structures sensitised, one of them
# twice (it counts once).
DEMO_OUTREACH: list[dict[str, Any]] = [
    {
        "category": "candidates",
        "kind": "information_session",
        "days_ago": 60,
        "title": "Séance d'information « Créer son emploi »",
        "organiser": "integra-plus",
        "municipality": "Durbuy",
        "people_reached": 18,
        "became_candidates": 6,
        "hours": 2,
    },
    {
        "category": "candidates",
        "kind": "fair",
        "days_ago": 45,
        "title": "Salon du parcours du créateur",
        "organiser": "challenge",
        "municipality": "Marche-en-Famenne",
        "people_reached": 64,
        "became_candidates": 9,
        "hours": 7,
    },
    {
        "category": "candidates",
        "kind": "school_visit",
        "days_ago": 30,
        "title": "Visite de l'Institut Saint-Roch (rhétos)",
        "organiser": "integra-plus",
        "municipality": "Marche-en-Famenne",
        "people_reached": 26,
        "became_candidates": 1,
        "hours": 2,
    },
    {
        "category": "training",
        "kind": "information_session",
        "days_ago": 40,
        "title": "Les formations aide-ménagère et ouvrier environnementaliste",
        "organiser": "promotion-sociale-marche",
        "municipality": "Marche-en-Famenne",
        "people_reached": 22,
        "hours": 2,
    },
    {
        "category": "training",
        "kind": "information_session",
        "days_ago": 12,
        "title": "Village des créateurs : présentation des modules",
        "organiser": "challenge",
        "municipality": "Hotton",
        "people_reached": 15,
        "hours": 1.5,
    },
    {
        "category": "prospective",
        "kind": "workshop",
        "days_ago": 50,
        "title": "Économie et emploi en milieu rural",
        "organiser": "integra-plus",
        "municipality": "Érezée",
        "people_reached": 21,
        "hours": 3,
        "outputs": "Pistes : circuits courts, services aux personnes âgées, éco-construction.",
    },
    {
        "category": "prospective",
        "kind": "workshop",
        "days_ago": 20,
        "title": "Secteur environnement : métiers émergents",
        "organiser": "le-trusquin",
        "municipality": "Durbuy",
        "people_reached": 14,
        "hours": 3,
        "outputs": "Un module « ouvrier environnementaliste » à ouvrir au printemps.",
    },
]
DEMO_STRUCTURES: list[dict[str, Any]] = [
    {
        "name": "CPAS de Durbuy",
        "kind": "first_line",
        "days_ago": 70,
        "by": "integra-plus",
        "municipality": "Durbuy",
    },
    {
        "name": "CPAS de Hotton",
        "kind": "first_line",
        "days_ago": 55,
        "by": "integra-plus",
        "municipality": "Hotton",
    },
    {
        "name": "Maison de l'emploi de Marche",
        "kind": "first_line",
        "days_ago": 48,
        "by": "integra-plus",
        "municipality": "Marche-en-Famenne",
    },
    {
        "name": "cpas de  DURBUY",
        "kind": "first_line",
        "days_ago": 15,
        "by": "challenge",
        "municipality": "Durbuy",
    },
    {
        "name": "Guichet d'entreprises UCM Marche",
        "kind": "professional",
        "days_ago": 44,
        "by": "challenge",
        "municipality": "Marche-en-Famenne",
    },
    {
        "name": "Agence de développement local Érezée",
        "kind": "professional",
        "days_ago": 25,
        "by": "integra-plus",
        "municipality": "Érezée",
    },
]


def load_demo_outreach(runtime: Runtime, moment: datetime) -> tuple[int, int]:
    """Record the demo's outreach actions and structures sensitised (keyed: once)."""
    from crealux_core.services.outreach import (
        AlreadyRecorded,
        record_outreach,
        record_structure,
    )

    actions = structures = 0
    with runtime.session() as session:
        coordinator = get_user(session=session, username="coordination")
        for number, action in enumerate(DEMO_OUTREACH, start=1):
            data = {k: v for k, v in action.items() if k != "days_ago"}
            data["held_on"] = (moment - timedelta(days=action["days_ago"])).date()
            try:
                record_outreach(
                    session=session,
                    user=coordinator,
                    data=data | {"source_key": f"demo:outreach:{number}"},
                    now=moment,
                )
                actions += 1
            except AlreadyRecorded:
                session.rollback()
        for number, structure in enumerate(DEMO_STRUCTURES, start=1):
            try:
                record_structure(
                    session=session,
                    user=coordinator,
                    data={
                        "name": structure["name"],
                        "kind": structure["kind"],
                        "sensitised_on": (moment - timedelta(days=structure["days_ago"])).date(),
                        "by_organisation": structure["by"],
                        "municipality": structure["municipality"],
                        "source_key": f"demo:structure:{number}",
                    },
                    now=moment,
                )
                structures += 1
            except AlreadyRecorded:
                session.rollback()
    return actions, structures


def _walk(runtime: Runtime, person: DemoParticipant, moment: datetime) -> int:
    """Enroll one demo participant and decide their first `steps_done` steps; return the run id."""
    dashboard_url = runtime.settings.dashboard_url
    with runtime.session() as session:
        advisor = get_user(session=session, username=person.advisor)
        _, run = enroll_participant(
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
            now=moment - timedelta(days=enrolled_days_ago(person.steps_done)),
            orchestrator=None,
            dashboard_url=dashboard_url,
        )
        pathway_run_id = run.id or 0
        for index in range(person.steps_done):
            step = current_step(session, pathway_run_id)
            if step is None:
                raise RuntimeError(f"demo pathway {pathway_run_id} ended early")
            decided_at = moment - timedelta(days=decided_days_ago(person.steps_done, index))
            partner = PARTNER_OF_STEP.get(step.step_key)
            submit_decision(
                session=session,
                rules=runtime.rules,
                step_run_id=step.id or 0,
                actor=get_user(session=session, username=partner) if partner else advisor,
                data=demo_answers(step.step_key, decided_at.date(), person.route),
                note="Donnée de démonstration.",
                now=decided_at,
                orchestrator=None,
                dashboard_url=dashboard_url,
            )
            if step.step_key == "socio_professional_assessment":
                for label in DEMO_GOALS[person.route]:
                    add_goal(
                        session=session,
                        user=advisor,
                        pathway_run_id=pathway_run_id,
                        data={"label": label},
                        now=decided_at,
                    )
    return pathway_run_id


def start_flows(
    runtime: Runtime, pathway_run_ids: Iterable[int], orchestrator: Orchestrator
) -> int:
    """Start the flow run of each pathway, without waiting for it; return how many started.

    Stops at the first failure (Prefect down, or no runner yet): the reconciler starts the rest.
    """
    started = 0
    with runtime.session() as session:
        for pathway_run_id in pathway_run_ids:
            if start_flow(
                session=session, pathway_run_id=pathway_run_id, orchestrator=orchestrator
            ):
                started += 1
            else:
                break
    return started
