"""What notifications say (in French), as plain text and as HTML.

They name the participant by reference only (P-00012), never by name: a message leaves the
application database. Every message about a step links to the step's page, the end of a
pathway to the participant's page.

The HTML is what an e-mail shows; Apprise 2.0 derives the e-mail's plain-text alternative from
it (it drops `href`s), so each link shows its address as its text. The plain text is what
other channels (Teams, SMS...) get.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time, importing the rules package here would import this module back
    from crealux_core.rules.specs import StepSpec

Facts = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    html: str = ""
    link: str | None = None


def step_link(dashboard_url: str, step_run_id: int | None) -> str:
    """Return the address of a step's page on the dashboard."""
    return f"{dashboard_url}/etape?step={step_run_id}" if step_run_id else dashboard_url


def participant_link(dashboard_url: str, participant_id: int) -> str:
    """Return the address of a participant's page (their pathway) on the dashboard."""
    return f"{dashboard_url}/parcours?participant={participant_id}"


def _date(moment: datetime | None) -> str:
    return moment.strftime("%d/%m/%Y") if moment else "-"


def _facts_html(facts: Facts) -> str:
    rows = "".join(
        f'<tr><th align="left">{escape(label)} :</th><td>{escape(value)}</td></tr>'
        for label, value in facts
    )
    return f'<table cellpadding="4">{rows}</table>'


def _anchor(link: str) -> str:
    address = escape(link, quote=True)
    return f'<a href="{address}">{address}</a>'


def _compose(*, title: str, intro: str, facts: Facts, link: str, link_label: str) -> Message:
    """Build a message: a sentence, a short table of facts, and its link."""
    text_facts = "".join(f"{label} : {value}\n" for label, value in facts)
    body = f"{intro}\n\n{text_facts}\n{link_label} : {link}\n"
    html = (
        f"<html><body><p>{escape(intro)}</p>{_facts_html(facts)}"
        f"<p>{escape(link_label)} : {_anchor(link)}</p></body></html>"
    )
    return Message(title=title, body=body, html=html, link=link)


def _step_facts(step: StepSpec, participant_reference: str, due_at: datetime | None) -> Facts:
    return [
        ("Participant", participant_reference),
        ("Étape", step.title),
        ("Échéance", _date(due_at)),
    ]


def step_opened(
    *,
    step: StepSpec,
    participant_reference: str,
    due_at: datetime | None,
    dashboard_url: str,
    step_run_id: int | None = None,
) -> Message:
    """Tell an organisation that a step it is concerned by has opened."""
    return _compose(
        title=f"CREALux - {step.title} - {participant_reference}",
        intro=(
            f"Une nouvelle étape « {step.title} » est ouverte pour le participant "
            f"{participant_reference}."
        ),
        facts=_step_facts(step, participant_reference, due_at),
        link=step_link(dashboard_url, step_run_id),
        link_label="Tableau de bord",
    )


def step_reminder(
    *,
    step: StepSpec,
    participant_reference: str,
    due_at: datetime | None,
    dashboard_url: str,
    step_run_id: int,
) -> Message:
    """Remind the owner of a step (its advisor, or its organisation) that it falls due soon."""
    return _compose(
        title=f"CREALux - rappel : {step.title} - {participant_reference}",
        intro=(
            f"L'étape « {step.title} » du participant {participant_reference} arrive à "
            f"échéance le {_date(due_at)}."
        ),
        facts=_step_facts(step, participant_reference, due_at),
        link=step_link(dashboard_url, step_run_id),
        link_label="Tableau de bord",
    )


def step_escalated(
    *,
    step: StepSpec,
    participant_reference: str,
    due_at: datetime | None,
    dashboard_url: str,
    step_run_id: int,
) -> Message:
    """Tell the coordination that a step is overdue."""
    return _compose(
        title=f"CREALux - en retard : {step.title} - {participant_reference}",
        intro=(
            f"L'étape « {step.title} » du participant {participant_reference} devait être "
            f"faite pour le {_date(due_at)} et est toujours ouverte."
        ),
        facts=_step_facts(step, participant_reference, due_at),
        link=step_link(dashboard_url, step_run_id),
        link_label="Tableau de bord",
    )


def step_overdue(
    *,
    step: StepSpec,
    participant_reference: str,
    due_at: datetime | None,
    dashboard_url: str,
    step_run_id: int,
) -> Message:
    """Tell the advisor a step of theirs is overdue (the coordination is told as well)."""
    return _compose(
        title=f"CREALux - en retard : {step.title} - {participant_reference}",
        intro=(
            f"Votre étape « {step.title} » du participant {participant_reference} devait être "
            f"faite pour le {_date(due_at)} et est toujours ouverte ; la coordination en est "
            "informée."
        ),
        facts=_step_facts(step, participant_reference, due_at),
        link=step_link(dashboard_url, step_run_id),
        link_label="Tableau de bord",
    )


def step_closed(
    *,
    step: StepSpec,
    participant_reference: str,
    skipped: bool,
    by: str,
    closed_at: datetime,
    dashboard_url: str,
    step_run_id: int,
) -> Message:
    """Tell a participant's advisor that someone else (a partner) decided or skipped a step."""
    verb = "passée" if skipped else "complétée"
    return _compose(
        title=f"CREALux - étape {verb} : {step.title} - {participant_reference}",
        intro=(
            f"L'étape « {step.title} » du participant {participant_reference} a été {verb} "
            f"par {by}."
        ),
        facts=[
            ("Participant", participant_reference),
            ("Étape", step.title),
            ("Par", by),
            ("Le", _date(closed_at)),
        ],
        link=step_link(dashboard_url, step_run_id),
        link_label="Voir l'étape",
    )


def pathway_ended(
    *,
    participant_reference: str,
    reason: str,
    ended_at: datetime,
    dashboard_url: str,
    participant_id: int,
) -> Message:
    """Tell a participant's advisor that their pathway has ended, and why."""
    return _compose(
        title=f"CREALux - parcours terminé - {participant_reference}",
        intro=f"Le parcours du participant {participant_reference} est terminé.",
        facts=[
            ("Participant", participant_reference),
            ("Motif", reason),
            ("Le", _date(ended_at)),
        ],
        link=participant_link(dashboard_url, participant_id),
        link_label="Voir le parcours",
    )


def participants_assigned(
    *,
    participant_references: Sequence[str],
    by: str,
    assigned_at: datetime,
    dashboard_url: str,
    participant_id: int | None,
) -> Message:
    """Tell an advisor that participants were given to them (an enrolment, a caseload moved)."""
    count = len(participant_references)
    shown = ", ".join(participant_references[:10]) + (" ..." if count > 10 else "")
    one = count == 1
    return _compose(
        title=(
            f"CREALux - nouveau participant suivi - {participant_references[0]}"
            if one
            else f"CREALux - {count} participants vous sont confiés"
        ),
        intro=(
            f"{by} vous a confié le suivi du participant {participant_references[0]}."
            if one
            else f"{by} vous a confié le suivi de {count} participants."
        ),
        facts=[("Participant" if one else "Participants", shown), ("Le", _date(assigned_at))],
        link=participant_link(dashboard_url, participant_id)
        if one and participant_id
        else (f"{dashboard_url}/participants"),
        link_label="Voir le parcours" if one else "Voir vos participants",
    )


@dataclass(frozen=True)
class DigestItem:
    title: str
    link: str | None


def digest(*, organisation_name: str, day: str, items: Sequence[DigestItem]) -> Message:
    """Gather an organisation's messages of the day into one (a shared inbox's digest)."""
    lines = "".join(f"- {item.title}\n  {item.link or '-'}\n" for item in items)
    entries = "".join(
        f"<li>{escape(item.title)}<br>{_anchor(item.link) if item.link else '-'}</li>"
        for item in items
    )
    intro = f"{len(items)} message(s) CREALux pour {organisation_name} depuis le dernier résumé."
    return Message(
        title=f"CREALux - résumé du {day} - {organisation_name}",
        body=f"{intro}\n\n{lines}",
        html=f"<html><body><p>{escape(intro)}</p><ul>{entries}</ul></body></html>",
    )


_URL = re.compile(r"https?://[^\s<>\"]+")


def first_link(text: str) -> str | None:
    """Return the first web address in a message's text, if any."""
    found = _URL.search(text)
    return found.group(0) if found else None


def text_as_html(text: str) -> str:
    """Return a message's text as HTML: escaped, one paragraph per block, addresses as links."""

    def paragraph(block: str) -> str:
        lines = []
        for line in block.splitlines():
            parts, last = [], 0
            for found in _URL.finditer(line):
                parts += [escape(line[last : found.start()]), _anchor(found.group(0))]
                last = found.end()
            lines.append("".join([*parts, escape(line[last:])]))
        return "<p>" + "<br>".join(lines) + "</p>"

    blocks = [block for block in text.strip().split("\n\n") if block.strip()]
    return "<html><body>" + "".join(paragraph(block) for block in blocks) + "</body></html>"


# Referrals: a participant sent to a partner's offer. A partner's message names the participant
# by reference only (the partner reads the rest, what the referral shares, on the dashboard).


def referrals_link(dashboard_url: str) -> str:
    """Return the address of the referrals page (« Orientations »)."""
    return f"{dashboard_url}/orientations"


def _referral_facts(
    participant_reference: str, offer_title: str, organisation_name: str, answer_due_at: datetime
) -> Facts:
    return [
        ("Participant", participant_reference),
        ("Service", offer_title),
        ("Partenaire", organisation_name),
        ("Réponse attendue avant le", _date(answer_due_at)),
    ]


def referral_made(
    *,
    participant_reference: str,
    offer_title: str,
    organisation_name: str,
    answer_due_at: datetime,
    dashboard_url: str,
) -> Message:
    """Tell a partner that a participant is referred to one of its offers."""
    return _compose(
        title=f"CREALux - Nouvelle orientation - {participant_reference}",
        intro=(
            f"Le participant {participant_reference} vous est orienté pour « {offer_title} ». "
            "Merci d'accepter (avec une date de début) ou de refuser (avec un motif)."
        ),
        facts=_referral_facts(participant_reference, offer_title, organisation_name, answer_due_at),
        link=referrals_link(dashboard_url),
        link_label="Répondre",
    )


def referral_reminder(
    *,
    participant_reference: str,
    offer_title: str,
    organisation_name: str,
    answer_due_at: datetime,
    dashboard_url: str,
) -> Message:
    """Remind a partner of a referral it has not answered."""
    return _compose(
        title=f"CREALux - Rappel : orientation sans réponse - {participant_reference}",
        intro=(
            f"L'orientation du participant {participant_reference} vers « {offer_title} » "
            "attend toujours votre réponse."
        ),
        facts=_referral_facts(participant_reference, offer_title, organisation_name, answer_due_at),
        link=referrals_link(dashboard_url),
        link_label="Répondre",
    )


def referral_unanswered(
    *,
    participant_reference: str,
    offer_title: str,
    organisation_name: str,
    answer_due_at: datetime,
    dashboard_url: str,
) -> Message:
    """Tell the coordination (and the advisor) that a partner left a referral unanswered."""
    return _compose(
        title=f"CREALux - Orientation sans réponse - {participant_reference}",
        intro=(
            f"{organisation_name} n'a pas répondu à l'orientation du participant "
            f"{participant_reference} vers « {offer_title} »."
        ),
        facts=_referral_facts(participant_reference, offer_title, organisation_name, answer_due_at),
        link=referrals_link(dashboard_url),
        link_label="Voir les orientations",
    )


def referral_answered(
    *,
    participant_reference: str,
    offer_title: str,
    organisation_name: str,
    accepted: bool,
    starts_on: str | None,
    reason: str | None,
    dashboard_url: str,
    step_run_id: int | None,
) -> Message:
    """Tell the advisor what the partner answered."""
    word = "acceptée" if accepted else "refusée"
    facts: list[tuple[str, str]] = [
        ("Participant", participant_reference),
        ("Service", offer_title),
        ("Partenaire", organisation_name),
    ]
    if accepted:
        facts.append(("Début", starts_on or "-"))
    else:
        facts.append(("Motif", reason or "-"))
    return _compose(
        title=f"CREALux - Orientation {word} - {participant_reference}",
        intro=(
            f"{organisation_name} a {'accepté' if accepted else 'refusé'} l'orientation du "
            f"participant {participant_reference} vers « {offer_title} »."
            + ("" if accepted else " L'étape vous revient : choisissez une autre orientation.")
        ),
        facts=facts,
        link=step_link(dashboard_url, step_run_id),
        link_label="Voir l'étape",
    )
