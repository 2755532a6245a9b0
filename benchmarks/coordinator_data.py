"""The coordinator's data at scale: participants with their pathways, steps, events and facts,
bulk-inserted with SQLAlchemy core inserts (the shape the services write, at the speed a
benchmark needs).

Not a benchmark itself: benchmarks/indicators.py and benchmarks/coordinator_paint.py build their
databases with `build()`.

Each participant enters on a day between `since` and `now`, with an advisor of one of about thirty
partner organisations (the five of the rules and partners of our own), a gender (48 % women,
46 % men, 2 % another gender, 4 % not stated), a municipality of the territory, and an entry
situation (labour status, ISCED level, age at entry, the disadvantaged situations with
« préfère ne pas répondre »). Their pathway (rules/pathways/crealux.yaml, newest version) walks
the common steps, the route the orientation decided (creation 30 %, training 25 %, employment
25 %, social 15 %, exit 5 %; one in eight drops out on the way), then the exit and its ESF+
follow-ups, each step taking a drawn number of days; the step reached at `now` is its current
one (open, or scheduled for a date to come). One participant in ten who left comes back: a
second stay and a second pathway (counted once by the report).

Every closed step has its decision event, every scheduled step that opened its `opened` event;
comments make up the rest, up to `events` in all. The facts are what those decisions record:
stays, the entry situation, exit situations (on leaving; six months later once that step is
done), businesses (principal, complementary, not started), trainings, placements, and the
orientation decisions; plus outreach actions and structures sensitised (a structure sensitised
again counts once).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from crealux_core.models import (
    EventKind,
    Gender,
    OutreachCategory,
    OutreachKind,
    PathwayStatus,
    StepStatus,
    StructureKind,
)
from crealux_core.rules.specs import OrganisationKind

CHUNK_PARTICIPANTS = 2_000
EXTRA_ORGANISATIONS = 25
ADVISORS_PER_1000 = 2  # 200 advisors for 100,000 participants, at least 20

MUNICIPALITIES = (
    "Durbuy", "Marche-en-Famenne", "Hotton", "Érezée", "Rendeux", "La Roche-en-Ardenne",
    "Manhay", "Somme-Leuze", "Nassogne", "Tenneville", "Houffalize", "Bastogne", "Vielsalm",
    "Gouvy", "Libramont-Chevigny", "Saint-Hubert", "Rochefort", "Bertrix", "Neufchâteau",
    "Arlon", "Virton", "Florenville", "Bouillon", "Paliseul", "Wellin", "Tellin", "Daverdisse",
    "Léglise", "Habay", "Étalle",
)  # fmt: skip
FIRST_NAMES = ("Anne", "Marc", "Sophie", "Karim", "Léa", "Thomas", "Fatima", "Luc", "Julie", "Alex")
SECTORS = (
    "agriculture", "crafts", "construction", "retail", "hospitality", "personal_services",
    "business_services", "culture", "transport", "other",
)  # fmt: skip
TRAINING_KINDS = ("social", "pre_qualifying", "qualifying")  # the training step's choices
CONTRACTS = ("permanent", "fixed_term", "interim", "work_integration")
EXIT_REASONS_DONE = ("goal_reached", "employment_found", "business_started", "training_started")
EXIT_REASONS_DROPPED = ("moved_away", "health", "stopped", "no_contact", "other")
COMMON = (
    "first_reception",
    "self_evaluation_entry",
    "socio_professional_assessment",
    "orientation",
)
ROUTE_STEPS = {
    "creation": ("business_creation", "post_creation_3m", "post_creation_6m", "post_creation_12m"),
    "training": ("training", "job_search"),
    "employment": ("job_search",),
    "social": ("social_accompaniment", "job_search"),
    "exit": (),
}
ROUTE_WEIGHTS = {"creation": 30, "training": 25, "employment": 25, "social": 15, "exit": 5}
DAYS = {  # how long a step takes (drawn between the two)
    "training": (60, 150),
    "job_search": (30, 120),
    "business_creation": (45, 120),
    "social_accompaniment": (30, 90),
    "leaving_result": (5, 28),
    "six_month_result": (3, 25),
}
DUE = {"training": 120, "job_search": 120, "business_creation": 90, "social_accompaniment": 90}
CHECKPOINT_MONTHS = {"post_creation_3m": 3, "post_creation_6m": 6, "post_creation_12m": 12}
STRUCTURES = 600  # distinct structures that may be sensitised (each maybe several times)


def add_months(day: date, months: int) -> date:
    """Return the same day `months` later, the month's end clamped (31 January -> 28 February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError(day)


def at_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class Rows:
    """Rows waiting to be inserted, by table name, and the next id of each table."""

    next_id: dict[str, int]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> int:
        row_id = self.next_id[table]
        self.next_id[table] = row_id + 1
        self.tables.setdefault(table, []).append({"id": row_id, **row})
        return row_id

    def count(self) -> int:
        return sum(len(rows) for rows in self.tables.values())


@dataclass(frozen=True)
class Context:
    now: datetime
    since: date
    pathway_key: str
    pathway_version: int
    digest: str
    organisations: dict[str, int]  # key -> id
    advisors: list[tuple[int, int, str]]  # (user id, organisation id, organisation key)
    step_roles: dict[str, str]  # step key -> "advisor" or "partner"
    step_orgs: dict[str, int]  # step key -> organisation id


@dataclass
class Counts:
    participants: int = 0
    pathways: int = 0
    reentries: int = 0
    steps: int = 0
    events: int = 0
    stays: int = 0
    entries: int = 0
    exits_leaving: int = 0
    exits_six_months: int = 0
    businesses: int = 0
    trainings: int = 0
    placements: int = 0
    outreach_actions: int = 0
    structures_sensitised: int = 0
    active_pathways: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# -- one stay: a pathway walked from its start to `now` ------------------------------------------


@dataclass
class Stay:
    """What a stay's pathway did up to now: its facts, and whether it has ended."""

    started_on: date
    left_on: date | None = None
    route: str = ""
    active: bool = True


def _decide(
    rows: Rows,
    ctx: Context,
    run_id: int,
    step_id: int,
    actor: int | None,
    at: datetime,
    **data: Any,
) -> int:
    return rows.add(
        "pathway_event",
        {
            "pathway_run_id": run_id,
            "step_run_id": step_id,
            "kind": EventKind.DECISION,
            "actor_id": actor,
            "payload": data,
            "occurred_at": at,
            "recorded_at": at,
        },
    )


def _walk(
    rows: Rows,
    rng: random.Random,
    ctx: Context,
    counts: Counts,
    *,
    participant_id: int,
    advisor: tuple[int, int, str],
    started_on: date,
    first: bool,
    entry: dict[str, Any],
) -> Stay:
    """Insert a pathway run from `started_on`, its steps and decisions up to now, and the facts
    those decisions record; return the stay."""
    now = ctx.now
    today = now.date()
    advisor_id, advisor_org, _ = advisor
    route = pick(rng, ROUTE_WEIGHTS)
    dropout_at = rng.randrange(2, 8) if rng.random() < 0.12 else None
    plan = [*COMMON, *ROUTE_STEPS[route], "self_evaluation_end", "exit", "leaving_result"]
    plan.append("six_month_result")
    run_id = rows.add(
        "pathway_run",
        {
            "participant_id": participant_id,
            "pathway_key": ctx.pathway_key,
            "pathway_version": ctx.pathway_version,
            "definition_digest": ctx.digest,
            "status": PathwayStatus.ACTIVE,
            "started_at": at_noon(started_on),
            "generation": 0,
            "heal_attempts": 0,
            "flow_run_id": f"{rng.getrandbits(128):032x}",
        },
    )
    run = rows.tables["pathway_run"][-1]
    counts.pathways += 1
    stay = Stay(started_on=started_on, route=route)
    stay_id = rows.add(
        "fact_stay",
        {
            "participant_id": participant_id,
            "pathway_run_id": run_id,
            "organisation_id": advisor_org,
            "started_on": started_on,
            "ended_on": None,
        },
    )
    counts.stays += 1
    if first:
        rows.add(
            "fact_entry",
            {"participant_id": participant_id, "pathway_run_id": run_id, **entry},
        )
        counts.entries += 1
    day, last_event, seq = started_on, None, 0
    business_start: date | None = None
    leaving: dict[str, Any] | None = None
    index = 0
    while index < len(plan):
        key = plan[index]
        index += 1
        seq += 1
        opens_on: date | None = None
        if key in CHECKPOINT_MONTHS and business_start is not None:
            opens_on = add_months(business_start, CHECKPOINT_MONTHS[key])
        elif key == "six_month_result" and stay.left_on is not None:
            opens_on = add_months(stay.left_on, 6)
        reached = day
        opened = max(day, opens_on) if opens_on else day
        low, high = DAYS.get(key, (3, 35))
        closes = opened + timedelta(days=rng.randint(low, high))
        partner = ctx.step_roles.get(key) == "partner"
        step = {
            "pathway_run_id": run_id,
            "seq": seq,
            "step_key": key,
            "reached_at": at_noon(reached),
            "opens_at": at_noon(opens_on) if opens_on else None,
            "opened_at": at_noon(opened) if opened <= today else None,
            "assignee_id": None if partner else advisor_id,
            "organisation_id": ctx.step_orgs[key],
            "optional": False,
            "due_at": None,
            "closed_at": None,
        }
        if opened > today:  # waits for its date: a post-creation checkpoint, six months after
            step_id = rows.add("step_run", {**step, "status": StepStatus.SCHEDULED})
            counts.steps += 1
            break
        step["due_at"] = at_noon(opened + timedelta(days=DUE.get(key, 14)))
        status = StepStatus.OPEN if closes > today else StepStatus.COMPLETED
        step_id = rows.add(
            "step_run",
            {**step, "status": status, "closed_at": None if closes > today else at_noon(closes)},
        )
        counts.steps += 1
        if opens_on is not None:  # a scheduled step that reached its date
            last_event = rows.add(
                "pathway_event",
                {
                    "pathway_run_id": run_id,
                    "step_run_id": step_id,
                    "kind": EventKind.OPENED,
                    "actor_id": None,
                    "payload": {},
                    "occurred_at": at_noon(opened),
                    "recorded_at": at_noon(opened),
                },
            )
        if status is StepStatus.OPEN:  # the step it is on now
            break
        actor = None if partner else advisor_id
        answers: dict[str, Any] = {"done": True}
        day = closes
        if key == "orientation":
            answers = {"decided_on": closes.isoformat(), "route": route}
        elif (
            dropout_at is not None and seq >= dropout_at and stay.left_on is None and key != "exit"
        ):
            plan[index:] = ["exit", "leaving_result", "six_month_result"]
            dropout_at = None
        elif key == "business_creation":
            business_status = pick(rng, {"principal": 45, "complementary": 30, "not_started": 25})
            business_start = closes - timedelta(days=rng.randint(0, 20))
            answers = {"status": business_status}
            rows.add(
                "fact_business",
                {
                    "participant_id": participant_id,
                    "step_run_id": step_id,
                    "organisation_id": ctx.step_orgs[key],
                    "status": business_status,
                    "started_on": business_start if business_status != "not_started" else None,
                    "sector": rng.choice(SECTORS),
                    "company_number": f"0{rng.randrange(10**8, 10**9)}"
                    if business_status != "not_started"
                    else None,
                },
            )
            counts.businesses += 1
            if business_status == "not_started":  # no checkpoints: on to the end
                plan[index:] = ["self_evaluation_end", "exit", "leaving_result"]
                plan.append("six_month_result")
        elif key == "training":
            completed = rng.random() < 0.8
            rows.add(
                "fact_training",
                {
                    "participant_id": participant_id,
                    "step_run_id": step_id,
                    "organisation_id": ctx.step_orgs[key],
                    "kind": rng.choice(TRAINING_KINDS),
                    "completed": completed,
                    "qualification": completed and rng.random() < 0.6,
                    "hours": rng.randrange(20, 400),
                    "ended_on": closes,
                },
            )
            counts.trainings += 1
        elif key == "job_search":
            employed = rng.random() < 0.55
            rows.add(
                "fact_placement",
                {
                    "participant_id": participant_id,
                    "step_run_id": step_id,
                    "organisation_id": ctx.step_orgs[key],
                    "employed": employed,
                    "contract": rng.choice(CONTRACTS) if employed else None,
                    "started_on": closes if employed else None,
                    "sector": rng.choice(SECTORS) if employed else None,
                },
            )
            counts.placements += 1
        elif key == "exit":
            stay.left_on = closes
            situation = pick(
                rng,
                {
                    "employed": 25,
                    "self_employed": 20 if route == "creation" else 3,
                    "in_training": 12,
                    "job_seeking": 30,
                    "inactive": 8,
                    "lost_to_follow_up": 5,
                },
            )
            leaving = {
                "participant_id": participant_id,
                "stay_id": stay_id,
                "moment": "leaving",
                "left_on": closes,
                "reason": rng.choice(
                    EXIT_REASONS_DONE if seq > 6 and rng.random() < 0.7 else EXIT_REASONS_DROPPED
                ),
                "situation": situation,
                "qualification_gained": None,
                "improved": None,
            }
            rows.add("fact_exit", leaving)
            counts.exits_leaving += 1
            rows.tables["fact_stay"][-1]["ended_on"] = closes
            answers = {"left_on": closes.isoformat(), "situation": situation}
        elif key == "leaving_result" and leaving is not None:
            row = rows.tables["fact_exit"][-1]
            row["qualification_gained"] = rng.random() < 0.3
            answers = {"qualification_gained": row["qualification_gained"]}
        elif key == "six_month_result" and stay.left_on is not None:
            situation = pick(
                rng,
                {"employed": 35, "self_employed": 10, "in_training": 8, "job_seeking": 35},
            )
            rows.add(
                "fact_exit",
                {
                    "participant_id": participant_id,
                    "stay_id": stay_id,
                    "moment": "six_months",
                    "left_on": stay.left_on,
                    "reason": None,
                    "situation": situation,
                    "qualification_gained": None,
                    "improved": situation in ("employed", "self_employed") or rng.random() < 0.2,
                },
            )
            counts.exits_six_months += 1
        last_event = _decide(rows, ctx, run_id, step_id, actor, at_noon(closes), **answers)
        if key == "orientation":
            rows.add(
                "orientation_advice",
                {
                    "step_run_id": step_id,
                    "event_id": last_event,
                    "advised_route": route if rng.random() < 0.7 else rng.choice(list(ROUTE_STEPS)),
                    "advice_rule": None,
                    "decided_route": route,
                    "decided_at": at_noon(closes),
                },
            )
    else:  # every step done: the pathway is over
        stay.active = False
        run.update(
            status=PathwayStatus.COMPLETED, completed_at=at_noon(day), end_reason="completed"
        )
    if stay.active:
        counts.active_pathways += 1
    run["last_event_id"] = last_event
    run["acked_event_id"] = last_event
    return stay


# -- the participants, a chunk at a time ----------------------------------------------------------


def _entry(rng: random.Random, entered_on: date) -> dict[str, Any]:
    def disclosed(yes: float) -> str:
        draw = rng.random()
        return "yes" if draw < yes else "undisclosed" if draw < yes + 0.08 else "no"

    age = int(min(67, max(16, rng.gauss(36, 11))))
    return {
        "entered_on": entered_on,
        "age_at_entry": age,
        "labour_status": pick(
            rng, {"long_term_unemployed": 30, "unemployed": 35, "inactive": 20, "employed": 15}
        ),
        "education_level": pick(rng, {"isced_0_2": 35, "isced_3_4": 45, "isced_5_8": 20}),
        "disability": disclosed(0.08),
        "foreign_background": disclosed(0.2),
        "third_country_national": disclosed(0.06),
        "minority": disclosed(0.03),
        "homeless": disclosed(0.02),
        "rural_area": disclosed(0.7),
    }


def _participant(rows: Rows, rng: random.Random, ctx: Context, counts: Counts, n: int) -> None:
    span = (ctx.now.date() - ctx.since).days
    started_on = ctx.since + timedelta(days=rng.randrange(span))
    advisor = ctx.advisors[n % len(ctx.advisors)]
    gender = Gender(pick(rng, {"female": 48, "male": 46, "non_binary": 2, "undisclosed": 4}))
    entry = _entry(rng, started_on)
    participant_id = rows.add(
        "participant",
        {
            "first_name": FIRST_NAMES[n % len(FIRST_NAMES)],
            "last_name": f"Essai {n}",
            "gender": gender,
            "birth_year": started_on.year - entry["age_at_entry"],
            "municipality": rng.choice(MUNICIPALITIES) if rng.random() < 0.97 else None,
            "advisor_id": advisor[0],
            "enrolled_at": at_noon(started_on),
        },
    )
    counts.participants += 1
    stay = _walk(
        rows,
        rng,
        ctx,
        counts,
        participant_id=participant_id,
        advisor=advisor,
        started_on=started_on,
        first=True,
        entry=entry,
    )
    if stay.left_on is not None and rng.random() < 0.1:  # comes back
        again = stay.left_on + timedelta(days=rng.randint(30, 120))
        if again < ctx.now.date():
            _walk(
                rows,
                rng,
                ctx,
                counts,
                participant_id=participant_id,
                advisor=advisor,
                started_on=again,
                first=False,
                entry={},
            )
            counts.reentries += 1


def _comments(rows: Rows, rng: random.Random, ctx: Context, how_many: int) -> None:
    """Comments on the chunk's pathways, on days between each one's start and now."""
    runs = rows.tables.get("pathway_run", [])
    for _ in range(how_many):
        run = rng.choice(runs)
        started = run["started_at"]
        at = started + (ctx.now - started) * rng.random()
        rows.add(
            "pathway_event",
            {
                "pathway_run_id": run["id"],
                "step_run_id": None,
                "kind": EventKind.COMMENT,
                "actor_id": None,
                "payload": {},
                "note": "Appel de suivi.",
                "occurred_at": at,
                "recorded_at": at,
            },
        )


def _outreach(rows: Rows, rng: random.Random, ctx: Context, counts: Counts, n: int) -> None:
    """About one outreach action per 50 participants and one structure sensitised per 60."""
    span = (ctx.now.date() - ctx.since).days
    organisations = list(ctx.organisations.values())
    for _ in range(max(1, n // 50)):
        category = OutreachCategory(
            pick(rng, {"candidates": 60, "training": 30, "prospective": 10})
        )
        reached = rng.randrange(5, 120)
        rows.add(
            "outreach_action",
            {
                "category": category,
                "kind": rng.choice(list(OutreachKind)),
                "held_on": ctx.since + timedelta(days=rng.randrange(span)),
                "title": "Séance d'information",
                "organiser_id": rng.choice(organisations),
                "municipality": rng.choice(MUNICIPALITIES),
                "people_reached": reached,
                "became_candidates": rng.randrange(0, reached // 3 + 1),
                "hours": rng.choice((1.0, 2.0, 3.0)),
                "outputs": "Pistes d'activité"
                if category is OutreachCategory.PROSPECTIVE
                else None,
                "recorded_at": ctx.now,
            },
        )
        counts.outreach_actions += 1
    for _ in range(max(1, n // 60)):
        number = rng.randrange(STRUCTURES)
        rows.add(
            "structure_sensitisation",
            {
                "structure_key": f"structure {number}",
                "structure_name": f"Structure {number}",
                "structure_kind": StructureKind.FIRST_LINE
                if number % 2
                else StructureKind.PROFESSIONAL,
                "municipality": MUNICIPALITIES[number % len(MUNICIPALITIES)],
                "sensitised_on": ctx.since + timedelta(days=rng.randrange(span)),
                "by_organisation_id": rng.choice(organisations),
                "recorded_at": ctx.now,
            },
        )
        counts.structures_sensitised += 1


INSERT_ORDER = (
    "participant",
    "pathway_run",
    "step_run",
    "pathway_event",
    "orientation_advice",
    "fact_stay",
    "fact_entry",
    "fact_exit",
    "fact_business",
    "fact_training",
    "fact_placement",
    "outreach_action",
    "structure_sensitisation",
)


def _chunks(participants: int) -> Iterator[range]:
    for start in range(0, participants, CHUNK_PARTICIPANTS):
        yield range(start, min(participants, start + CHUNK_PARTICIPANTS))


def _flush(connection: Any, tables: dict[str, Any], rows: Rows) -> None:
    from sqlalchemy import insert

    for name in INSERT_ORDER:
        batch = rows.tables.pop(name, [])
        columns = {key: None for row in batch for key in row}  # one executemany: same keys
        if any(len(row) != len(columns) for row in batch):
            batch = [columns | row for row in batch]
        for start in range(0, len(batch), 10_000):
            connection.execute(insert(tables[name]), batch[start : start + 10_000])


def _setup(runtime: Any, *, participants: int, now: datetime, since: date) -> Context:
    """Organisations, advisors and the pathway's definition; return what the rows refer to."""
    from sqlalchemy import insert
    from sqlmodel import select

    from crealux.demo import ensure_reference_data
    from crealux_core.models import Organisation, Role, User
    from crealux_core.services.definitions import register_definitions

    ensure_reference_data(runtime)
    rules = runtime.rules
    pathway = rules.pathway()
    with runtime.session() as session:
        register_definitions(session=session, rules=rules, now=now)
        known = {o.key: o.id for o in session.exec(select(Organisation)).all()}
        first_user = 1 + max(u.id or 0 for u in session.exec(select(User)).all())
    kinds = [k for k in OrganisationKind if k is not OrganisationKind.COORDINATOR]
    with runtime.engine.begin() as connection:
        first_org = 1 + max(known.values())
        extra = [
            {
                "id": first_org + n,
                "key": f"bench-partner-{n:02d}",
                "name": f"Partenaire {n:02d}",
                "kind": kinds[n % len(kinds)],
            }
            for n in range(EXTRA_ORGANISATIONS)
        ]
        connection.execute(insert(Organisation.__table__), extra)  # type: ignore[attr-defined]
        organisations = known | {row["key"]: row["id"] for row in extra}
        count = max(20, participants * ADVISORS_PER_1000 // 1000)
        keys = list(organisations)
        advisors = []
        for n in range(count):  # half at the coordinating organisation, half at the partners
            key = "integra-plus" if n % 2 == 0 else keys[n % len(keys)]
            advisors.append((first_user + n, organisations[key], key))
        connection.execute(
            insert(User.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": user_id,
                    "username": f"bench-advisor-{n}",
                    "display_name": f"Conseiller·ère {n}",
                    "role": Role.ADVISOR,
                    "organisation_id": org_id,
                    "password_hash": "-",
                    "active": True,
                }
                for n, (user_id, org_id, _) in enumerate(advisors)
            ],
        )
    steps = {**pathway.steps, **pathway.optional}
    return Context(
        now=now,
        since=since,
        pathway_key=pathway.key,
        pathway_version=pathway.version,
        digest=pathway.digest(),
        organisations=organisations,
        advisors=advisors,
        step_roles={key: str(step.role) for key, step in steps.items()},
        step_orgs={key: organisations[step.concerns] for key, step in steps.items()},
    )


def build(
    runtime: Any,
    *,
    participants: int,
    events: int,
    now: datetime,
    since: date,
    seed: int = 7,
    say: Any = print,
) -> dict[str, int]:
    """Fill a migrated, empty database; return how many rows of each kind it holds."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    ctx = _setup(runtime, participants=participants, now=now, since=since)
    tables = {name: SQLModel.metadata.tables[name] for name in INSERT_ORDER}
    rng = random.Random(seed)
    counts = Counts()
    with runtime.engine.begin() as connection:
        next_id = {
            name: 1 + connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {name}")).scalar()
            for name in INSERT_ORDER
        }
        rows = Rows(dict(next_id))
        written = 0
        for chunk in _chunks(participants):
            for n in chunk:
                _participant(rows, rng, ctx, counts, n)
            made = rows.next_id["pathway_event"] - next_id["pathway_event"]
            wanted = events * (chunk.stop) // participants
            _comments(rows, rng, ctx, max(0, wanted - made))
            _outreach(rows, rng, ctx, counts, len(chunk))
            written += rows.count()
            _flush(connection, tables, rows)
            if chunk.stop % (CHUNK_PARTICIPANTS * 10) == 0 or chunk.stop == participants:
                say(f"    {chunk.stop} participants, {written} rows")
        counts.events = rows.next_id["pathway_event"] - next_id["pathway_event"]
        if connection.dialect.name == "postgresql":  # ids of our own: move the sequences on
            for name in ("organisation", "app_user", *INSERT_ORDER):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                        f" (SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                    )
                )
    with runtime.engine.begin() as connection:  # what autovacuum / a first ANALYZE does
        connection.execute(text("ANALYZE"))
    return counts.as_dict()
