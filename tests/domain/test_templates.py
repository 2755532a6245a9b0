"""Templates render in a sandbox: a template sees its context and nothing more, the HTML is
escaped, and what the context leaves out (a last name) is an error, not an empty string."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crealux_core.domain import templates

TEXT = (
    "CREALux - {{ step.title }} - {{ participant.reference }}\n"
    "\n"
    "Bonjour {{ participant.first_name }}.\n"
)
HTML = '<p>{{ step.title }} : <a href="{{ link }}">{{ link }}</a></p>'


def context(**step: str) -> dict[str, object]:
    return {
        "participant": {"reference": "P-00012", "first_name": "Camille"},
        "step": {"title": "Premier accueil", **step},
        "link": "https://crealux.example/etape?step=3",
    }


def test_a_template_gives_the_title_from_its_first_line_and_the_body_after_it() -> None:
    message = templates.render(text=TEXT, html=HTML, context=context())
    assert message.title == "CREALux - Premier accueil - P-00012"
    assert message.body == "Bonjour Camille.\n"
    assert message.link == "https://crealux.example/etape?step=3"
    assert 'href="https://crealux.example/etape?step=3"' in message.html


def test_the_html_is_escaped_and_the_plain_text_is_not() -> None:
    message = templates.render(
        text=TEXT, html=HTML, context=context(title="Bilan <script>alert(1)</script> & co")
    )
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in message.html
    assert "Bilan <script>alert(1)</script> & co" in message.title


@pytest.mark.parametrize(
    "source",
    [
        "{{ participant.last_name }}",  # not in the context: an error, not an empty string
        "{{ notes }}",
        "{{ participant.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ link.__class__.__init__.__globals__ }}",
        "{% set _ = participant.update({'reference': 'x'}) %}",  # immutable: no changing it
        "{{ cycler.__init__.__globals__.os }}",
        "{{ self._TemplateReference__context }}",
    ],
)
def test_a_template_cannot_read_more_than_its_context(source: str) -> None:
    with pytest.raises(templates.TemplateProblem):
        templates.render_part(source, html=False, context=context())


def test_a_template_that_does_not_compile_says_its_line() -> None:
    with pytest.raises(templates.TemplateProblem) as raised:
        templates.check("Titre\n\n{% if step.title %}\nsans fin\n", html=False)
    assert raised.value.line is not None


def test_an_empty_title_is_refused() -> None:
    with pytest.raises(templates.TemplateProblem, match="title"):
        templates.render(text="\n\ncorps\n", html="<p></p>", context=context())


def test_the_participant_is_not_told_the_partners_reason_for_declining() -> None:
    sample = templates.sample_context("referral_answered", "participant")
    assert "decline_reason" not in sample["referral"]
    advisor = templates.sample_context("referral_answered", "participant_advisor")
    assert "decline_reason" in advisor["referral"]


def test_a_context_carries_no_last_name_answer_or_note() -> None:
    for event in templates.PARTS:
        sample = templates.sample_context(event, "organisation")
        flat = repr(sample)
        for forbidden in ("last_name", "answers", "note", "email", "phone", "address"):
            assert forbidden not in flat, (event, forbidden)


@pytest.mark.parametrize(
    "module",
    [
        "crealux_core.domain.messages",
        "crealux_core.domain.templates",
        "crealux_core.rules.notifications",
        "crealux_core.services.routing",
    ],
)
def test_each_module_can_be_imported_first(module: str) -> None:
    """A fresh process importing it before anything else (the cycle rules -> notifications ->
    templates -> messages -> rules stopped the CLI once)."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
