"""The indicator report: each indicator of rules/indicators.yaml counted in SQL over the facts.

Indicators from the same source are counted together: one query for their totals and one per
breakdown, each indicator a conditional aggregate (`count(distinct case when <its filter> then
participant_id end)`), so the number of queries depends on the sources and breakdowns, never on
the number of participants, and no row is loaded into Python to be counted.

A participant counts once per indicator over the period, however many stays, trainings or
creations they have in it: a participant who leaves and re-enters is counted once, and one
counted in two periods counts once over both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, false, func, literal, or_, select, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from crealux_core.clock import local_today
from crealux_core.domain.indicators import (
    DIMENSION_LABELS,
    OUTREACH_KINDS,
    UNKNOWN,
    VALUE_LABELS,
    Line,
    Report,
    target_for,
)
from crealux_core.models import (
    BusinessCreation,
    EntrySituation,
    ExitSituation,
    Organisation,
    OutreachAction,
    Participant,
    Placement,
    Stay,
    StructureSensitisation,
    TrainingRecord,
    User,
)
from crealux_core.rules.indicators import (
    DIMENSIONS,
    Counts,
    IndicatorSpec,
    IndicatorsSpec,
    Source,
)
from crealux_core.rules.specs import Rules
from crealux_core.services import policy
from crealux_core.services.errors import Forbidden, InvalidInput
from crealux_core.services.policy import Action

ALIASES = {"age": "age_band", "genre": "gender", "commune": "municipality", "sexe": "gender"}
KNOWN_DIMENSIONS = tuple(dict.fromkeys(d for dims in DIMENSIONS.values() for d in dims))


def _age_band(age: Any) -> ColumnElement[Any]:
    return case(
        (age.is_(None), literal("unknown")),
        (age < 18, literal("under_18")),
        (age <= 29, literal("18_29")),
        (age <= 54, literal("30_54")),
        else_=literal("55_plus"),
    )


def _known(column: Any) -> ColumnElement[Any]:
    return func.coalesce(column, literal(UNKNOWN))


def _participant_columns(organisation: Any) -> list[ColumnElement[Any]]:
    return [
        col(Participant.id).label("participant_id"),
        col(Participant.gender).label("gender"),
        _age_band(col(EntrySituation.age_at_entry)).label("age_band"),
        _known(Participant.municipality).label("municipality"),
        _known(organisation).label("organisation"),
    ]


def _with_participant(query: Select[Any], participant_id: Any) -> Select[Any]:
    """Join a fact to its participant and their entry situation (age at entry)."""
    return query.join(Participant, col(Participant.id) == participant_id).outerjoin(
        EntrySituation, col(EntrySituation.participant_id) == col(Participant.id)
    )


def _advisor_organisation(query: Select[Any]) -> Select[Any]:
    return query.join(User, col(User.id) == col(Participant.advisor_id)).join(
        Organisation, col(Organisation.id) == col(User.organisation_id)
    )


def stay_overlaps(start: date, end: date, today: date) -> ColumnElement[bool]:
    """A stay accompanied during [start, end]: started by its end, and ended on or after its
    start, or still open, which is known only up to today (a period to come counts nobody
    still accompanied today: nothing is projected)."""
    ended_in_time = col(Stay.ended_on) >= start
    if start > today:
        return and_(col(Stay.started_on) <= end, ended_in_time)
    return and_(col(Stay.started_on) <= end, or_(col(Stay.ended_on).is_(None), ended_in_time))


def _source_rows(source: Source, start: date, end: date, today: date) -> Select[Any]:
    """Return the rows of a source within the period, with every column a filter or a
    breakdown may read."""
    if source is Source.STAYS:
        query = select(*_participant_columns(Organisation.key)).select_from(Stay)
        query = _advisor_organisation(_with_participant(query, col(Stay.participant_id)))
        return query.where(stay_overlaps(start, end, today))
    if source is Source.ENTRIES:
        query = select(
            *_participant_columns(Organisation.key),
            col(EntrySituation.labour_status),
            col(EntrySituation.education_level),
            col(EntrySituation.disability),
            col(EntrySituation.foreign_background),
            col(EntrySituation.third_country_national),
            col(EntrySituation.minority),
            col(EntrySituation.homeless),
            col(EntrySituation.rural_area),
        ).select_from(EntrySituation)
        query = query.join(Participant, col(Participant.id) == col(EntrySituation.participant_id))
        query = _advisor_organisation(query)
        return query.where(col(EntrySituation.entered_on).between(start, end))
    if source is Source.EXITS:
        query = select(
            *_participant_columns(Organisation.key),
            col(ExitSituation.moment),
            _known(ExitSituation.situation).label("situation"),
            col(ExitSituation.qualification_gained),
            col(ExitSituation.improved),
            col(ExitSituation.reason),
        ).select_from(ExitSituation)
        query = _advisor_organisation(_with_participant(query, col(ExitSituation.participant_id)))
        return query.where(col(ExitSituation.left_on).between(start, end))
    if source is Source.BUSINESSES:
        return _per_step_fact(
            BusinessCreation,
            BusinessCreation.started_on,
            start,
            end,
            _known(BusinessCreation.sector).label("sector"),
            _known(BusinessCreation.status).label("status"),
        )
    if source is Source.TRAININGS:
        return _per_step_fact(
            TrainingRecord,
            TrainingRecord.ended_on,
            start,
            end,
            _known(TrainingRecord.kind).label("kind"),
            col(TrainingRecord.completed),
            col(TrainingRecord.qualification),
        )
    if source is Source.PLACEMENTS:
        return _per_step_fact(
            Placement,
            Placement.started_on,
            start,
            end,
            _known(Placement.sector).label("sector"),
            col(Placement.employed),
            col(Placement.contract),
        )
    if source is Source.OUTREACH:
        return (
            select(
                col(OutreachAction.id).label("action_id"),
                col(OutreachAction.category),
                col(OutreachAction.kind),
                col(OutreachAction.people_reached),
                col(OutreachAction.became_candidates),
                col(Organisation.key).label("organisation"),
                _known(OutreachAction.municipality).label("municipality"),
            )
            .select_from(OutreachAction)
            .join(Organisation, col(Organisation.id) == col(OutreachAction.organiser_id))
            .where(col(OutreachAction.held_on).between(start, end))
        )
    return (
        select(
            col(StructureSensitisation.structure_key),
            col(StructureSensitisation.structure_kind),
            col(Organisation.key).label("organisation"),
            _known(StructureSensitisation.municipality).label("municipality"),
        )
        .select_from(StructureSensitisation)
        .join(Organisation, col(Organisation.id) == col(StructureSensitisation.by_organisation_id))
        .where(col(StructureSensitisation.sensitised_on).between(start, end))
    )


def _per_step_fact(model: Any, on: Any, start: date, end: date, *columns: Any) -> Select[Any]:
    """Rows of a business, a training or a placement, by the organisation that recorded it."""
    organisation = aliased(Organisation, name="fact_organisation")
    query = select(*_participant_columns(organisation.key), *columns).select_from(model)
    query = _with_participant(query, col(model.participant_id)).outerjoin(
        organisation, col(organisation.id) == col(model.organisation_id)
    )
    return query.where(col(on).between(start, end))


def _holds(rows: Any, spec: IndicatorSpec) -> ColumnElement[bool]:
    """Return the SQL condition of an indicator's `where` over its source's rows."""
    tests: list[ColumnElement[bool]] = []
    for name, wanted in spec.where.items():
        column = rows.c[name]
        if isinstance(wanted, tuple):
            tests.append(column.in_([_db_value(column, v) for v in wanted]))
        elif isinstance(wanted, bool):
            tests.append(column.is_(true()) if wanted else column.is_(false()))
        else:
            tests.append(column == _db_value(column, wanted))
    return and_(true(), *tests)


def _db_value(column: Any, value: Any) -> Any:
    """Return a filter value as its column takes it: enum columns (an outreach action's
    category and kind, a structure's kind) take the enum's member."""
    enum_class = getattr(column.type, "enum_class", None)
    return enum_class(value) if enum_class is not None else value


def _aggregate(rows: Any, spec: IndicatorSpec, *, one_row_each: bool) -> ColumnElement[Any]:
    """The SQL that counts an indicator over its source's rows. `one_row_each`: the source has
    one row per participant (the first entry), so counting rows counts participants, without
    the cost of a distinct."""
    holds = _holds(rows, spec)
    if spec.counts is Counts.PARTICIPANTS and one_row_each:
        return func.count(case((holds, rows.c.participant_id)))
    if spec.counts is Counts.PARTICIPANTS:
        return func.count(func.distinct(case((holds, rows.c.participant_id))))
    if spec.counts is Counts.STRUCTURES:
        return func.count(func.distinct(case((holds, rows.c.structure_key))))
    if spec.counts is Counts.ACTIONS:
        return func.count(case((holds, rows.c.action_id)))
    column = (
        rows.c.people_reached if spec.counts is Counts.PEOPLE_REACHED else rows.c.became_candidates
    )
    return func.coalesce(func.sum(case((holds, column), else_=0)), 0)


@dataclass
class _Counted:
    total: int = 0
    by: dict[str, dict[str, int]] | None = None


def _enum_text(value: Any) -> str:
    """A breakdown value as text: an enum's value (`female`), any other value as it is
    (`Durbuy` keeps its capital)."""
    if value is None:
        return UNKNOWN
    return str(getattr(value, "value", value))


def _wanted(spec: IndicatorSpec, dimension: str) -> bool:
    """Tell whether an indicator shows a breakdown its source was counted by."""
    return (
        dimension in spec.breakdowns
        or dimension == spec.detail
        or (dimension == "gender" and spec.per_participant)
        or spec.code is not None  # an ESF+ indicator: any breakdown asked
    )


def _count_source(
    session: Session,
    source: Source,
    specs: Sequence[IndicatorSpec],
    dimensions: Iterable[str],
    start: date,
    end: date,
    today: date,
) -> dict[str, _Counted]:
    rows = _source_rows(source, start, end, today).subquery()
    one_row_each = source is Source.ENTRIES
    aggregates = [
        _aggregate(rows, spec, one_row_each=one_row_each).label(f"i{n}")
        for n, spec in enumerate(specs)
    ]
    counted = {spec.key: _Counted(0, {}) for spec in specs}
    # Each participant has one gender: counted by gender, participants add up to the total,
    # and the source is read once instead of twice.
    totals_from_gender = "gender" in dimensions and all(spec.per_participant for spec in specs)
    if not totals_from_gender:
        totals = session.execute(select(*aggregates)).one()
        for n, spec in enumerate(specs):
            counted[spec.key].total = int(totals[n] or 0)
    for dimension in dimensions:
        for spec in specs:  # a breakdown counted is there even when nobody is in it
            if _wanted(spec, dimension):
                by = counted[spec.key].by
                assert by is not None
                by.setdefault(dimension, {})
        grouped = session.execute(
            select(rows.c[dimension], *aggregates).group_by(rows.c[dimension])
        ).all()
        for row in grouped:
            value = _enum_text(row[0])
            for n, spec in enumerate(specs):
                number = int(row[n + 1] or 0)
                if dimension == "gender" and totals_from_gender:
                    counted[spec.key].total += number
                if number and _wanted(spec, dimension):
                    by = counted[spec.key].by
                    assert by is not None
                    by.setdefault(dimension, {})[value] = number
    return counted


def _dimensions_of(source: Source, specs: Sequence[IndicatorSpec], by: Sequence[str]) -> list[str]:
    """The breakdowns to count for a source: gender for participants, each indicator's
    detail, and those asked that the source knows."""
    wanted: list[str] = []
    for spec in specs:
        if spec.per_participant:
            wanted.append("gender")
        if spec.detail:
            wanted.append(spec.detail)
        wanted += [d for d in by if d in spec.breakdowns or (d in DIMENSIONS[source] and spec.code)]
    return [d for d in dict.fromkeys(wanted) if d in DIMENSIONS[source]]


def _seeded_detail(spec: IndicatorSpec) -> dict[str, int]:
    """The detail's values the indicator filters on, at zero: creations as principal and as
    complementary self-employment are both said, even when one has none."""
    assert spec.detail
    filtered = spec.where.get(spec.detail, ())
    values = filtered if isinstance(filtered, tuple) else (filtered,)
    return {_enum_text(value): 0 for value in values if not isinstance(value, bool)}


def _lines(
    session: Session,
    specs: dict[str, IndicatorSpec],
    indicators: IndicatorsSpec,
    by: Sequence[str],
    start: date,
    end: date,
    today: date,
) -> tuple[Line, ...]:
    by_source: dict[Source, list[IndicatorSpec]] = {}
    for spec in specs.values():
        by_source.setdefault(spec.source, []).append(spec)
    counted: dict[str, _Counted] = {}
    for source, source_specs in by_source.items():
        dimensions = _dimensions_of(source, source_specs, by)
        counted |= _count_source(session, source, source_specs, dimensions, start, end, today)
    lines = []
    for spec in specs.values():
        result = counted[spec.key]
        breakdowns = dict(result.by or {})
        detail = _seeded_detail(spec) | dict(breakdowns.get(spec.detail, {})) if spec.detail else {}
        if spec.detail and spec.detail not in by:
            breakdowns.pop(spec.detail, None)
        lines.append(
            Line(
                key=spec.key,
                code=spec.code,
                label_fr=spec.label.fr,
                label_en=spec.label.en,
                counts=spec.counts.value,
                target=target_for(spec, indicators.programme, start, end),
                achieved=result.total,
                detail=detail,
                detail_by=spec.detail,
                breakdowns=breakdowns,
            )
        )
    return tuple(lines)


def _value_labels(session: Session, rules: Rules) -> dict[str, dict[str, str]]:
    """Labels of breakdown values: fixed ones, organisation names, and the choices of the
    fields that record sectors and training kinds (newest version last, so it wins)."""
    labels = {dimension: dict(values) for dimension, values in VALUE_LABELS.items()}
    labels["organisation"] = {
        key: name
        for key, name in session.execute(select(col(Organisation.key), col(Organisation.name)))
    }
    labels["kind"] = dict(OUTREACH_KINDS)
    for by_version in rules.versions.values():
        for version in sorted(by_version):
            pathway = by_version[version]
            for step in (*pathway.steps.values(), *pathway.optional.values()):
                for field in step.form.values():
                    if field.records in ("business.sector", "placement.sector"):
                        labels.setdefault("sector", {}).update(field.choices or {})
                    elif field.records == "training.kind":
                        labels["kind"].update(field.choices or {})
    return labels


def parse_breakdowns(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return the breakdowns asked (`gender,age`): known names, aliases resolved; raise
    InvalidInput naming the unknown ones."""
    if text is None:
        return ()
    names = text.split(",") if isinstance(text, str) else list(text)
    asked = [ALIASES.get(n.strip().lower(), n.strip().lower()) for n in names if n.strip()]
    unknown = [n for n in asked if n not in KNOWN_DIMENSIONS]
    if unknown:
        raise InvalidInput(
            {
                "by": f"ventilation inconnue : {', '.join(unknown)} ; connues : "
                + ", ".join(KNOWN_DIMENSIONS)
            }
        )
    return tuple(dict.fromkeys(asked))


def indicator_report(
    *,
    session: Session,
    rules: Rules,
    user: User,
    start: date | None = None,
    end: date | None = None,
    by: Sequence[str] = (),
    now: datetime,
) -> Report:
    """Count every indicator over [start, end] (both days included; the programme's period by
    default), with the gender breakdown of participant indicators and the breakdowns in `by`."""
    if not policy.can(user, Action.READ_REPORTS):
        raise Forbidden(f"{user.username} may not read the indicator report")
    indicators = rules.indicators
    if indicators is None:
        raise InvalidInput({"rules": "pas de fichier rules/indicators.yaml : aucun indicateur"})
    start = start or indicators.programme.starts_on
    end = end or indicators.programme.ends_on
    if end < start:
        raise InvalidInput({"to": f"la fin ({end}) est avant le début ({start})"})
    asked = parse_breakdowns(by)
    today = local_today(now)
    return Report(
        title=indicators.programme.title,
        funder=indicators.programme.funder,
        period_start=start,
        period_end=end,
        generated_at=now,
        lines=_lines(session, indicators.indicators, indicators, asked, start, end, today),
        esf=_lines(session, indicators.esf, indicators, asked, start, end, today),
        by=("gender", *[d for d in asked if d != "gender"]),
        value_labels=_value_labels(session, rules) | {"dimension": DIMENSION_LABELS},
    )
