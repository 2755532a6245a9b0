"""Render a notification from its templates (rules/templates/): Jinja2 in a sandbox.

A template is two texts: the plain text, whose first line is the message's title and the rest,
after one blank line, its body; and the HTML, which an e-mail shows. Both are rendered in an
immutable sandboxed environment (no attribute starting with `_`, no method that changes a
value), with `StrictUndefined` (a name the message does not carry is an error, found when the
rules load) and, for the HTML, autoescape.

A template sees only its context, which `services.routing` builds for one recipient out of plain
strings: the participant's reference and first name, the step's title, dates and links, the
referral's offer and partner; never a last name, an assessment's answer or a note. The
sandbox keeps a template from reaching beyond what it is handed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crealux_core.domain.messages import Message

Context = Mapping[str, Any]


class TemplateProblem(ValueError):
    """A template that does not compile or does not render; `line` where Jinja says."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@lru_cache(maxsize=2)
def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Any:
    return _environment(html).from_string(source)


def check(source: str, *, html: bool) -> None:
    """Compile a template; raise TemplateProblem (with its line) when it does not."""
    try:
        _compiled(source, html)
    except TemplateError as error:
        raise TemplateProblem(str(error), getattr(error, "lineno", None)) from None


def render_part(source: str, *, html: bool, context: Context) -> str:
    """Render one half of a template (the plain text, or the HTML, escaped)."""
    try:
        return str(_compiled(source, html).render(dict(context)))
    except TemplateError as error:
        raise TemplateProblem(str(error), getattr(error, "lineno", None)) from None


def render(*, text: str, html: str, context: Context) -> Message:
    """Render a message: title and body from the plain text, and its HTML."""
    plain = render_part(text, html=False, context=context)
    title, _, body = plain.partition("\n")
    title = title.strip()
    if not title:
        raise TemplateProblem("the plain text's first line (the title) is empty", 1)
    link = context.get("link")
    return Message(
        title=title[:300],
        body=body.lstrip("\n"),
        html=render_part(html, html=True, context=context),
        link=str(link) if link else None,
    )


# What each kind of message carries (all strings): a template may use these and nothing else.
# `sample_context` fills them so that the rules loader can render every routed template once.

PARTICIPANT = {"reference": "P-00001", "first_name": "Camille"}
STEP = {"key": "first_reception", "title": "Premier accueil", "due_on": "01/02/2027"}
REFERRAL = {
    "offer_title": "Job club",
    "organisation_name": "Le Forem",
    "answer_due_on": "05/02/2027",
    "accepted": True,
    "starts_on": "10/02/2027",
    "decline_reason": "complet",
}
PATHWAY = {"end_reason": "exit:decided", "ended_on": "01/02/2027"}
TRAINING_SESSION = {
    "module_title": "Confiance en soi",
    "organisation_name": "EPS Marche",
    "starts_on": "01/03/2027",
    "ends_on": "30/03/2027",
    "place": "Marche",
    "capacity": "12",
}

# Which parts each event's messages carry.
PARTS: dict[str, tuple[str, ...]] = {
    "step_opened": ("participant", "step"),
    "checkpoint_due": ("participant", "step"),
    "step_due_soon": ("participant", "step"),
    "step_overdue": ("participant", "step"),
    "referral_made": ("participant", "step", "referral"),
    "referral_unanswered": ("participant", "step", "referral"),
    "referral_answered": ("participant", "step", "referral"),
    "pathway_ended": ("participant", "pathway"),
    "session_full": ("training_session",),
}
_SAMPLES: dict[str, Mapping[str, Any]] = {
    "participant": PARTICIPANT,
    "step": STEP,
    "referral": REFERRAL,
    "pathway": PATHWAY,
    "training_session": TRAINING_SESSION,
}


# What a kind of recipient is not told, even of what the event carries: the participant
# themselves do not get the partner's reason for declining (it may speak of them).
HIDDEN: dict[str, tuple[tuple[str, str], ...]] = {
    "participant": (("referral", "decline_reason"),),
}


def visible(context: Context, recipient: str) -> dict[str, Any]:
    """Return a copy of `context` without what `recipient` (a kind) is not told."""
    shown = {
        name: dict(value) if isinstance(value, Mapping) else value
        for name, value in context.items()
    }
    for part, name in HIDDEN.get(recipient, ()):
        if isinstance(shown.get(part), dict):
            shown[part].pop(name, None)
    return shown


def sample_context(event: str, recipient: str) -> dict[str, Any]:
    """Return a context like the one `event`'s messages to `recipient` get, made up."""
    context: dict[str, Any] = {
        part: dict(_SAMPLES[part]) for part in PARTS.get(event, ("participant",))
    }
    context["link"] = "https://crealux.example/etape?step=1"
    context["dashboard_url"] = "https://crealux.example"
    return visible(context, recipient)
