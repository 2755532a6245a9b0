"""rules/notifications.yaml: the shipped routes load; a mistake stops the rules with its file,
line and path (an unknown event, recipient or template, a tag no channel carries, a template
that reads what its message does not carry)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crealux_core.rules import Rules, RulesError, load_rules
from crealux_core.rules.notifications import NotificationEvent, RecipientKind, Stage
from tests.rules.conftest import ENV, edit


def problems(rules_dir: Path) -> str:
    with pytest.raises(RulesError) as raised:
        load_rules(rules_dir, env=ENV)
    return str(raised.value)


def test_the_shipped_routes_name_every_event(rules: Rules) -> None:
    spec = rules.notifications
    assert spec is not None
    assert set(spec.events) == set(NotificationEvent)
    overdue = spec.events[NotificationEvent.STEP_OVERDUE].to
    assert [r.recipient for r in overdue] == [
        RecipientKind.COORDINATOR,
        RecipientKind.STEP_ASSIGNEE,
    ]
    unanswered = spec.events[NotificationEvent.REFERRAL_UNANSWERED]
    assert [r.recipient for r in unanswered.recipients(Stage.REMINDER)] == [
        RecipientKind.ORGANISATION
    ]
    assert spec.checkpoint_steps() == {"post_creation_3m", "post_creation_6m", "post_creation_12m"}
    for name in ("step_opened", "referral_answered", "participant_checkpoint"):
        assert spec.template(name, "fr").language == "fr"
        assert spec.template(name, "en").language == "en"


def test_without_the_file_there_are_no_routes(rules_dir: Path) -> None:
    (rules_dir / "notifications.yaml").unlink()
    assert load_rules(rules_dir, env=ENV).notifications is None


def test_an_unknown_event_is_refused_with_its_line(rules_dir: Path) -> None:
    edit(rules_dir / "notifications.yaml", "  step_due_soon:", "  step_due_son:")
    said = problems(rules_dir)
    assert "notifications.yaml:" in said
    assert "events.step_due_son: unknown event 'step_due_son'" in said


def test_an_unknown_recipient_is_refused(rules_dir: Path) -> None:
    edit(rules_dir / "notifications.yaml", "{recipient: step_owner,", "{recipient: owner,")
    said = problems(rules_dir)
    assert "events.step_due_soon.to[0].recipient" in said


def test_a_recipient_an_event_cannot_have_is_refused(rules_dir: Path) -> None:
    edit(
        rules_dir / "notifications.yaml",
        "{recipient: participant_advisor, template: pathway_ended}",
        "{recipient: step_owner, template: pathway_ended}",
    )
    assert "pathway_ended cannot go to step_owner" in problems(rules_dir)


def test_an_unknown_template_is_refused(rules_dir: Path) -> None:
    edit(rules_dir / "notifications.yaml", "template: step_reminder}", "template: step_remind}")
    said = problems(rules_dir)
    assert "events.step_due_soon.to[0].template: unknown template 'step_remind'" in said


def test_a_tag_no_channel_carries_is_refused(rules_dir: Path) -> None:
    edit(
        rules_dir / "notifications.yaml",
        "{recipient: organisation, template: referral_made}",
        "{recipient: organisation, tag: referals, template: referral_made}",
    )
    said = problems(rules_dir)
    assert "events.referral_made.to[0].tag" in said and "'referals'" in said


def test_a_tag_some_channel_carries_is_taken(rules_dir: Path) -> None:
    edit(
        rules_dir / "organisations.yaml",
        '      - "mailto://127.0.0.1:${CREALUX_SMTP_PORT:-8025}?from=crealux@integraplus.example'
        '&to=conseil@forem-marche.example"',
        '      - {url: "mailto://127.0.0.1:${CREALUX_SMTP_PORT:-8025}?from=crealux@integraplus'
        '.example&to=conseil@forem-marche.example", tags: [referrals]}',
    )
    edit(
        rules_dir / "notifications.yaml",
        "{recipient: organisation, template: referral_made}",
        "{recipient: organisation, tag: referrals, template: referral_made}",
    )
    spec = load_rules(rules_dir, env=ENV).notifications
    assert spec is not None
    assert spec.events[NotificationEvent.REFERRAL_MADE].to[0].tag == "referrals"


def test_a_template_that_reads_the_last_name_is_refused(rules_dir: Path) -> None:
    edit(
        rules_dir / "templates" / "fr" / "step_reminder.txt",
        "Participant : {{ participant.reference }}",
        "Participant : {{ participant.reference }} {{ participant.last_name }}",
    )
    said = problems(rules_dir)
    assert "events.step_due_soon.to[0].template" in said
    assert "step_reminder.txt" in said and "last_name" in said


def test_a_template_that_does_not_compile_is_refused_with_its_line(rules_dir: Path) -> None:
    edit(rules_dir / "templates" / "en" / "step_opened.html", "{{ link }}</a>", "{{ link </a>")
    said = problems(rules_dir)
    assert "en/step_opened.html:" in said and "template:" in said


def test_a_template_needs_both_halves(rules_dir: Path) -> None:
    (rules_dir / "templates" / "fr" / "session_full.html").unlink()
    assert "fr/session_full.html: missing" in problems(rules_dir)


def test_the_stages_belong_to_unanswered_referrals(rules_dir: Path) -> None:
    edit(
        rules_dir / "notifications.yaml",
        "{recipient: organisation, stage: reminder, template: referral_reminder}",
        "{recipient: organisation, template: referral_reminder}",
    )
    edit(
        rules_dir / "notifications.yaml",
        "{recipient: step_owner, template: step_reminder}",
        "{recipient: step_owner, stage: reminder, template: step_reminder}",
    )
    said = problems(rules_dir)
    assert "events.referral_unanswered.to[0].stage: referral_unanswered needs" in said
    assert "events.step_due_soon.to[0].stage: only referral_unanswered has stages" in said


def test_a_recipient_named_twice_and_an_unknown_organisation_are_refused(
    rules_dir: Path,
) -> None:
    edit(
        rules_dir / "notifications.yaml",
        "      - {recipient: step_owner, template: step_reminder}",
        "      - {recipient: step_owner, template: step_reminder}\n"
        "      - {recipient: step_owner, template: step_overdue}",
    )
    assert "events.step_due_soon.to[1]: this recipient is named twice" in problems(rules_dir)
    edit(
        rules_dir / "notifications.yaml",
        "# organisations:\n#   some-partner: {language: en}",
        "organisations:\n  nobody: {language: en}",
    )
    assert "organisations.nobody: unknown organisation 'nobody'" in problems(rules_dir)


def test_a_checkpoint_route_names_its_steps(rules_dir: Path) -> None:
    edit(
        rules_dir / "notifications.yaml",
        "    steps: [post_creation_3m, post_creation_6m, post_creation_12m]\n",
        "",
    )
    assert "events.checkpoint_due: name the checkpoint `steps:`" in problems(rules_dir)
