"""Frozen specs loaded from rules/: pathways, their steps and forms, the organisations, and the
orientation advice."""

from __future__ import annotations

import calendar
import hashlib
import re
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from crealux_core.rules.facts import FACTS, SUPPORT_KINDS, FactKind

if TYPE_CHECKING:
    from crealux_core.rules.indicators import IndicatorsSpec
    from crealux_core.rules.notifications import NotificationsSpec

_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_KEY = r"^[a-z][a-z0-9_-]*$"
_ANCHORED = re.compile(
    r"^(?P<span>\S+)\s+after\s+(?P<step>[a-z][a-z0-9_-]*)\.(?P<field>[a-z][a-z0-9_]*)$"
)


def parse_iso_duration(value: Any) -> timedelta:
    """Return the timedelta of an ISO 8601 duration without months or years (P14D, PT48H)."""
    if isinstance(value, timedelta):
        return value
    span = Span.parse(value)
    if span.months:
        raise ValueError(f"{value!r}: months and years are not allowed here, write days")
    return span.delta


def _add_months(moment: datetime, months: int) -> datetime:
    """Return the same day `months` later (or earlier), clamped to the month's last day."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


class Span(BaseModel):
    """An ISO 8601 duration: calendar months (and years) first, then weeks, days and time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    months: int = 0
    delta: timedelta = timedelta(0)

    @classmethod
    def parse(cls, value: Any) -> Span:
        if isinstance(value, Span):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected an ISO 8601 duration such as P14D, got {value!r}")
        match = _ISO_DURATION.match(value.strip())
        if match is None:
            raise ValueError(
                f"{value!r} is not an ISO 8601 duration (for example P14D, P2W, P3M, P1Y, PT48H)"
            )
        parts = {name: int(number) for name, number in match.groupdict().items() if number}
        months = parts.pop("years", 0) * 12 + parts.pop("months", 0)
        return cls(text=value.strip(), months=months, delta=timedelta(**parts))

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return cls.parse(value).__dict__ if isinstance(value, str) else value

    def after(self, moment: datetime) -> datetime:
        return _add_months(moment, self.months) + self.delta

    def before(self, moment: datetime) -> datetime:
        return _add_months(moment, -self.months) - self.delta


class Anchored(BaseModel):
    """A duration after a step's opening, or after a date answered in an earlier step
    (`P3M after business_creation.started_on`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span
    step: str | None = None
    field: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _ANCHORED.match(value.strip())
        if match is None:
            return {"span": value}
        return {"span": match["span"], "step": match["step"], "field": match["field"]}


IsoDuration = Annotated[timedelta, BeforeValidator(parse_iso_duration)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    ADVISOR = "advisor"
    PARTNER = "partner"
    COORDINATOR = "coordinator"


class OrganisationKind(StrEnum):
    COORDINATOR = "coordinator"
    TRAINING_CENTRE = "training_centre"
    BUSINESS_CREATION = "business_creation"
    WORK_INTEGRATION = "work_integration"
    FIRST_LINE = "first_line"
    PROFESSIONAL = "professional"
    PUBLIC_EMPLOYMENT = "public_employment"  # the public employment service (Forem)
    SOCIAL_WELFARE = "social_welfare"  # a public social-welfare centre (CPAS)


class ChannelSpec(Frozen):
    """One notification channel of an organisation: an Apprise URL (e-mail, Microsoft Teams,
    Slack, an SMS gateway, ntfy...) and the tags notification routes name it by. Secrets in it
    come from the environment or a file (`${NAME}`, `${file:/path}`), never from rules/."""

    url: str = Field(min_length=1)
    tags: tuple[str, ...] = ()


def _channels(value: Any) -> Any:
    """A channel may be written as its URL alone."""
    if isinstance(value, list | tuple):
        return [{"url": item} if isinstance(item, str) else item for item in value]
    return value


class OfferKind(StrEnum):
    SERVICE = "service"  # a service a participant is referred to (coaching, a job club...)
    TRAINING = "training"  # a training module, given in sessions


class OfferSpec(Frozen):
    """A service or training module an organisation offers; referrals and training sessions
    name it `organisation-key/offer-key`."""

    key: str = Field(pattern=_KEY)
    title: str = Field(min_length=1)
    kind: OfferKind = OfferKind.SERVICE
    description: str = ""
    hours: float | None = Field(default=None, gt=0, description="a training module's length")
    qualifying: bool = Field(default=False, description="a training that can give a qualification")


class OrganisationSpec(Frozen):
    """A partner of the partnership, its offer, and where its notifications go."""

    key: str = Field(pattern=_KEY)
    name: str = Field(min_length=1)
    kind: OrganisationKind
    notify: Annotated[tuple[ChannelSpec, ...], BeforeValidator(_channels)] = ()
    digest: bool = Field(
        default=False,
        description="a shared inbox: one daily digest instead of one message per step",
    )
    offers: Annotated[dict[str, OfferSpec], BeforeValidator(lambda value: _keyed(value))] = Field(
        default_factory=dict
    )

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(channel.url for channel in self.notify)


class FieldType(StrEnum):
    BOOL = "bool"
    INT = "int"
    DATE = "date"
    CHOICE = "choice"
    SCALE = "scale"  # a whole number on a short scale (1 to 5), the participant's own answer
    COMPANY_NUMBER = "company_number"  # a Belgian enterprise number, checked modulo 97


class DateAnchor(StrEnum):
    ENROLMENT = "enrolment"
    TODAY = "today"


_DATE_BOUND = re.compile(r"^(?P<anchor>[a-z]+)(?:\s*(?P<sign>[+-])\s*(?P<span>P\S+))?$")


class DateBound(Frozen):
    """A limit of a date field, in days from the participant's enrolment or from today.

    Written `enrolment - P365D`, `today + P730D` or `today` in the rules.
    """

    anchor: DateAnchor
    days: int = 0

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _DATE_BOUND.match(value.strip())
        if match is None:
            raise ValueError(
                f"{value!r} is not a date limit such as 'enrolment - P365D' or 'today + P30D'"
            )
        offset = parse_iso_duration(match["span"]) if match["span"] else timedelta(0)
        if offset % timedelta(days=1):
            raise ValueError(f"{value!r}: a date limit moves by whole days (P30D, P2W)")
        days = -offset.days if match["sign"] == "-" else offset.days
        return {"anchor": match["anchor"], "days": days}

    def __str__(self) -> str:
        if not self.days:
            return self.anchor.value
        return f"{self.anchor.value} {'-' if self.days < 0 else '+'} P{abs(self.days)}D"


# A date field is the date of something that happened: within a year of the enrolment or today.
PAST_DATES = (
    DateBound(anchor=DateAnchor.ENROLMENT, days=-365),
    DateBound(anchor=DateAnchor.TODAY, days=365),
)
# A `future: true` date is planned (a training start): from a month ago to two years ahead.
FUTURE_DATES = (
    DateBound(anchor=DateAnchor.TODAY, days=-30),
    DateBound(anchor=DateAnchor.TODAY, days=730),
)


class FieldSpec(Frozen):
    """One typed answer of a step's outcome.

    Free text never goes here: notes stay in the application database. A date field accepts
    days from `earliest` to `latest`; unset, they are PAST_DATES, or FUTURE_DATES for a
    `future: true` field.
    """

    type: FieldType
    label: str = Field(min_length=1)
    help: str | None = None
    required: bool = True
    choices: dict[str, str] | None = None
    min: int | None = None
    max: int | None = None
    earliest: DateBound | None = None
    latest: DateBound | None = None
    future: bool = False
    records: str | None = Field(
        default=None,
        description="the fact this answer records for reports (rules/facts.py), e.g. "
        "entry.labour_status",
    )

    @model_validator(mode="after")
    def _records_a_known_fact(self) -> FieldSpec:
        if self.records is None:
            return self
        fact = FACTS.get(self.records)
        if fact is None:
            raise ValueError(
                f"records: {self.records!r} is not a fact reports know; known: "
                + ", ".join(sorted(FACTS))
            )
        kind = _FACT_KIND_OF.get(self.type)
        if kind is not fact.kind:
            raise ValueError(
                f"records: {self.records} is a {fact.kind.value} fact, not a {self.type.value}"
                " field"
            )
        if fact.values is not None and self.choices is not None:
            unknown = sorted(set(self.choices) - fact.values)
            if unknown:
                raise ValueError(
                    f"records: {self.records} knows the values "
                    f"{', '.join(sorted(fact.values))}; not {', '.join(unknown)}"
                )
        return self

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> FieldSpec:
        if self.type is FieldType.CHOICE and not self.choices:
            raise ValueError("a choice field needs 'choices' (value: label)")
        if self.type is not FieldType.CHOICE and self.choices is not None:
            raise ValueError(f"'choices' is only for choice fields, not {self.type.value}")
        numeric = (FieldType.INT, FieldType.SCALE)
        if (self.min is not None or self.max is not None) and self.type not in numeric:
            raise ValueError("'min' and 'max' are only for int and scale fields")
        if self.type is FieldType.SCALE and (self.min is None or self.max is None):
            raise ValueError("a scale field needs 'min' and 'max' (for example 1 and 5)")
        if self.type is FieldType.SCALE and self.max - self.min > 10:  # type: ignore[operator]
            raise ValueError("a scale has at most 11 points: use an int field for more")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is above 'max' ({self.max})")
        dated = self.earliest is not None or self.latest is not None or self.future
        if dated and self.type is not FieldType.DATE:
            raise ValueError("'earliest', 'latest' and 'future' are only for date fields")
        earliest, latest = self.date_window()
        if earliest.anchor is latest.anchor and earliest.days > latest.days:
            raise ValueError(f"no date fits: 'earliest' ({earliest}) is after 'latest' ({latest})")
        return self

    def date_window(self) -> tuple[DateBound, DateBound]:
        """Return the earliest and latest day a date field accepts, defaults filled in."""
        default = FUTURE_DATES if self.future else PAST_DATES
        return self.earliest or default[0], self.latest or default[1]


_FACT_KIND_OF = {
    FieldType.BOOL: FactKind.BOOL,
    FieldType.INT: FactKind.INT,
    FieldType.SCALE: FactKind.INT,
    FieldType.DATE: FactKind.DATE,
    FieldType.CHOICE: FactKind.CHOICE,
    FieldType.COMPANY_NUMBER: FactKind.COMPANY_NUMBER,
}


class SupportSpec(Frozen):
    """The support a completed step gives its participant (an interview of an hour): the
    hours of support per participant are summed from these, plus recorded corrections."""

    kind: str = Field(description="interview, information_session or training")
    hours: float = Field(gt=0, le=100)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in SUPPORT_KINDS:
            raise ValueError(f"{kind!r} is not a kind of support: {', '.join(SUPPORT_KINDS)}")
        return kind


class TransitionSpec(Frozen):
    """Where the pathway goes after a step: the first transition whose condition holds wins."""

    when: str | None = None
    to: str | None


def _transitions(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"to": value}]
    return value


class OverdueSpec(Frozen):
    """What happens when a step stays open too long: a deadline event closes it (for example
    `reason: lost_to_follow_up`) and the pathway goes `to` a step, or ends (`to: null`)."""

    after: Span = Field(default_factory=lambda: Span.parse("P0D"), description="after due")
    reason: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    to: str | None = None


class ReferralSpec(Frozen):
    """How a step with `assign: referral` sends the participant to a partner: the offers the
    advisor may choose from (`organisation/offer`; none listed: every offer of kind service), how
    long the partner has to answer, when it is reminded before that and when the coordinator
    is told after."""

    offers: tuple[str, ...] = ()
    answer: Span = Field(default_factory=lambda: Span.parse("P7D"))
    remind: Span | None = Field(default=None, description="before the answer is due")
    escalate: Span | None = Field(default=None, description="after the answer was due")

    @field_validator("offers")
    @classmethod
    def _offer_names(cls, offers: tuple[str, ...]) -> tuple[str, ...]:
        for offer in offers:
            if not re.match(r"^[a-z][a-z0-9_-]*/[a-z][a-z0-9_-]*$", offer):
                raise ValueError(f"{offer!r} is not an offer: write organisation/offer")
        return offers


class StepSpec(Frozen):
    key: str = Field(pattern=_KEY)
    title: str = Field(min_length=1)
    description: str = ""
    role: Role = Role.ADVISOR
    concerns: str = Field(description="key of the organisation told when the step opens")
    due: Anchored
    remind: Span | None = Field(default=None, description="before due: remind the step's owner")
    escalate: Span | None = Field(default=None, description="after due: tell the coordinator")
    on_overdue: OverdueSpec | None = None
    opens: Anchored | None = Field(
        default=None, description="open later than its predecessor, e.g. P3M after a.started_on"
    )
    form: dict[str, FieldSpec] = Field(default_factory=dict)
    support: SupportSpec | None = Field(
        default=None, description="the support completing this step counts (hours, kind)"
    )
    next: Annotated[tuple[TransitionSpec, ...], BeforeValidator(_transitions)] = ()
    assign: Literal["referral"] | None = Field(
        default=None,
        description="referral: the advisor sends the participant to a partner's offer; once "
        "the partner accepts, the step is the partner's (its form), from the start date",
    )
    referral: ReferralSpec | None = None

    @model_validator(mode="after")
    def _referral_settings(self) -> StepSpec:
        if self.referral is not None and self.assign != "referral":
            raise ValueError("'referral:' settings need 'assign: referral'")
        if self.assign == "referral" and self.role is not Role.PARTNER:
            raise ValueError("a step with 'assign: referral' is a partner's: write 'role: partner'")
        return self

    @property
    def referral_settings(self) -> ReferralSpec:
        return self.referral or ReferralSpec()

    @field_validator("form")
    @classmethod
    def _field_names_are_identifiers(cls, form: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for name in form:
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                raise ValueError(f"field name {name!r} must be lower_snake_case")
        return form


def _keyed(value: Any) -> Any:
    """Fill each mapping entry's `key` from its name in the YAML mapping."""
    if isinstance(value, dict):
        return {
            name: {"key": name, **body} if isinstance(body, dict) else body
            for name, body in value.items()
        }
    return value


class PathwaySpec(Frozen):
    key: str = Field(pattern=_KEY)
    version: int = Field(ge=1)
    title: str
    start: str
    steps: Annotated[dict[str, StepSpec], BeforeValidator(_keyed)]
    optional: Annotated[dict[str, StepSpec], BeforeValidator(_keyed)] = Field(
        default_factory=dict,
        description="the catalogue of optional steps an advisor may add alongside the pathway",
    )

    def step(self, key: str) -> StepSpec:
        """Return a step of the pathway, or of its catalogue of optional steps."""
        if key in self.steps:
            return self.steps[key]
        return self.optional[key]

    def digest(self) -> str:
        """Return a fingerprint of the whole definition: an edit changes it (a new optional
        key of a later version of this program, left at its default, does not)."""
        return _digest(self.model_dump_json(exclude_defaults=True))


@lru_cache(maxsize=64)
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class AdviceRuleSpec(Frozen):
    """One rule of orientation advice: when its condition holds, advise `route`, `because`."""

    key: str = Field(pattern=_KEY, max_length=64)
    when: str = Field(min_length=1)
    route: str = Field(min_length=1)
    because: str = Field(min_length=1, description="why, in French, for the advisor")


class OrientationSpec(Frozen):
    """Advice for the orientation decision (rules/orientation.yaml): conditions over the
    answers of earlier steps of a pathway, each recommending a choice of the decided field;
    the first rule that holds wins.

    `fields`, `routes` and `versions` are not written in the file: the loader fills them from
    the pathway, checked against its newest version.
    """

    pathway: str = Field(pattern=_KEY)
    reads: tuple[str, ...] = Field(min_length=1, description="steps whose answers are read")
    decides: str = Field(
        pattern=r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_]*$",
        description="step.field: the choice field the advice recommends a value of",
    )
    advice: tuple[AdviceRuleSpec, ...] = Field(min_length=1)
    fields: dict[str, FieldSpec] = Field(
        default_factory=dict, description="what conditions read: the fields of `reads`"
    )
    routes: dict[str, str] = Field(
        default_factory=dict, description="the choices of the decided field: value -> label"
    )
    versions: tuple[int, ...] = Field(
        default=(),
        description="the versions of the pathway whose steps ask every field read, as typed",
    )

    @property
    def decided_step(self) -> str:
        return self.decides.partition(".")[0]

    @property
    def decided_field(self) -> str:
        return self.decides.partition(".")[2]

    def applies_to(self, pathway_key: str, version: int) -> bool:
        """Tell whether advice is given for a run on this version of a pathway."""
        return pathway_key == self.pathway and version in self.versions


class Rules(Frozen):
    """Everything loaded from one rules directory; every version of every pathway stays loaded."""

    pathways: dict[str, PathwaySpec] = Field(description="the newest version of each pathway")
    versions: dict[str, dict[int, PathwaySpec]] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict, description="'key@version' -> file")
    organisations: dict[str, OrganisationSpec]
    default_pathway: str
    orientation: OrientationSpec | None = Field(
        default=None, description="orientation advice; None without rules/orientation.yaml"
    )

    notifications: NotificationsSpec | None = Field(
        default=None, description="notification routes; None without rules/notifications.yaml"
    )
    indicators: IndicatorsSpec | None = Field(
        default=None, description="indicators and targets; None without rules/indicators.yaml"
    )

    def pathway(self, key: str | None = None) -> PathwaySpec:
        """Return the newest version of a pathway: the one new enrolments start on."""
        return self.pathways[key or self.default_pathway]

    def pathway_version(self, key: str, version: int) -> PathwaySpec | None:
        return self.versions.get(key, {}).get(version)

    def orientation_for(self, pathway_key: str, version: int) -> OrientationSpec | None:
        """Return the orientation advice for a run on this version of a pathway, None when
        there is none (no advice file, another pathway, a version that lacks fields read)."""
        spec = self.orientation
        return spec if spec is not None and spec.applies_to(pathway_key, version) else None

    def source_of(self, key: str, version: int) -> str:
        return self.sources.get(f"{key}@{version}", "rules/pathways")
