"""Sensitisation and networking, before anyone enrols: outreach actions and structures sensitised.

An outreach action reached people: a candidates' information session, the « Salon du parcours du
créateur », a school visit (category `candidates`: how many were reached, how many became
candidates), an information on training (`training`: people reached) or a prospective workshop
(`prospective`: its theme is the title, its participants the people reached, its outputs the
text). A structure sensitised is a first-line or professional structure told about the
programme; sensitised twice it is two rows with one `structure_key` (its name normalised), and
counts once.

Advisors and the coordinator record, list, correct and delete; partners do none of it. A
correction or deletion is for the coordinator or whoever last wrote the row; a correction makes
its author and time the row's `recorded_by` and `recorded_at` (who last wrote it, and when). A
deleted row is gone: nothing keeps it. Every refusal of the data is an InvalidInput whose
messages, field by field, are French.

A `source_key` makes a second insert of the same thing (a dashboard form submitted twice, an
import run again) refused by the unique constraint: `AlreadyRecorded` says by whom and when.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, case, col, func, select

from crealux_core.clock import local_today
from crealux_core.domain.indicators import OUTREACH_KINDS, STRUCTURE_KINDS
from crealux_core.models import (
    Organisation,
    OutreachAction,
    OutreachCategory,
    OutreachKind,
    StructureKind,
    StructureSensitisation,
    User,
)
from crealux_core.services import policy
from crealux_core.services.errors import AlreadyDone, Forbidden, InvalidInput, NotFound
from crealux_core.services.policy import Action

EARLIEST = dt.date(2000, 1, 1)
TITLE_MAX = 200
NAME_MAX = 200
MUNICIPALITY_MAX = 100
OUTPUTS_MAX = 5000
HOURS_MAX = 1000.0
PEOPLE_MAX = 1_000_000
PAGE_MAX = 500

CATEGORY_LABELS: dict[OutreachCategory, str] = {
    OutreachCategory.CANDIDATES: "Sensibilisation de candidats",
    OutreachCategory.TRAINING: "Information sur la formation",
    OutreachCategory.PROSPECTIVE: "Atelier de prospective",
}
# The same words as the indicator report's breakdowns.
KIND_LABELS: dict[OutreachKind, str] = {OutreachKind(k): v for k, v in OUTREACH_KINDS.items()}
STRUCTURE_KIND_LABELS: dict[StructureKind, str] = {
    StructureKind(k): v for k, v in STRUCTURE_KINDS.items()
}

REQUIRED = "Ce champ est obligatoire."
_CANDIDATES_OVER = "Pas plus de candidats que de personnes touchées."


class AlreadyRecorded(AlreadyDone):
    """The same form submission or import line (its `source_key`) was already recorded."""

    def __init__(self, message: str, *, row_id: int, by: str | None, at: dt.datetime) -> None:
        self.row_id = row_id
        super().__init__(message, decided_by=by, decided_at=at.isoformat())


def structure_key(name: str) -> str:
    """Return a structure's name normalised: case folded, accents stripped, blanks collapsed.

    « CPAS de Durbuy » and «  cpas  de DURBUY » are one structure; so are « Forem » and « FOREM ».
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())[:NAME_MAX]


# --- what may be recorded ------------------------------------------------------------------------


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _one_line(value: Any) -> Any:
    if isinstance(value, str):
        value = " ".join(value.split())
        return value or None
    return value


def _not_too_long(value: str | None, most: int) -> str | None:
    if value is not None and len(value) > most:
        raise ValueError(f"Trop long : {len(value)} caractères, {most} au plus.")
    return value


def _check_day(day: dt.date, info: ValidationInfo) -> dt.date:
    if day < EARLIEST:
        raise ValueError(f"La date doit être le {EARLIEST:%d/%m/%Y} ou après.")
    today = (info.context or {}).get("today")
    if isinstance(today, dt.date) and day > today:
        raise ValueError(
            f"La date ne peut pas être dans le futur (aujourd'hui : {today:%d/%m/%Y})."
        )
    return day


def _choice_message(labels: Mapping[Any, str]) -> str:
    return "Choisissez parmi : " + ", ".join(
        f"{key.value} ({label})" for key, label in labels.items()
    )


class OutreachCreate(BaseModel):
    """An outreach action as recorded: what, when, by which organisation, how many reached.

    `organiser` is an organisation's key or id. Validated with `context={"today": date}`, a
    date in the future is refused (the services check it again against their `now`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: OutreachCategory
    kind: OutreachKind
    held_on: dt.date
    title: str
    organiser: str | int
    municipality: str | None = None
    people_reached: int
    became_candidates: int = 0
    hours: float | None = None
    outputs: str | None = None
    source_key: str | None = None

    @field_validator("title", "municipality", "organiser", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return _one_line(value)

    @field_validator("outputs", "source_key", mode="before")
    @classmethod
    def _strip_text(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("became_candidates", mode="before")
    @classmethod
    def _none_is_zero(cls, value: Any) -> Any:
        return 0 if value is None or value == "" else value

    @field_validator("held_on")
    @classmethod
    def _day(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        return _check_day(value, info)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return _not_too_long(value, TITLE_MAX) or value

    @field_validator("municipality")
    @classmethod
    def _municipality(cls, value: str | None) -> str | None:
        return _not_too_long(value, MUNICIPALITY_MAX)

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, value: str | None) -> str | None:
        return _not_too_long(value, OUTPUTS_MAX)

    @field_validator("source_key")
    @classmethod
    def _source_key(cls, value: str | None) -> str | None:
        return _not_too_long(value, 200)

    @field_validator("people_reached", "became_candidates")
    @classmethod
    def _people(cls, value: int) -> int:
        if not 0 <= value <= PEOPLE_MAX:
            raise ValueError(f"Un nombre de personnes entre 0 et {PEOPLE_MAX}.")
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and 0 <= value <= HOURS_MAX):
            raise ValueError(f"Un nombre d'heures entre 0 et {HOURS_MAX:g}.")
        return value

    @field_validator("organiser")
    @classmethod
    def _organiser(cls, value: str | int) -> str | int:
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return value

    @model_validator(mode="after")
    def _candidates_among_reached(self) -> OutreachCreate:
        if self.became_candidates > self.people_reached:
            raise PydanticCustomError("candidates_over", _CANDIDATES_OVER)
        return self


class StructureCreate(BaseModel):
    """A structure sensitised: its name, first-line or professional, when, by which
    organisation (key or id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: StructureKind
    sensitised_on: dt.date
    by_organisation: str | int
    municipality: str | None = None
    source_key: str | None = None

    @field_validator("name", "municipality", "by_organisation", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return _one_line(value)

    @field_validator("source_key", mode="before")
    @classmethod
    def _strip_key(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not structure_key(value):
            raise ValueError(REQUIRED)
        return _not_too_long(value, NAME_MAX) or value

    @field_validator("municipality")
    @classmethod
    def _municipality(cls, value: str | None) -> str | None:
        return _not_too_long(value, MUNICIPALITY_MAX)

    @field_validator("source_key")
    @classmethod
    def _source_key(cls, value: str | None) -> str | None:
        return _not_too_long(value, 200)

    @field_validator("sensitised_on")
    @classmethod
    def _day(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        return _check_day(value, info)

    @field_validator("by_organisation")
    @classmethod
    def _organisation(cls, value: str | int) -> str | int:
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return value


_FRENCH: dict[str, str] = {
    "missing": REQUIRED,
    "int_parsing": "Un nombre entier est attendu.",
    "int_type": "Un nombre entier est attendu.",
    "int_from_float": "Un nombre entier est attendu.",
    "float_parsing": "Un nombre est attendu.",
    "float_type": "Un nombre est attendu.",
    "finite_number": "Un nombre est attendu.",
    "date_parsing": "Une date est attendue (AAAA-MM-JJ).",
    "date_from_datetime_parsing": "Une date est attendue (AAAA-MM-JJ).",
    "date_from_datetime_inexact": "Une date sans heure est attendue (AAAA-MM-JJ).",
    "date_type": "Une date est attendue (AAAA-MM-JJ).",
    "string_type": "Ce champ attend du texte.",
    "extra_forbidden": "Ce champ n'existe pas.",
}
_ENUM_LABELS: dict[str, Mapping[Any, str]] = {
    "category": CATEGORY_LABELS,
    "kind": KIND_LABELS,
}


def _field_errors(error: ValidationError, *, structure: bool = False) -> dict[str, str]:
    """Return the first French message of each refused field."""
    found: dict[str, str] = {}
    for detail in error.errors():
        loc = detail["loc"]
        name = str(loc[0]) if loc else "data"
        kind = detail["type"]
        if kind == "candidates_over":
            name, message = "became_candidates", _CANDIDATES_OVER
        elif detail.get("input") in (None, "") and kind != "value_error":
            message = REQUIRED
        elif kind == "enum":
            labels = STRUCTURE_KIND_LABELS if structure else _ENUM_LABELS.get(name, {})
            message = _choice_message(labels) if labels else REQUIRED
        elif kind in _FRENCH:
            message = _FRENCH[kind]
        elif kind == "value_error":
            message = str(detail["msg"]).removeprefix("Value error, ")
        elif name in ("organiser", "by_organisation"):
            message = "Une organisation (sa clé ou son numéro) est attendue."
        else:
            message = str(detail["msg"])
        found.setdefault(name, message)
    return found


def outreach_input(data: Mapping[str, Any], *, today: dt.date | None = None) -> OutreachCreate:
    """Return submitted data as an OutreachCreate, or raise InvalidInput (French, by field)."""
    try:
        return OutreachCreate.model_validate(dict(data), context={"today": today})
    except ValidationError as error:
        raise InvalidInput(_field_errors(error)) from None


def structure_input(data: Mapping[str, Any], *, today: dt.date | None = None) -> StructureCreate:
    """Return submitted data as a StructureCreate, or raise InvalidInput in French."""
    try:
        return StructureCreate.model_validate(dict(data), context={"today": today})
    except ValidationError as error:
        raise InvalidInput(_field_errors(error, structure=True)) from None


# --- who may ----------------------------------------------------------------------------------


def may_record(user: User) -> bool:
    """Advisors and the coordinator record outreach; partners do not."""
    return policy.can(user, Action.RECORD_OUTREACH)


def may_change(user: User, row: OutreachAction | StructureSensitisation) -> bool:
    """The coordinator, or the advisor who last wrote the row, corrects or deletes it."""
    return may_record(user) and (policy.is_coordinator(user) or row.recorded_by == user.id)


def _require_recorder(user: User) -> None:
    if not may_record(user):
        raise Forbidden(f"{user.username} may not record or read outreach (advisors, coordinator)")


def organisations(*, session: Session) -> list[Organisation]:
    """Return the organisations an action or a sensitisation may name, by name."""
    return list(session.exec(select(Organisation).order_by(col(Organisation.name))).all())


# --- validating against the database --------------------------------------------------------------


def _organisation(session: Session, ref: str | int) -> Organisation | None:
    if isinstance(ref, int):
        return session.get(Organisation, ref)
    return session.exec(select(Organisation).where(Organisation.key == ref)).first()


def _checked(
    session: Session,
    raw: BaseModel | Mapping[str, Any],
    model: type[OutreachCreate] | type[StructureCreate],
    *,
    now: dt.datetime,
) -> tuple[Any, Organisation]:
    """Validate data (a model or a mapping) against today and the organisations; return it with
    its organisation, or raise every problem at once."""
    today = local_today(now)
    day_field, org_field = (
        ("held_on", "organiser")
        if model is OutreachCreate
        else ("sensitised_on", "by_organisation")
    )
    errors: dict[str, str] = {}
    data: Any = None
    mapping = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw)
    try:
        data = model.model_validate(mapping, context={"today": today})
    except ValidationError as error:
        errors = _field_errors(error, structure=model is StructureCreate)
        if model is OutreachCreate:
            _candidates_over(mapping, errors)
    org = None
    ref = mapping.get(org_field)
    if org_field not in errors and ref not in (None, ""):
        ref = int(ref) if isinstance(ref, str) and ref.strip().isdigit() else ref
        org = _organisation(session, ref.strip() if isinstance(ref, str) else ref)
        if org is None:
            errors[org_field] = f"L'organisation « {ref} » n'existe pas."
    if errors or data is None or org is None:
        raise InvalidInput(errors or {day_field: REQUIRED})
    return data, org


def _candidates_over(mapping: Mapping[str, Any], errors: dict[str, str]) -> None:
    """Say that more candidates than people reached is wrong even when another field is."""
    if {"people_reached", "became_candidates"} & errors.keys():
        return
    try:
        over = int(mapping.get("became_candidates") or 0) > int(mapping["people_reached"])
    except (KeyError, TypeError, ValueError):
        return
    if over:
        errors["became_candidates"] = _CANDIDATES_OVER


def _who(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.display_name if user else None


Row = TypeVar("Row", OutreachAction, StructureSensitisation)


def _by_source_key(session: Session, model: type[Row], key: str | None) -> Row | None:
    if key is None:
        return None
    return session.exec(select(model).where(col(model.source_key) == key)).first()


def _insert(session: Session, row: Row, what: str) -> Row:
    """Commit a new row; a source key already used is AlreadyRecorded (nothing is written)."""
    existing = _by_source_key(session, type(row), row.source_key)
    if existing is not None:
        raise _already(session, existing, what)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same form submitted twice at once: the constraint decides
        session.rollback()
        existing = _by_source_key(session, type(row), row.source_key)
        if existing is None:
            raise
        raise _already(session, existing, what) from None
    session.refresh(row)
    return row


def _already(
    session: Session, row: OutreachAction | StructureSensitisation, what: str
) -> AlreadyRecorded:
    by = _who(session, row.recorded_by)
    return AlreadyRecorded(
        f"{what} {row.id} was already recorded (source {row.source_key})",
        row_id=row.id or 0,
        by=by,
        at=row.recorded_at,
    )


# --- outreach actions ---------------------------------------------------------------------------


def _fill_action(row: OutreachAction, data: OutreachCreate, org: Organisation) -> None:
    row.category = data.category
    row.kind = data.kind
    row.held_on = data.held_on
    row.title = data.title
    row.organiser_id = org.id or 0
    row.municipality = data.municipality
    row.people_reached = data.people_reached
    row.became_candidates = data.became_candidates
    row.hours = data.hours
    row.outputs = data.outputs


def record_outreach(
    *,
    session: Session,
    user: User,
    data: OutreachCreate | Mapping[str, Any],
    now: dt.datetime,
) -> OutreachAction:
    """Record an outreach action (advisors and the coordinator); commits.

    Refused field by field (InvalidInput, French): a date in the future or before 2000, an
    organiser that does not exist, more candidates than people reached... A `source_key`
    already recorded raises AlreadyRecorded and writes nothing.
    """
    _require_recorder(user)
    checked, org = _checked(session, data, OutreachCreate, now=now)
    row = OutreachAction(
        category=checked.category,
        kind=checked.kind,
        held_on=checked.held_on,
        title=checked.title,
        organiser_id=org.id or 0,
        recorded_by=user.id,
        recorded_at=now,
        source_key=checked.source_key,
    )
    _fill_action(row, checked, org)
    return _insert(session, row, "outreach action")


def _changeable(session: Session, user: User, model: type[Row], row_id: int) -> Row:
    _require_recorder(user)
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{model.__tablename__} {row_id} does not exist")
    if not may_change(user, row):
        raise Forbidden(
            f"{user.username} may not change {model.__tablename__} {row_id}: the coordinator,"
            " or whoever recorded it"
        )
    return row


def correct_outreach(
    *,
    session: Session,
    user: User,
    action_id: int,
    data: OutreachCreate | Mapping[str, Any],
    now: dt.datetime,
) -> OutreachAction:
    """Replace an action's data (the coordinator, or whoever last wrote it); commits.

    The row then says who corrected it and when (`recorded_by`, `recorded_at`); its source key
    stays. Refused like `record_outreach`.
    """
    row: OutreachAction = _changeable(session, user, OutreachAction, action_id)
    checked, org = _checked(session, data, OutreachCreate, now=now)
    _fill_action(row, checked, org)
    row.recorded_by, row.recorded_at = user.id, now
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def delete_outreach(*, session: Session, user: User, action_id: int) -> None:
    """Delete an action (the coordinator, or whoever last wrote it); commits. Nothing keeps it."""
    row = _changeable(session, user, OutreachAction, action_id)
    session.delete(row)
    session.commit()


@dataclass(frozen=True)
class OutreachView:
    id: int
    category: OutreachCategory
    kind: OutreachKind
    held_on: dt.date
    title: str
    organiser_key: str
    organiser_name: str
    municipality: str | None
    people_reached: int
    became_candidates: int
    hours: float | None
    outputs: str | None
    recorded_by_id: int | None
    recorded_by: str | None
    recorded_at: dt.datetime

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS[self.category]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of rows, with how many there are in all."""

    rows: list[T]
    total: int
    offset: int
    limit: int


def _paging(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0:
        raise InvalidInput({"offset": "Un nombre positif ou nul est attendu."})
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput({"limit": f"Entre 1 et {PAGE_MAX} lignes par page."})
    return offset, limit


def _period(start: dt.date | None, end: dt.date | None) -> None:
    if start is not None and end is not None and start > end:
        raise InvalidInput({"end": "La fin de la période précède son début."})


def _action_filters(
    start: dt.date | None, end: dt.date | None, categories: Sequence[OutreachCategory]
) -> list[Any]:
    where: list[Any] = []
    if start is not None:
        where.append(col(OutreachAction.held_on) >= start)
    if end is not None:
        where.append(col(OutreachAction.held_on) <= end)
    if categories:
        where.append(col(OutreachAction.category).in_(list(categories)))
    return where


def list_outreach(
    *,
    session: Session,
    user: User,
    start: dt.date | None = None,
    end: dt.date | None = None,
    category: OutreachCategory | str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[OutreachView]:
    """Return the actions held between `start` and `end` (inclusive), newest first, a page at a
    time (advisors and the coordinator)."""
    _require_recorder(user)
    offset, limit = _paging(offset, limit)
    _period(start, end)
    categories: list[OutreachCategory] = []
    if category is not None:
        try:
            categories = [OutreachCategory(category)]
        except ValueError:
            raise InvalidInput({"category": _choice_message(CATEGORY_LABELS)}) from None
    where = _action_filters(start, end, categories)
    total = session.exec(select(func.count(col(OutreachAction.id))).where(*where)).one()
    rows = session.exec(
        select(OutreachAction, Organisation, User)
        .join(Organisation, col(Organisation.id) == col(OutreachAction.organiser_id))
        .outerjoin(User, col(User.id) == col(OutreachAction.recorded_by))
        .where(*where)
        .order_by(col(OutreachAction.held_on).desc(), col(OutreachAction.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    views = [
        OutreachView(
            id=action.id or 0,
            category=OutreachCategory(action.category),
            kind=OutreachKind(action.kind),
            held_on=action.held_on,
            title=action.title,
            organiser_key=org.key,
            organiser_name=org.name,
            municipality=action.municipality,
            people_reached=action.people_reached,
            became_candidates=action.became_candidates,
            hours=action.hours,
            outputs=action.outputs,
            recorded_by_id=action.recorded_by,
            recorded_by=who.display_name if who else None,
            recorded_at=action.recorded_at,
        )
        for action, org, who in rows
    ]
    return Page(rows=views, total=int(total), offset=offset, limit=limit)


# --- structures sensitised ------------------------------------------------------------------------


def _fill_structure(row: StructureSensitisation, data: StructureCreate, org: Organisation) -> None:
    row.structure_key = structure_key(data.name)
    row.structure_name = data.name
    row.structure_kind = data.kind
    row.municipality = data.municipality
    row.sensitised_on = data.sensitised_on
    row.by_organisation_id = org.id or 0


def record_structure(
    *,
    session: Session,
    user: User,
    data: StructureCreate | Mapping[str, Any],
    now: dt.datetime,
) -> StructureSensitisation:
    """Record a structure sensitised (advisors and the coordinator); commits.

    A structure sensitised again is a new row with the same `structure_key`: it counts once.
    """
    _require_recorder(user)
    checked, org = _checked(session, data, StructureCreate, now=now)
    row = StructureSensitisation(
        structure_key=structure_key(checked.name),
        structure_name=checked.name,
        structure_kind=checked.kind,
        sensitised_on=checked.sensitised_on,
        by_organisation_id=org.id or 0,
        recorded_by=user.id,
        recorded_at=now,
        source_key=checked.source_key,
    )
    _fill_structure(row, checked, org)
    return _insert(session, row, "structure sensitisation")


def correct_structure(
    *,
    session: Session,
    user: User,
    structure_id: int,
    data: StructureCreate | Mapping[str, Any],
    now: dt.datetime,
) -> StructureSensitisation:
    """Replace a structure sensitisation's data (the coordinator, or whoever last wrote it)."""
    row: StructureSensitisation = _changeable(session, user, StructureSensitisation, structure_id)
    checked, org = _checked(session, data, StructureCreate, now=now)
    _fill_structure(row, checked, org)
    row.recorded_by, row.recorded_at = user.id, now
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def delete_structure(*, session: Session, user: User, structure_id: int) -> None:
    """Delete a structure sensitisation (the coordinator, or whoever last wrote it); commits."""
    row = _changeable(session, user, StructureSensitisation, structure_id)
    session.delete(row)
    session.commit()


@dataclass(frozen=True)
class StructureView:
    id: int
    structure_key: str
    name: str
    kind: StructureKind
    municipality: str | None
    sensitised_on: dt.date
    organisation_key: str
    organisation_name: str
    times_sensitised: int  # rows with this structure_key, in all periods
    recorded_by_id: int | None
    recorded_by: str | None
    recorded_at: dt.datetime

    @property
    def kind_label(self) -> str:
        return STRUCTURE_KIND_LABELS[self.kind]


def _structure_filters(
    start: dt.date | None, end: dt.date | None, kind: StructureKind | None
) -> list[Any]:
    where: list[Any] = []
    if start is not None:
        where.append(col(StructureSensitisation.sensitised_on) >= start)
    if end is not None:
        where.append(col(StructureSensitisation.sensitised_on) <= end)
    if kind is not None:
        where.append(col(StructureSensitisation.structure_kind) == kind)
    return where


def list_structures(
    *,
    session: Session,
    user: User,
    start: dt.date | None = None,
    end: dt.date | None = None,
    kind: StructureKind | str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[StructureView]:
    """Return the structures sensitised between `start` and `end`, newest first, a page at a
    time, each with how many times its structure was sensitised (advisors, coordinator)."""
    _require_recorder(user)
    offset, limit = _paging(offset, limit)
    _period(start, end)
    try:
        chosen = StructureKind(kind) if kind is not None else None
    except ValueError:
        raise InvalidInput({"kind": _choice_message(STRUCTURE_KIND_LABELS)}) from None
    where = _structure_filters(start, end, chosen)
    total = session.exec(select(func.count(col(StructureSensitisation.id))).where(*where)).one()
    times = (
        select(
            col(StructureSensitisation.structure_key).label("key"),
            func.count(col(StructureSensitisation.id)).label("times"),
        )
        .group_by(col(StructureSensitisation.structure_key))
        .subquery()
    )
    rows = session.exec(
        select(StructureSensitisation, Organisation, User, times.c.times)
        .join(Organisation, col(Organisation.id) == col(StructureSensitisation.by_organisation_id))
        .join(times, times.c.key == col(StructureSensitisation.structure_key))
        .outerjoin(User, col(User.id) == col(StructureSensitisation.recorded_by))
        .where(*where)
        .order_by(
            col(StructureSensitisation.sensitised_on).desc(), col(StructureSensitisation.id).desc()
        )
        .offset(offset)
        .limit(limit)
    ).all()
    views = [
        StructureView(
            id=row.id or 0,
            structure_key=row.structure_key,
            name=row.structure_name,
            kind=StructureKind(row.structure_kind),
            municipality=row.municipality,
            sensitised_on=row.sensitised_on,
            organisation_key=org.key,
            organisation_name=org.name,
            times_sensitised=int(count),
            recorded_by_id=row.recorded_by,
            recorded_by=who.display_name if who else None,
            recorded_at=row.recorded_at,
        )
        for row, org, who, count in rows
    ]
    return Page(rows=views, total=int(total), offset=offset, limit=limit)


# --- totals over a period -------------------------------------------------------------------------


@dataclass(frozen=True)
class OutreachSummary:
    """What was recorded in a period, counted as the indicators count it."""

    actions: int
    candidates_reached: int  # indicator 1: people reached by `candidates` actions
    became_candidates: int
    training_reached: int  # indicator 6: people reached by `training` actions
    workshops_held: int  # indicator 9: `prospective` actions
    workshop_participants: int
    first_line_structures: int  # indicator 2: distinct structure keys
    professional_structures: int  # indicator 3: distinct structure keys


def _sum_if(category: OutreachCategory, column: Any) -> Any:
    return func.coalesce(
        func.sum(case((col(OutreachAction.category) == category, column), else_=0)), 0
    )


def outreach_summary(
    *, session: Session, user: User, start: dt.date | None = None, end: dt.date | None = None
) -> OutreachSummary:
    """Return the totals of a period (inclusive), counted in SQL (advisors, coordinator)."""
    _require_recorder(user)
    _period(start, end)
    reached, candidates = col(OutreachAction.people_reached), col(OutreachAction.became_candidates)
    actions = session.execute(
        sa_select(
            func.count(col(OutreachAction.id)),
            _sum_if(OutreachCategory.CANDIDATES, reached),
            _sum_if(OutreachCategory.CANDIDATES, candidates),
            _sum_if(OutreachCategory.TRAINING, reached),
            _sum_if(OutreachCategory.PROSPECTIVE, 1),
            _sum_if(OutreachCategory.PROSPECTIVE, reached),
        ).where(*_action_filters(start, end, ()))
    ).one()
    structures = dict(
        session.exec(
            select(
                col(StructureSensitisation.structure_kind),
                func.count(func.distinct(col(StructureSensitisation.structure_key))),
            )
            .where(*_structure_filters(start, end, None))
            .group_by(col(StructureSensitisation.structure_kind))
        ).all()
    )
    count, cand_reached, became, training, workshops, participants = (int(v) for v in actions)
    return OutreachSummary(
        actions=count,
        candidates_reached=cand_reached,
        became_candidates=became,
        training_reached=training,
        workshops_held=workshops,
        workshop_participants=participants,
        first_line_structures=int(structures.get(StructureKind.FIRST_LINE, 0)),
        professional_structures=int(structures.get(StructureKind.PROFESSIONAL, 0)),
    )
