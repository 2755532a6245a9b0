"""Notification routes (rules/notifications.yaml): which event goes to whom, with which
template (rules/templates/<language>/<name>.txt and .html). See docs/notifications-routing.md.

Without the file, no routes: every event goes where the built-in routes of
`services.routing` send it, in the words of `domain.messages`. An event the file leaves out
keeps its built-in route too; `to: []` silences it.

Everything is checked when the rules load, each problem with its file, line and path: an
unknown event, recipient or template, a tag that no organisation's channel carries (refused:
a misspelt tag would otherwise send nothing where it should), a template that does not compile
or that uses something its message does not carry (each routed template is rendered once with
made-up values, so `participant.last_name` is refused here, not at three in the morning).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from crealux_core.domain import templates as rendering
from crealux_core.rules.specs import Frozen, OrganisationSpec

if TYPE_CHECKING:
    from crealux_core.rules.loader import Problem

TEMPLATES_DIR = "templates"
Language = Literal["fr", "en"]
DEFAULT_LANGUAGE: Language = "fr"


class NotificationEvent(StrEnum):
    STEP_OPENED = "step_opened"
    CHECKPOINT_DUE = (
        "checkpoint_due"  # a checkpoint step (`steps:`) opening, instead of step_opened
    )
    STEP_DUE_SOON = "step_due_soon"  # the reminder before a step's due date
    STEP_OVERDUE = "step_overdue"  # the escalation after it
    REFERRAL_MADE = "referral_made"
    REFERRAL_UNANSWERED = "referral_unanswered"  # stage: reminder, then escalation
    REFERRAL_ANSWERED = "referral_answered"
    SESSION_FULL = "session_full"
    PATHWAY_ENDED = "pathway_ended"


class RecipientKind(StrEnum):
    STEP_OWNER = "step_owner"  # the step's assignee, else its organisation
    STEP_ASSIGNEE = "step_assignee"  # the step's assignee; nobody when it has none
    PARTICIPANT_ADVISOR = "participant_advisor"
    ORGANISATION = "organisation"  # the step's, the referral's or the training session's
    COORDINATOR = "coordinator"  # the coordinating organisation
    PARTICIPANT = "participant"  # where they consented and have an e-mail address


class Stage(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"


_STEP_KINDS = frozenset(RecipientKind)
ALLOWED: dict[NotificationEvent, frozenset[RecipientKind]] = {
    **{
        event: _STEP_KINDS
        for event in NotificationEvent
        if event not in (NotificationEvent.PATHWAY_ENDED, NotificationEvent.SESSION_FULL)
    },
    NotificationEvent.PATHWAY_ENDED: frozenset(
        {RecipientKind.PARTICIPANT_ADVISOR, RecipientKind.COORDINATOR, RecipientKind.PARTICIPANT}
    ),
    NotificationEvent.SESSION_FULL: frozenset(
        {RecipientKind.ORGANISATION, RecipientKind.COORDINATOR}
    ),
}


class RecipientSpec(Frozen):
    """One recipient of an event's messages, and the template its message is made from."""

    recipient: RecipientKind
    template: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    tag: str | None = Field(
        default=None, description="organisation only: the channels carrying this tag"
    )
    language: Language | None = Field(default=None, description="else the organisation's, or fr")
    stage: Stage | None = Field(default=None, description="referral_unanswered only")


class RouteSpec(Frozen):
    """Who an event's messages go to."""

    to: tuple[RecipientSpec, ...] = ()
    steps: tuple[str, ...] = Field(
        default=(), description="checkpoint_due only: the step keys that are checkpoints"
    )

    def recipients(self, stage: Stage | None = None) -> tuple[RecipientSpec, ...]:
        return tuple(spec for spec in self.to if spec.stage == stage)


class OrganisationNotifySpec(Frozen):
    language: Language = DEFAULT_LANGUAGE


class TemplateSpec(Frozen):
    """A template's two texts, as read from rules/templates/ when the rules loaded."""

    name: str
    language: Language
    text: str
    html: str
    text_file: str
    html_file: str


class NotificationsSpec(Frozen):
    """The routes of rules/notifications.yaml and the templates they name."""

    language: Language = DEFAULT_LANGUAGE
    organisations: dict[str, OrganisationNotifySpec] = Field(default_factory=dict)
    events: dict[NotificationEvent, RouteSpec] = Field(default_factory=dict)
    templates: dict[str, TemplateSpec] = Field(default_factory=dict, exclude=True)

    def route(self, event: NotificationEvent) -> RouteSpec | None:
        """Return the event's route, or None when the file leaves it to the built-in one."""
        return self.events.get(event)

    def checkpoint_steps(self) -> frozenset[str]:
        route = self.events.get(NotificationEvent.CHECKPOINT_DUE)
        return frozenset(route.steps) if route else frozenset()

    def language_for(self, recipient: RecipientSpec, organisation_key: str | None) -> str:
        """The route's language, else the organisation's, else the file's (French)."""
        if recipient.language:
            return recipient.language
        organisation = self.organisations.get(organisation_key or "")
        return organisation.language if organisation else self.language

    def template(self, name: str, language: str) -> TemplateSpec:
        """Return a template in `language`, or in French when it has no such version."""
        found = self.templates.get(f"{language}/{name}") or self.templates.get(
            f"{DEFAULT_LANGUAGE}/{name}"
        )
        if found is None:
            raise KeyError(f"no template {name!r}")
        return found


def _read_templates(directory: Path, problems: list[Problem]) -> dict[str, TemplateSpec]:
    from crealux_core.rules.loader import Problem

    found: dict[str, TemplateSpec] = {}
    if not directory.is_dir():
        return found
    for language_dir in sorted(path for path in directory.iterdir() if path.is_dir()):
        language = language_dir.name
        if language not in ("fr", "en"):
            problems.append(Problem(language_dir, (), "a template language is fr or en"))
            continue
        for text_file in sorted(language_dir.glob("*.txt")):
            html_file = text_file.with_suffix(".html")
            if not html_file.is_file():
                problems.append(Problem(html_file, (), "missing: each template has both halves"))
                continue
            spec = TemplateSpec(
                name=text_file.stem,
                language=language,
                text=text_file.read_text(encoding="utf-8"),
                html=html_file.read_text(encoding="utf-8"),
                text_file=str(text_file),
                html_file=str(html_file),
            )
            for source, file, html in ((spec.text, text_file, False), (spec.html, html_file, True)):
                try:
                    rendering.check(source, html=html)
                except rendering.TemplateProblem as error:
                    problems.append(Problem(file, (), f"template: {error}", error.line))
            found[f"{language}/{spec.name}"] = spec
        for html_file in sorted(language_dir.glob("*.html")):
            if not html_file.with_suffix(".txt").is_file():
                problems.append(
                    Problem(html_file.with_suffix(".txt"), (), "missing: each template has both")
                )
    return found


def _tags(organisations: Mapping[str, OrganisationSpec]) -> set[str]:
    return {
        tag for spec in organisations.values() for channel in spec.notify for tag in channel.tags
    }


def _check_recipient(
    spec: NotificationsSpec,
    event: NotificationEvent,
    index: int,
    recipient: RecipientSpec,
    tags: set[str],
) -> list[tuple[tuple[str | int, ...], str]]:
    """Return (path inside `events.<event>.to[index]`, message) for each problem."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if recipient.recipient not in ALLOWED[event]:
        allowed = ", ".join(sorted(ALLOWED[event]))
        problems.append((("recipient",), f"{event} cannot go to {recipient.recipient}: {allowed}"))
    if recipient.tag is not None:
        if recipient.recipient is not RecipientKind.ORGANISATION:
            problems.append((("tag",), "only an `organisation` recipient takes a tag"))
        elif recipient.tag not in tags:
            known = ", ".join(sorted(tags)) or "none"
            problems.append(
                (("tag",), f"no organisation's channel carries the tag {recipient.tag!r} ({known})")
            )
    if (event is NotificationEvent.REFERRAL_UNANSWERED) != (recipient.stage is not None):
        problems.append(
            (("stage",), "referral_unanswered needs `stage: reminder` or `stage: escalation`")
            if event is NotificationEvent.REFERRAL_UNANSWERED
            else (("stage",), "only referral_unanswered has stages")
        )
    languages = [lang for lang in ("fr", "en") if f"{lang}/{recipient.template}" in spec.templates]
    if "fr" not in languages:
        problems.append((("template",), f"unknown template {recipient.template!r} (no fr version)"))
        return problems
    context = rendering.sample_context(event, recipient.recipient)
    for language in languages:
        template = spec.templates[f"{language}/{recipient.template}"]
        for source, file, html in (
            (template.text, template.text_file, False),
            (template.html, template.html_file, True),
        ):
            try:
                rendering.render_part(source, html=html, context=context)
            except rendering.TemplateProblem as error:
                line = f":{error.line}" if error.line else ""
                problems.append(
                    (
                        ("template",),
                        f"{file}{line}: {error} (a {event} message to {recipient.recipient}"
                        " carries only what docs/notifications-routing.md lists)",
                    )
                )
    return problems


def load_notifications(
    file: Path, *, organisations: Mapping[str, OrganisationSpec]
) -> NotificationsSpec:
    """Load and check rules/notifications.yaml (file, line and path in every error)."""
    from crealux_core.rules.loader import RulesError, _Document, _validate

    document = _Document(file)
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise RulesError([document.problem((), "expected a mapping (language, events...)")])
    problems: list[Problem] = []
    events = data.get("events") or {}
    if not isinstance(events, dict):
        raise RulesError([document.problem(("events",), "expected a mapping of events")])
    known = {event.value for event in NotificationEvent}
    for name in events:
        if name not in known:
            problems.append(
                document.problem(
                    ("events", name), f"unknown event {name!r}: {', '.join(sorted(known))}"
                )
            )
    for name in data.get("organisations") or {}:
        if name not in organisations:
            problems.append(
                document.problem(("organisations", name), f"unknown organisation {name!r}")
            )
    if problems:
        raise RulesError(problems)
    templates = _read_templates(file.parent / TEMPLATES_DIR, problems)
    spec = _validate(document, NotificationsSpec, {**data, "templates": templates}, ())
    tags = _tags(organisations)
    for event, route in spec.events.items():
        if route.steps and event is not NotificationEvent.CHECKPOINT_DUE:
            problems.append(document.problem(("events", event, "steps"), "checkpoint_due only"))
        if event is NotificationEvent.CHECKPOINT_DUE and not route.steps:
            problems.append(document.problem(("events", event), "name the checkpoint `steps:`"))
        seen: set[tuple[Stage | None, RecipientKind, str | None]] = set()
        for index, recipient in enumerate(route.to):
            where: tuple[str | int, ...] = ("events", event.value, "to", index)
            twice = (recipient.stage, recipient.recipient, recipient.tag)
            if twice in seen:
                problems.append(document.problem(where, "this recipient is named twice"))
            seen.add(twice)
            for path, message in _check_recipient(spec, event, index, recipient, tags):
                problems.append(document.problem(where + path, message))
    if problems:
        raise RulesError(problems)
    return spec
