"""Import of past records from a spreadsheet: participants with their history, and outreach.

`import_records` reads the file (import_layout), checks every row against the rules and the
database, and reports every problem by sheet, row and column in French. Nothing is written
unless the whole file is valid; with `keep_valid` the valid rows are written and the rejected
ones come back as a file in the same layout with an « Erreurs » column. A participant is kept
whole: a problem on one of their trainings, creations or jobs rejects them with all their rows.

Everything is written in one transaction. Importing the same file again changes nothing: a
participant is found by their reference (`Participant.external_ref`), and every other row by
a `source_key` made of what identifies it (a training by its participant, end date and kind;
an outreach action by its date, organiser and title...), skipped when present.

A participant still mid-way (« Étape en cours ») gets a pathway waiting on that step, started by
the engine (`events.start`), which also opens their stay from their enrolment date; their flow
run is started after the commit (by the reconciler later if Prefect is down). A finished one
gets their stay, entry and exit as facts, and no pathway.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import PurePath
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from crealux_core.clock import local_today
from crealux_core.domain.pathway import anchored_time, step_times
from crealux_core.models import (
    BusinessCreation,
    EntrySituation,
    EventKind,
    ExitSituation,
    Gender,
    Moment,
    Organisation,
    OutreachAction,
    OutreachCategory,
    OutreachKind,
    Participant,
    PathwayEvent,
    Placement,
    Role,
    Stay,
    StepRun,
    StepStatus,
    StructureKind,
    StructureSensitisation,
    SupportTime,
    TrainingRecord,
    User,
)
from crealux_core.rules.facts import DISADVANTAGES
from crealux_core.rules.specs import Anchored, FieldType, PathwaySpec, Rules, Span, StepSpec
from crealux_core.services import events, facts, notices, policy
from crealux_core.services.delivery import start_flow
from crealux_core.services.errors import Conflict, Forbidden
from crealux_core.services.import_layout import (
    SHEETS,
    ImportProblem,
    Kind,
    RawFile,
    RawRow,
    RawSheet,
    UnreadableFile,
    read_file,
    rejected_file,
)
from crealux_core.services.import_layout import normalise as _normalise
from crealux_core.services.import_values import (
    BUSINESS,
    CATEGORIES,
    DISCLOSURES,
    EDUCATION,
    GENDERS,
    LABOUR,
    OUTREACH_KINDS,
    SITUATION,
    STRUCTURE_KINDS,
    CellError,
    Vocabulary,
    as_bool,
    as_company_number,
    as_date,
    as_hours,
    as_int,
    as_text,
    french_list,
)
from crealux_core.services.policy import Action
from crealux_core.services.ports import Orchestrator

try:  # the outreach service's normaliser, so that a structure typed there and here is one
    from crealux_core.services.outreach import structure_key
except ImportError:  # pragma: no cover  (the same rule, kept here while outreach is absent)

    def structure_key(name: str) -> str:
        return _normalise(name)[:200]


log = logging.getLogger(__name__)

EARLIEST = date(1990, 1, 1)
# An imported enrolment is dated at noon UTC: the same calendar day in Brussels.
ENROLMENT_HOUR = time(12, 0, tzinfo=UTC)
SUPPORT_HOURS_MAX = 2000.0
MISSING = "valeur manquante"
Progress = Callable[[int, int], None]


class WrittenMeanwhile(Conflict):
    """The database refused a row written meanwhile (the same file imported twice at once):
    nothing of this import was written; importing it again counts that row as present."""


@dataclass(frozen=True)
class Counts:
    created: int = 0
    present: int = 0  # already in the database: a previous import of these rows
    rejected: int = 0


@dataclass(frozen=True)
class ImportResult:
    """What an import did: counts by kind, every problem, the rejected rows as a file."""

    filename: str
    written: bool  # the transaction committed (even if it created nothing new)
    counts: dict[Kind, Counts]
    problems: list[ImportProblem]
    notices: list[str] = field(default_factory=list)
    pathway_run_ids: list[int] = field(default_factory=list)  # started for mid-way participants
    flows_started: int = 0
    rejected_file: bytes | None = None  # with keep_valid: the rejected rows, « Erreurs » added
    rejected_filename: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def total(self, what: str) -> int:
        return sum(getattr(counts, what) for counts in self.counts.values())


# --- the rules' vocabulary: steps, routes, choices of the fields that record facts ---------------


def _span_fr(span: Span) -> str:
    parts = []
    if span.months:
        parts.append(f"{span.months} mois")
    if span.delta.days:
        parts.append(f"{span.delta.days} jour{'s' if span.delta.days > 1 else ''}")
    hours = span.delta.seconds // 3600
    if hours:
        parts.append(f"{hours} heure{'s' if hours > 1 else ''}")
    return " et ".join(parts) or "0 jour"


def _successors(step: StepSpec) -> list[str]:
    following = [transition.to for transition in step.next if transition.to]
    if step.on_overdue is not None and step.on_overdue.to:
        following.append(step.on_overdue.to)
    return following


def _reachable(pathway: PathwaySpec, start: str, *, avoiding: str | None = None) -> set[str]:
    """Return the steps reachable from `start` (itself excluded unless on a loop), never passing
    through `avoiding`."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for key in _successors(pathway.steps[todo.pop()]):
            if key != avoiding and key not in seen and key in pathway.steps:
                seen.add(key)
                todo.append(key)
    return seen


def _anchors(step: StepSpec) -> list[tuple[str, Anchored]]:
    """Return a step's dates computed from an earlier answer: (`opens` or `due`, anchor)."""
    return [
        (what, anchor)
        for what, anchor in (("opens", step.opens), ("due", step.due))
        if anchor is not None and anchor.step is not None and anchor.field is not None
    ]


# What the file gives for a fact a step's date may count from, and where.
_DATE_SOURCES = {
    "exit.left_on": "remplissez sa « Date de sortie »",
    "business.started_on": "ajoutez sa création (feuille « creations ») avec sa date de début",
    "placement.started_on": "ajoutez son emploi (feuille « emplois ») avec sa date de début",
}


@dataclass(frozen=True)
class StepChoice:
    """A step an imported participant may wait on, or why not (French)."""

    key: str
    title: str
    refused: str | None = None
    needs: tuple[str, str, str] | None = None  # (fact, anchor step, anchor field) to date it


def _describe_anchor(pathway: PathwaySpec, step: StepSpec, what: str, anchor: Anchored) -> str:
    source = pathway.steps.get(anchor.step or "")
    spec = source.form.get(anchor.field or "") if source else None
    label = spec.label if spec else anchor.field
    verb = "s'ouvre" if what == "opens" else "est à faire"
    return (
        f"l'étape « {step.title} » {verb} {_span_fr(anchor.span)} après « {label} »"
        f" (étape « {source.title if source else anchor.step} »)"
    )


def step_choice(pathway: PathwaySpec, key: str) -> StepChoice:
    """Say whether an imported participant may wait on a step: a date counting from an answer
    the imported pathway will not have (a later follow-up counting from the start of an
    activity decided before the import) would come out wrong, so such a step is refused."""
    step = pathway.steps[key]
    for other_key, other in pathway.steps.items():
        if other_key == key:
            continue
        for what, anchor in _anchors(other):
            if anchor.step == key or other_key not in _reachable(
                pathway, key, avoiding=anchor.step
            ):
                continue
            return StepChoice(
                key,
                step.title,
                refused=f"{_describe_anchor(pathway, other, what, anchor)}, une réponse que le"
                " parcours importé n'aura pas : cette étape ne peut pas être l'étape en cours d'un"
                " participant importé",
            )
    needs: tuple[str, str, str] | None = None
    for what, anchor in _anchors(step):
        source = pathway.steps.get(anchor.step or "")
        spec = source.form.get(anchor.field or "") if source else None
        fact = spec.records if spec is not None else None
        if fact not in _DATE_SOURCES or needs is not None:
            return StepChoice(
                key,
                step.title,
                refused=f"{_describe_anchor(pathway, step, what, anchor)}, une date que le fichier"
                " ne donne pas : choisissez une autre étape en cours",
            )
        assert fact is not None and anchor.step is not None and anchor.field is not None
        needs = (fact, anchor.step, anchor.field)
    return StepChoice(key, step.title, needs=needs)


def current_step_choices(rules: Rules) -> list[StepChoice]:
    """Return every step of the newest pathway, and why an import may not wait on it."""
    pathway = rules.pathway()
    return [step_choice(pathway, key) for key in pathway.steps]


def _recording(pathway: PathwaySpec, fact: str) -> Any:
    for step in pathway.steps.values():
        for spec in step.form.values():
            if spec.records == fact:
                return spec
    return None


_ROUTE_ALIASES = {
    "creation": ("création", "creation d'activite"),
    "training": ("formation",),
    "employment": ("emploi", "recherche d'emploi"),
    "social": ("social", "accompagnement social"),
    "exit": ("fin", "sortie"),
}


# Short spellings of the shipped rules' choices (used only for the keys the rules have).
_FACT_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "training.kind": {
        "social": ("sociale", "formation sociale"),
        "pre_qualifying": ("préqualifiante", "pré-qualifiante"),
        "qualifying": ("qualifiante",),
    },
    "placement.contract": {
        "permanent": ("CDI", "durée indéterminée"),
        "fixed_term": ("CDD", "durée déterminée"),
        "interim": ("intérim",),
        "work_integration": ("article 60", "économie sociale"),
    },
}


def _choices(choices: Mapping[str, str], aliases: Mapping[str, Iterable[str]]) -> Vocabulary:
    """A rules field's choices: its keys, its labels, a label without its parenthesis."""
    short = {key: (label.split(" (")[0], *aliases.get(key, ())) for key, label in choices.items()}
    return Vocabulary.of(choices, aliases=short)


@dataclass(frozen=True)
class _Terms:
    """What the newest pathway accepts for the columns that depend on the rules."""

    pathway: PathwaySpec
    steps: Vocabulary
    choices: dict[str, StepChoice]
    routes: Vocabulary | None
    route_labels: dict[str, str]
    by_fact: dict[str, Vocabulary]  # choices of the field recording a free fact (exit.reason...)
    after_exit: frozenset[str]

    @classmethod
    def of(cls, rules: Rules) -> _Terms:
        pathway = rules.pathway()
        titles = {key: step.title for key, step in pathway.steps.items()}
        steps = Vocabulary.of(
            titles,
            expected=f"la clé ou l'intitulé d'une étape de « {pathway.title} » :"
            f" {french_list(f'« {t} »' for t in titles.values())}",
        )
        route_field = next(
            (
                spec
                for step in pathway.steps.values()
                for name, spec in step.form.items()
                if name == "route" and spec.type is FieldType.CHOICE and spec.choices
            ),
            None,
        )
        routes = None
        labels: dict[str, str] = {}
        if route_field is not None and route_field.choices:
            labels = dict(route_field.choices)
            routes = _choices(labels, _ROUTE_ALIASES)
        by_fact: dict[str, Vocabulary] = {}
        for fact in (
            "exit.reason",
            "training.kind",
            "business.sector",
            "placement.contract",
            "placement.sector",
        ):
            spec = _recording(pathway, fact)
            if spec is not None and spec.choices:
                by_fact[fact] = _choices(spec.choices, _FACT_ALIASES.get(fact, {}))
        exit_step = next(
            (
                key
                for key, step in pathway.steps.items()
                if any(
                    spec.records == "exit.left_on" or name == "left_on"
                    for name, spec in step.form.items()
                )
            ),
            None,
        )
        after_exit = (
            frozenset(_reachable(pathway, exit_step) - {exit_step}) if exit_step else frozenset()
        )
        return cls(
            pathway=pathway,
            steps=steps,
            choices={key: step_choice(pathway, key) for key in pathway.steps},
            routes=routes,
            route_labels=labels,
            by_fact=by_fact,
            after_exit=after_exit,
        )


# --- what the database already holds ------------------------------------------------------------


@dataclass
class _Known:
    advisors: dict[str, User | None]  # username or display name, normalised (None: ambiguous)
    organisations: dict[str, Organisation | None]  # key or name, normalised
    participants: dict[str, int]  # external_ref -> participant id
    source_keys: set[str]

    @classmethod
    def load(cls, session: Session) -> _Known:
        advisors: dict[str, User | None] = {}
        for user in session.exec(select(User)).all():
            for name in {_normalise(user.username), _normalise(user.display_name)}:
                advisors[name] = None if name in advisors else user
        organisations: dict[str, Organisation | None] = {}
        for organisation in session.exec(select(Organisation)).all():
            for name in {_normalise(organisation.key), _normalise(organisation.name)}:
                organisations[name] = None if name in organisations else organisation
        participants = {
            ref: pid
            for pid, ref in session.exec(
                select(Participant.id, Participant.external_ref).where(
                    col(Participant.external_ref).is_not(None)
                )
            ).all()
            if ref is not None and pid is not None
        }
        keys: set[str] = set()
        for model in (
            Stay,
            EntrySituation,
            TrainingRecord,
            BusinessCreation,
            Placement,
            SupportTime,
            OutreachAction,
            StructureSensitisation,
        ):
            source = col(model.source_key)
            found = session.exec(select(source).where(source.like("import:%"))).all()
            keys.update(key for key in found if key is not None)
        return cls(advisors, organisations, participants, keys)


# --- checking rows -------------------------------------------------------------------------------


@dataclass
class _Checked:
    """A row read and checked: its typed values, the participant it belongs to, its problems."""

    kind: Kind
    sheet: str
    line: int
    values: dict[str, Any]
    ref: str | None
    problems: list[ImportProblem]


class _Row:
    """Read one row's cells into typed values, collecting a problem per refused cell."""

    def __init__(self, raw: RawSheet, row: RawRow) -> None:
        self.raw, self.row = raw, row
        self.values: dict[str, Any] = {}
        self.problems: list[ImportProblem] = []

    def problem(self, key: str, message: str) -> None:
        header = self.raw.sheet.column(key).header
        self.problems.append(ImportProblem(self.raw.name, self.row.line, header, message))

    def take(self, key: str, parse: Callable[[Any], Any], *, required: bool = False) -> Any:
        cell = self.row.values.get(key)
        value = None
        if cell is None:
            if required:
                self.problem(key, MISSING)
        else:
            try:
                value = parse(cell)
            except CellError as error:
                self.problem(key, str(error))
        self.values[key] = value
        return value

    def checked(self, ref: str | None) -> _Checked:
        return _Checked(
            self.raw.sheet.kind, self.raw.name, self.row.line, self.values, ref, self.problems
        )


def _text(most: int) -> Callable[[Any], str]:
    return lambda value: as_text(value, most=most)


def _past_date(today: date) -> Callable[[Any], date]:
    def parse(value: Any) -> date:
        day = as_date(value)
        if day > today:
            raise CellError(
                f"date « {day:%d/%m/%Y} » dans le futur (aujourd'hui : {today:%d/%m/%Y})"
            )
        if day < EARLIEST:
            raise CellError(
                f"date « {day:%d/%m/%Y} » trop ancienne ; attendu le {EARLIEST:%d/%m/%Y} ou après"
            )
        return day

    return parse


def _free_or(vocabulary: Vocabulary | None, most: int) -> Callable[[Any], str]:
    """A value of the rules' choices when the rules have some, free text otherwise."""
    if vocabulary is None:
        return _text(most)
    return vocabulary.parse


class _Checker:
    def __init__(self, *, terms: _Terms, known: _Known, today: date) -> None:
        self.terms, self.known, self.today = terms, known, today
        self.past = _past_date(today)

    def organisation(self, value: Any) -> int:
        text = as_text(value, most=200)
        found = self.known.organisations.get(_normalise(text), False)
        if found is None:
            raise CellError(f"« {text} » désigne plusieurs organisations ; donnez sa clé")
        if found is False:
            raise CellError(
                f"organisation « {text} » inconnue ; attendu la clé ou le nom d'un partenaire"
            )
        assert isinstance(found, Organisation) and found.id is not None
        return found.id

    def advisor(self, value: Any) -> User:
        text = as_text(value, most=200)
        found = self.known.advisors.get(_normalise(text), False)
        if found is None:
            raise CellError(f"« {text} » désigne plusieurs personnes ; donnez son identifiant")
        if found is False:
            raise CellError(
                f"accompagnateur « {text} » inconnu ; attendu l'identifiant ou le nom d'un compte"
            )
        assert isinstance(found, User)
        if found.role is not Role.ADVISOR:
            raise CellError(f"« {found.username} » n'est pas un compte d'accompagnateur")
        return found

    def participant(self, raw: RawSheet, row: RawRow) -> _Checked:
        r = _Row(raw, row)
        ref = r.take("reference", _text(100), required=True)
        r.take("first_name", _text(100), required=True)
        r.take("last_name", _text(100), required=True)
        r.take("gender", GENDERS.parse, required=True)
        r.take("birth_year", lambda v: as_int(v, low=1900, high=self.today.year))
        r.take("municipality", _text(100))
        email = r.take("email", _text(200))
        if email is not None and ("@" not in email or " " in email):
            r.problem("email", f"adresse « {email} » invalide")
        r.take("phone", _text(50))
        advisor = r.take("advisor", self.advisor, required=True)
        enrolled_on = r.take("enrolled_on", self.past, required=True)
        r.take("labour_status", LABOUR.parse)
        r.take("education_level", EDUCATION.parse)
        for name in DISADVANTAGES:
            r.take(name, DISCLOSURES.parse)
        if self.terms.routes is not None:
            r.take("route", self.terms.routes.parse)
        else:
            r.take("route", _text(64))
        current = r.take("current_step", self.terms.steps.parse)
        left_on = r.take("left_on", self.past)
        r.take("exit_reason", _free_or(self.terms.by_fact.get("exit.reason"), 64))
        r.take("leaving_situation", SITUATION.parse)
        r.take("qualification_gained", as_bool)
        r.take("six_months_situation", SITUATION.parse)
        r.take("improved", as_bool)
        r.take("interview_hours", lambda v: as_hours(v, high=SUPPORT_HOURS_MAX))
        r.take("information_hours", lambda v: as_hours(v, high=SUPPORT_HOURS_MAX))
        self._participant_coherence(r, advisor, enrolled_on, current, left_on)
        return r.checked(ref)

    def _participant_coherence(
        self,
        r: _Row,
        advisor: User | None,
        enrolled_on: date | None,
        current: str | None,
        left_on: date | None,
    ) -> None:
        cells = r.row.values
        if left_on is not None and enrolled_on is not None and left_on < enrolled_on:
            r.problem(
                "left_on",
                f"sortie le {left_on:%d/%m/%Y}, avant l'inscription ({enrolled_on:%d/%m/%Y})",
            )
        if current is None and cells.get("current_step") is None:
            if left_on is None and cells.get("left_on") is None:
                r.problem(
                    "left_on", "obligatoire quand « Étape en cours » est vide (parcours terminé)"
                )
        elif current is not None:
            choice = self.terms.choices[current]
            title = self.terms.pathway.steps[current].title
            if choice.refused:
                r.problem("current_step", choice.refused)
            if current in self.terms.after_exit and cells.get("left_on") is None:
                r.problem("left_on", f"obligatoire : l'étape « {title} » vient après la sortie")
            if current not in self.terms.after_exit and cells.get("left_on") is not None:
                r.problem(
                    "left_on",
                    f"un participant à l'étape « {title} » n'est pas encore sorti : videz"
                    " « Date de sortie » ou « Étape en cours »",
                )
            if advisor is not None and not advisor.active:
                r.problem(
                    "advisor",
                    f"le compte « {advisor.username} » est désactivé : un participant en cours"
                    " a besoin d'un accompagnateur actif",
                )
        if cells.get("left_on") is None:
            for key in (
                "exit_reason",
                "leaving_situation",
                "qualification_gained",
                "six_months_situation",
                "improved",
            ):
                if cells.get(key) is not None:
                    r.problem(key, "sans « Date de sortie », le participant n'est pas sorti")

    def history(self, raw: RawSheet, row: RawRow, file_refs: set[str]) -> _Checked:
        r = _Row(raw, row)
        ref = r.take("participant", _text(100), required=True)
        if ref is not None and ref not in file_refs and ref not in self.known.participants:
            r.problem(
                "participant",
                f"participant « {ref} » inconnu : absent de la feuille « participants » et jamais"
                " importé",
            )
        r.take("organisation", self.organisation)
        by_fact = self.terms.by_fact
        if raw.sheet.kind is Kind.TRAININGS:
            r.take("kind", _free_or(by_fact.get("training.kind"), 64))
            r.take("ended_on", self.past, required=True)
            r.take("completed", as_bool)
            r.take("qualification", as_bool)
            r.take("hours", lambda v: as_int(v, low=0, high=5000))
        elif raw.sheet.kind is Kind.CREATIONS:
            status = r.take("status", BUSINESS.parse, required=True)
            started = r.take("started_on", self.past)
            r.take("sector", _free_or(by_fact.get("business.sector"), 64))
            r.take("company_number", as_company_number)
            if (
                status in ("principal", "complementary")
                and started is None
                and row.values.get("started_on") is None
            ):
                r.problem("started_on", "obligatoire pour une activité lancée")
        else:
            r.take("started_on", self.past, required=True)
            r.take("contract", _free_or(by_fact.get("placement.contract"), 32))
            r.take("sector", _free_or(by_fact.get("placement.sector"), 64))
        return r.checked(ref)

    def outreach(self, raw: RawSheet, row: RawRow) -> _Checked:
        r = _Row(raw, row)
        r.take("held_on", self.past, required=True)
        r.take("category", CATEGORIES.parse, required=True)
        r.take("kind", OUTREACH_KINDS.parse, required=True)
        r.take("title", _text(200), required=True)
        r.take("organiser", self.organisation, required=True)
        r.take("municipality", _text(100))
        reached = r.take(
            "people_reached", lambda v: as_int(v, low=0, high=1_000_000), required=True
        )
        became = r.take("became_candidates", lambda v: as_int(v, low=0, high=1_000_000))
        r.take("hours", lambda v: as_hours(v, high=1000))
        r.take("outputs", lambda v: as_text(v, most=5000))
        if reached is not None and became is not None and became > reached:
            r.problem("became_candidates", f"{became} candidats pour {reached} personnes touchées")
        return r.checked(None)

    def structure(self, raw: RawSheet, row: RawRow) -> _Checked:
        r = _Row(raw, row)
        name = r.take("name", _text(200), required=True)
        if name is not None and not structure_key(name):
            r.problem("name", MISSING)
        r.take("kind", STRUCTURE_KINDS.parse, required=True)
        r.take("municipality", _text(100))
        r.take("sensitised_on", self.past, required=True)
        r.take("by_organisation", self.organisation, required=True)
        return r.checked(None)


def _check_rows(raw: RawFile, checker: _Checker, tick: Callable[[], None]) -> list[_Checked]:
    """Check every row of the file, participants first (their references are what the other
    sheets refer to). A reference given twice rejects both rows (and their history): which one
    the other sheets mean cannot be told."""
    by_kind = {sheet.sheet.kind: sheet for sheet in raw.sheets}
    checked: list[_Checked] = []
    first_line: dict[str, int] = {}
    people = by_kind.get(Kind.PARTICIPANTS)
    for row in people.rows if people else ():
        assert people is not None
        item = checker.participant(people, row)
        if item.ref is not None and item.ref in first_line:
            item.problems.append(
                ImportProblem(
                    people.name,
                    row.line,
                    SHEETS[Kind.PARTICIPANTS].column("reference").header,
                    f"référence « {item.ref} » déjà donnée ligne {first_line[item.ref]}",
                )
            )
        elif item.ref is not None:
            first_line[item.ref] = row.line
        checked.append(item)
        tick()
    refs = set(first_line)
    for kind in (Kind.TRAININGS, Kind.CREATIONS, Kind.PLACEMENTS, Kind.OUTREACH, Kind.STRUCTURES):
        sheet = by_kind.get(kind)
        for row in sheet.rows if sheet else ():
            assert sheet is not None
            if kind is Kind.OUTREACH:
                checked.append(checker.outreach(sheet, row))
            elif kind is Kind.STRUCTURES:
                checked.append(checker.structure(sheet, row))
            else:
                checked.append(checker.history(sheet, row, refs))
            tick()
    _check_step_dates(checked, checker.terms)
    return checked


def _check_step_dates(checked: list[_Checked], terms: _Terms) -> None:
    """A mid-way participant's step that opens at a date counting from an earlier answer (a
    follow-up after leaving) takes that date from the file: check that the file gives it."""
    newest: dict[tuple[str, str], date] = {}
    for item in checked:
        if item.kind in (Kind.CREATIONS, Kind.PLACEMENTS) and item.ref is not None:
            started = item.values.get("started_on")
            fact = "business.started_on" if item.kind is Kind.CREATIONS else "placement.started_on"
            if started is not None:
                key = (item.ref, fact)
                newest[key] = max(started, newest.get(key, started))
    for item in checked:
        current = item.values.get("current_step") if item.kind is Kind.PARTICIPANTS else None
        if current is None or item.ref is None:
            continue
        choice = terms.choices[current]
        if choice.needs is None or choice.refused:
            continue
        fact = choice.needs[0]
        value = (
            item.values.get("left_on") if fact == "exit.left_on" else newest.get((item.ref, fact))
        )
        if value is None:
            step = terms.pathway.steps[current]
            what, anchor = _anchors(step)[0]
            item.problems.append(
                ImportProblem(
                    item.sheet,
                    item.line,
                    SHEETS[Kind.PARTICIPANTS].column("current_step").header,
                    f"{_describe_anchor(terms.pathway, step, what, anchor)} :"
                    f" {_DATE_SOURCES[fact]}",
                )
            )
        else:
            item.values["_anchor_date"] = value


def _rejections(checked: list[_Checked]) -> dict[tuple[str, int], list[str]]:
    """Return the messages of every rejected row: its own problems, or its participant's (a
    participant is kept whole: one bad row of theirs rejects all of them)."""
    rejected: dict[tuple[str, int], list[str]] = {}
    bad_refs: dict[str, str] = {}
    for item in checked:
        if item.problems:
            rejected[(item.sheet, item.line)] = [p.in_row for p in item.problems]
            if item.ref is not None:
                bad_refs.setdefault(item.ref, f"{item.sheet}, ligne {item.line}")
    for item in checked:
        where = bad_refs.get(item.ref or "")
        if where is not None and (item.sheet, item.line) not in rejected:
            rejected[(item.sheet, item.line)] = [
                f"Ligne {item.line} : rejetée avec le participant « {item.ref} » (erreur en"
                f" {where})"
            ]
    return rejected


# --- writing -------------------------------------------------------------------------------------


def _source_key(*parts: Any) -> str:
    """Return a row's source key: `import:` and what identifies it (hashed if too long)."""
    text = "import:" + ":".join("" if part is None else str(part) for part in parts)
    if len(text) <= 200:
        return text
    return f"import:{parts[0]}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


class _Keys:
    """Source keys of this file's rows: a second identical row gets `#2`."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, *parts: Any) -> str:
        base = _source_key(*parts)
        self.seen[base] += 1
        n = self.seen[base]
        return base if n == 1 else _source_key(*parts, f"#{n}")


def _identity(item: _Checked) -> tuple[Any, ...]:
    """What identifies a history or outreach row (its source key's parts)."""
    v = item.values
    if item.kind is Kind.TRAININGS:
        return ("participant", item.ref, "training", v["ended_on"], _normalise(v["kind"] or ""))
    if item.kind is Kind.CREATIONS:
        return (
            "participant",
            item.ref,
            "creation",
            v["started_on"],
            v["status"],
            v["company_number"],
        )
    if item.kind is Kind.PLACEMENTS:
        return (
            "participant",
            item.ref,
            "placement",
            v["started_on"],
            _normalise(v["contract"] or ""),
        )
    if item.kind is Kind.OUTREACH:
        return ("outreach", v["held_on"], v["organiser"], v["category"], _normalise(v["title"]))
    return ("structure", structure_key(v["name"]), v["sensitised_on"], v["by_organisation"])


@dataclass
class _Writer:
    """Write the valid rows: participants as objects (a mid-way one's pathway starts through
    the engine), every other row in bulk (one INSERT per table), nothing read row by row."""

    session: Session
    rules: Rules
    terms: _Terms
    user: User
    filename: str
    now: datetime
    dashboard_url: str
    known: _Known
    tick: Callable[[], None]
    counts: dict[Kind, Counter[str]] = field(default_factory=dict)
    run_ids: list[int] = field(default_factory=list)
    to_open: list[int] = field(default_factory=list)  # re-dated steps whose date has come
    keys: _Keys = field(default_factory=_Keys)

    def count(self, kind: Kind, what: str) -> None:
        self.counts.setdefault(kind, Counter())[what] += 1

    def insert(self, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(model), rows)

    def write(self, items: list[_Checked]) -> None:
        people = [i for i in items if i.kind is Kind.PARTICIPANTS]
        new = [i for i in people if i.ref not in self.known.participants]
        for item in people:
            if item.ref in self.known.participants:
                self.count(Kind.PARTICIPANTS, "present")
                self.tick()
        rows = {item.ref or "": self._participant(item) for item in new}
        self.session.add_all(rows.values())
        self.session.flush()
        ids = dict(self.known.participants) | {ref: p.id or 0 for ref, p in rows.items()}
        self._finished([i for i in new if i.values["current_step"] is None], ids)
        self._mid_way([i for i in new if i.values["current_step"] is not None], rows)
        for _ in new:
            self.count(Kind.PARTICIPANTS, "created")
            self.tick()
        self._support(new, ids)
        others: dict[type[SQLModel], list[dict[str, Any]]] = {}
        for item in items:
            if item.kind is not Kind.PARTICIPANTS:
                self._other(item, ids, others)
                self.tick()
        for model, values in others.items():
            self.insert(model, values)
        self.session.flush()

    def _participant(self, item: _Checked) -> Participant:
        v = item.values
        return Participant(
            first_name=v["first_name"],
            last_name=v["last_name"],
            gender=Gender(v["gender"]),
            birth_year=v["birth_year"],
            email=v["email"],
            phone=v["phone"],
            municipality=v["municipality"],
            advisor_id=v["advisor"].id,
            enrolled_at=datetime.combine(v["enrolled_on"], ENROLMENT_HOUR),
            external_ref=item.ref,
        )

    def _entry_values(self, item: _Checked) -> dict[str, Any]:
        v = item.values
        return {name: v[name] for name in ("labour_status", "education_level", *DISADVANTAGES)}

    def _finished(self, items: list[_Checked], ids: Mapping[str, int]) -> None:
        """A finished participant's stay (from enrolment to leaving), entry and exit."""
        stays: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        leaving: dict[str, _Checked] = {}
        for item in items:
            v, ref = item.values, item.ref or ""
            stay_key = _source_key("participant", ref, "stay")
            entry_key = _source_key("participant", ref, "entry")
            if stay_key not in self.known.source_keys:
                stays.append(
                    {
                        "participant_id": ids[ref],
                        "started_on": v["enrolled_on"],
                        "ended_on": v["left_on"],
                        "source_key": stay_key,
                    }
                )
                leaving[stay_key] = item
            if entry_key not in self.known.source_keys:
                entries.append(
                    {
                        "participant_id": ids[ref],
                        "entered_on": v["enrolled_on"],
                        "age_at_entry": facts.age_at(v["birth_year"], v["enrolled_on"]),
                        "source_key": entry_key,
                        **self._entry_values(item),
                    }
                )
        self.insert(EntrySituation, entries)
        if not stays:
            return
        written = self.session.execute(
            insert(Stay).returning(col(Stay.id), col(Stay.participant_id), col(Stay.source_key)),
            stays,
        ).all()
        exits = [
            row
            for stay_id, participant_id, key in written
            for row in self._exits(leaving[key or ""], stay_id, participant_id)
        ]
        self.insert(ExitSituation, exits)

    def _exits(self, item: _Checked, stay_id: int, participant_id: int) -> list[dict[str, Any]]:
        v = item.values
        if v["left_on"] is None:
            return []
        common = {"participant_id": participant_id, "stay_id": stay_id, "left_on": v["left_on"]}
        rows = [
            common
            | {
                "moment": Moment.LEAVING,
                "reason": v["exit_reason"],
                "situation": v["leaving_situation"],
                "qualification_gained": v["qualification_gained"],
            }
        ]
        if v["six_months_situation"] is not None or v["improved"] is not None:
            rows.append(
                common
                | {
                    "moment": Moment.SIX_MONTHS,
                    "situation": v["six_months_situation"],
                    "improved": v["improved"],
                }
            )
        return rows

    def _mid_way(self, items: list[_Checked], rows: Mapping[str, Participant]) -> None:
        """Start each mid-way participant's pathway on their step: the engine opens the step
        (or schedules it), their stay from the enrolment date and their entry; then fill the
        entry, the exit and the step's date from the file, and say where the pathway came
        from on its step."""
        runs: dict[int, _Checked] = {}
        for item in items:
            run = events.start(
                session=self.session,
                rules=self.rules,
                participant=rows[item.ref or ""],
                now=self.now,
                dashboard_url=self.dashboard_url,
                start_at=item.values["current_step"],
            )
            runs[run.id or 0] = item
            self.run_ids.append(run.id or 0)
        if not runs:
            return
        by_participant = {rows[item.ref or ""].id: item for item in runs.values()}
        exits: list[dict[str, Any]] = []
        for chunk in _chunks(list(runs)):
            for entry in self.session.exec(
                select(EntrySituation).where(col(EntrySituation.pathway_run_id).in_(chunk))
            ).all():
                item = by_participant[entry.participant_id]
                for name, value in self._entry_values(item).items():
                    setattr(entry, name, value)
                entry.source_key = _source_key("participant", item.ref, "entry")
                self.session.add(entry)
            for stay in self.session.exec(
                select(Stay).where(col(Stay.pathway_run_id).in_(chunk))
            ).all():
                item = runs[stay.pathway_run_id or 0]
                if item.values["left_on"] is not None:
                    stay.ended_on = item.values["left_on"]
                    self.session.add(stay)
                    exits.extend(self._exits(item, stay.id or 0, stay.participant_id))
            for step_run in self.session.exec(
                select(StepRun).where(
                    col(StepRun.pathway_run_id).in_(chunk),
                    col(StepRun.status).in_([StepStatus.OPEN, StepStatus.SCHEDULED]),
                )
            ).all():
                item = runs[step_run.pathway_run_id]
                self._redate(item, step_run)
                self.session.add(self._imported_note(item, step_run))
        self.insert(ExitSituation, exits)
        self._tell_advisors(runs, rows)

    def _tell_advisors(self, runs: Mapping[int, _Checked], rows: Mapping[str, Participant]) -> None:
        """Tell each advisor, in one message, the mid-way participants they now follow."""
        followed: dict[int, tuple[User, list[Participant], int]] = {}
        for run_id, item in runs.items():
            advisor: User = item.values["advisor"]
            _, people, first = followed.get(advisor.id or 0, (advisor, [], run_id))
            people.append(rows[item.ref or ""])
            followed[advisor.id or 0] = (advisor, people, min(first, run_id))
        for advisor, people, first in followed.values():
            notices.participants_assigned(
                self.session,
                key=f"imported:{advisor.id}:{first}",
                participants=people,
                advisor=advisor,
                actor=self.user,
                pathway_run_id=first if len(people) == 1 else None,
                now=self.now,
                dashboard_url=self.dashboard_url,
            )

    def _imported_note(self, item: _Checked, step_run: StepRun) -> PathwayEvent:
        """A comment on the step the pathway starts on: where it came from (and the route)."""
        route = item.values.get("route")
        note = f"Parcours importé depuis « {self.filename} » (référence {item.ref})" + (
            f" ; orientation : {self.terms.route_labels.get(route, route)}" if route else ""
        )
        return PathwayEvent(
            pathway_run_id=step_run.pathway_run_id,
            step_run_id=step_run.id,
            kind=EventKind.COMMENT,
            actor_id=self.user.id,
            payload={},
            note=note,
            occurred_at=self.now,
            recorded_at=self.now,
        )

    def _redate(self, item: _Checked, step_run: StepRun) -> None:
        """Date a step that counts from an earlier answer from the file's value (the engine,
        without the answer, counted from today)."""
        needs = self.terms.choices[step_run.step_key].needs
        anchor_day = item.values.get("_anchor_date")
        if needs is None or anchor_day is None:
            return
        _, anchor_step, anchor_field = needs
        answers = {anchor_step: {anchor_field: anchor_day.isoformat()}}
        step = self.terms.pathway.steps[step_run.step_key]
        if step_run.status is StepStatus.SCHEDULED and step.opens is not None:
            step_run.opens_at = anchored_time(step.opens, step_run.reached_at, answers)
            if step_run.opens_at <= self.now:
                self.to_open.append(step_run.id or 0)
        elif step_run.status is StepStatus.OPEN and step_run.opened_at is not None:
            times = step_times(step, step_run.opened_at, answers)
            step_run.due_at, step_run.remind_at = times.due_at, times.remind_at
            step_run.escalate_at, step_run.overdue_at = times.escalate_at, times.overdue_at
        self.session.add(step_run)

    def _support(self, items: list[_Checked], ids: Mapping[str, int]) -> None:
        """Hours of support the file gives, one row per kind, dated on the enrolment."""
        rows: list[dict[str, Any]] = []
        for item in items:
            v = item.values
            for column, kind in (
                ("interview_hours", "interview"),
                ("information_hours", "information_session"),
            ):
                key = _source_key("participant", item.ref, "support", kind)
                if v[column] is None or key in self.known.source_keys:
                    continue
                rows.append(
                    {
                        "participant_id": ids[item.ref or ""],
                        "kind": kind,
                        "hours": v[column],
                        "given_on": v["enrolled_on"],
                        "correction": False,
                        "reason": f"Import de « {self.filename} »",
                        "actor_id": self.user.id,
                        "recorded_at": self.now,
                        "source_key": key,
                    }
                )
        self.insert(SupportTime, rows)

    def _other(
        self,
        item: _Checked,
        ids: Mapping[str, int],
        into: dict[type[SQLModel], list[dict[str, Any]]],
    ) -> None:
        key = self.keys(*_identity(item))
        if key in self.known.source_keys:
            self.count(item.kind, "present")
            return
        self.count(item.kind, "created")
        v = item.values
        model: type[SQLModel]
        names: tuple[str, ...]
        if item.kind in (Kind.TRAININGS, Kind.CREATIONS, Kind.PLACEMENTS):
            row = {
                "participant_id": ids[item.ref or ""],
                "organisation_id": v["organisation"],
                "source_key": key,
            }
            if item.kind is Kind.TRAININGS:
                model = TrainingRecord
                names = ("kind", "completed", "qualification", "hours", "ended_on")
            elif item.kind is Kind.CREATIONS:
                model = BusinessCreation
                names = ("status", "started_on", "sector", "company_number")
            else:
                model = Placement
                names = ("contract", "started_on", "sector")
                row["employed"] = True
            row |= {name: v[name] for name in names}
        elif item.kind is Kind.OUTREACH:
            model = OutreachAction
            row = {
                "category": OutreachCategory(v["category"]),
                "kind": OutreachKind(v["kind"]),
                "held_on": v["held_on"],
                "title": v["title"],
                "organiser_id": v["organiser"],
                "municipality": v["municipality"],
                "people_reached": v["people_reached"],
                "became_candidates": v["became_candidates"] or 0,
                "hours": v["hours"],
                "outputs": v["outputs"],
            }
        else:
            model = StructureSensitisation
            row = {
                "structure_key": structure_key(v["name"]),
                "structure_name": v["name"],
                "structure_kind": StructureKind(v["kind"]),
                "municipality": v["municipality"],
                "sensitised_on": v["sensitised_on"],
                "by_organisation_id": v["by_organisation"],
            }
        if model in (OutreachAction, StructureSensitisation):
            row |= {"recorded_by": self.user.id, "recorded_at": self.now, "source_key": key}
        into.setdefault(model, []).append(row)


def _chunks(values: list[int], size: int = 5000) -> Iterable[list[int]]:
    """Split a list of ids for IN (...): SQLite and PostgreSQL bound the parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- the service ---------------------------------------------------------------------------------


class _Ticker:
    """Call `progress(done, total)` about a hundred times over the whole import."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, max(total, 1), 0
        self.every = max(1, self.total // 100)

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None and (self.done % self.every == 0 or self.done == self.total):
            self.progress(min(self.done, self.total), self.total)

    def finish(self) -> None:
        if self.progress is not None and self.done < self.total:
            self.done = self.total
            self.progress(self.total, self.total)


def _rejected_name(filename: str, is_csv: bool) -> str:
    path = PurePath(filename)
    return f"{path.stem}-a-corriger{'.csv' if is_csv else '.xlsx'}"


def _counts(
    checked: Iterable[_Checked],
    rejected: Mapping[tuple[str, int], object],
    written: Mapping[Kind, Counter[str]],
) -> dict[Kind, Counts]:
    kinds = {item.kind for item in checked} | set(written)
    result: dict[Kind, Counts] = {}
    for kind in Kind:
        if kind not in kinds:
            continue
        done = written.get(kind, Counter())
        result[kind] = Counts(
            created=done["created"],
            present=done["present"],
            rejected=sum(
                1 for item in checked if item.kind is kind and (item.sheet, item.line) in rejected
            ),
        )
    return result


def import_records(
    *,
    session: Session,
    rules: Rules,
    user: User,
    data: bytes,
    filename: str,
    now: datetime,
    dashboard_url: str,
    keep_valid: bool = False,
    orchestrator: Orchestrator | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Check a spreadsheet of past records and write it in one transaction (coordinator only).

    Every problem is reported by sheet, row and column; nothing is written if there is one,
    unless `keep_valid`: then the valid rows are written and the rejected ones come back as a
    file (`ImportResult.rejected_file`). A header the file gets wrong (an unknown or missing
    column) stops everything. Raises Forbidden for anyone but the coordinator, UnreadableFile
    (a ValueError) for a file that is not an XLSX or a CSV, Conflict if the database refused
    the rows (WrittenMeanwhile: written meanwhile by someone else; nothing was written).
    """
    if not policy.can(user, Action.IMPORT_RECORDS):
        raise Forbidden(f"{user.username} may not import records: the coordinator imports")
    raw = read_file(data, filename)
    name = PurePath(filename).name
    ticker = _Ticker(progress, 2 * raw.row_count)
    if raw.problems:  # the header first: rows read under wrong columns say nothing useful
        ticker.finish()
        return ImportResult(
            filename=name,
            written=False,
            counts={s.sheet.kind: Counts(rejected=len(s.rows)) for s in raw.sheets},
            problems=list(raw.problems),
            notices=raw.notices,
        )
    terms = _Terms.of(rules)
    known = _Known.load(session)
    today = local_today(now)
    checked = _check_rows(raw, _Checker(terms=terms, known=known, today=today), ticker)
    problems = [problem for item in checked for problem in item.problems]
    rejected = _rejections(checked)
    if problems and not keep_valid:
        session.rollback()
        ticker.finish()
        return ImportResult(
            filename=name,
            written=False,
            counts=_counts(checked, rejected, {}),
            problems=problems,
            notices=raw.notices,
        )
    valid = [item for item in checked if (item.sheet, item.line) not in rejected]
    writer = _Writer(
        session=session,
        rules=rules,
        terms=terms,
        user=user,
        filename=name,
        now=now,
        dashboard_url=dashboard_url,
        known=known,
        tick=ticker,
    )
    try:
        writer.write(valid)
        session.commit()
    except IntegrityError as error:
        session.rollback()
        log.warning("import of %s refused by the database: %s", name, error)
        raise WrittenMeanwhile(
            "L'import n'a rien écrit : la base de données a refusé une ligne déjà enregistrée"
            " entre-temps (un autre import du même fichier ?). Relancez l'import : ce qui est"
            " déjà présent sera compté comme tel."
        ) from None
    except BaseException:
        session.rollback()
        raise
    ticker.finish()
    flows = _after_commit(session, rules, writer, orchestrator, now, dashboard_url)
    return ImportResult(
        filename=name,
        written=True,
        counts=_counts(checked, rejected, writer.counts),
        problems=problems,
        notices=raw.notices,
        pathway_run_ids=writer.run_ids,
        flows_started=flows,
        rejected_file=rejected_file(raw, rejected) if rejected else None,
        rejected_filename=_rejected_name(name, raw.is_csv) if rejected else None,
    )


def _after_commit(
    session: Session,
    rules: Rules,
    writer: _Writer,
    orchestrator: Orchestrator | None,
    now: datetime,
    dashboard_url: str,
) -> int:
    """Open the re-dated steps whose date has come (as the sweeper would), and start the new
    pathways' flow runs; stop at the first the orchestrator cannot start (the reconciler
    starts the others). Return how many flow runs started."""
    for step_run_id in writer.to_open:
        events.open_scheduled(
            session=session,
            rules=rules,
            step_run_id=step_run_id,
            now=now,
            dashboard_url=dashboard_url,
        )
    started = 0
    if orchestrator is None:
        return started
    for run_id in writer.run_ids:
        if start_flow(session=session, pathway_run_id=run_id, orchestrator=orchestrator) is None:
            break
        started += 1
    return started


__all__ = [
    "Counts",
    "ImportProblem",
    "ImportResult",
    "Kind",
    "StepChoice",
    "UnreadableFile",
    "WrittenMeanwhile",
    "current_step_choices",
    "import_records",
]
