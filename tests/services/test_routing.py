"""Routed notifications: the shipped templates say what the built-in messages said (so the
shipped routes change nothing anyone receives), and the routes do what rules/notifications.yaml
says: a tag, a language, the participant where they consented, silence, checkpoints; and no
message names a participant beyond their reference and first name."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from crealux_core.domain import messages
from crealux_core.domain import templates as rendering
from crealux_core.models import (
    Notification,
    NotificationStatus,
    Participant,
    PathwayRun,
    StepRun,
    User,
)
from crealux_core.notify import AppriseNotifier
from crealux_core.rules import Rules, load_rules
from crealux_core.services import notices, routing
from crealux_core.services.events import current_step
from crealux_core.services.notifications import (
    Dispatched,
    dispatch_digests,
    dispatch_notifications,
)
from crealux_core.services.routing import Event, Kind, ReferralFacts, SessionFacts, Subject
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.conftest import DASHBOARD_URL, T0
from tests.rules.conftest import ENV, edit
from tests.services.helpers import FIRST, decide
from tests.services.test_digest import DIGEST_AT
from tests.services.test_notices import rules_for
from tests.services.test_referrals import (
    JOB_CLUB,
    SOCIAL,
    accept,
    decline,
    only_referral,
    referral_step,
)
from tests.services.test_referrals import refer as refer_to
from tests.smtp import SmtpSink

FOREM_CHANNEL = (
    '      - "mailto://127.0.0.1:${CREALUX_SMTP_PORT:-8025}?from=crealux@integraplus.example'
    '&to=conseil@forem-marche.example"'
)


def rules_with(tmp_path: Path, *edits: tuple[str, str, str], port: int | None = None) -> Rules:
    """The repo's rules with some files edited: (file, old, new)."""
    target = tmp_path / "rules"
    if not target.exists():
        shutil.copytree(REPO_RULES_DIR, target)
    for file, old, new in edits:
        edit(target / file, old, new)
    return load_rules(target, env={"CREALUX_SMTP_PORT": str(port)} if port else ENV)


# The shipped templates and the built-in words


def subject(rules: Rules, event: Event, **more: object) -> Subject:
    participant = Participant(
        id=12, first_name="Camille", last_name="Vandersmissen", advisor_id=1, enrolled_at=T0
    )
    step_run = StepRun(
        id=34,
        pathway_run_id=5,
        seq=2,
        step_key="first_reception",
        reached_at=T0,
        organisation_id=1,
        due_at=T0 + timedelta(days=3),
    )
    fields: dict[str, object] = {
        "event": event,
        "ident": 34,
        "organisation_id": 1,
        "pathway_run_id": 5,
        "participant": participant,
        "step": rules.pathway().step("first_reception"),
        "step_run": step_run,
        "referral": ReferralFacts(
            offer_title="Job club (recherche active d'emploi)",
            organisation_name="Le Forem (Marche-en-Famenne)",
            answer_due_at=T0 + timedelta(days=7),
            starts_on=date(2026, 11, 16),
            decline_reason="Plus de place ce mois-ci.",
        ),
        "end_reason": "exit:decided",
    }
    fields.update(more)
    return Subject(**fields)  # type: ignore[arg-type]


SAME_WORDS = [
    (Event.STEP_OPENED, "step_opened", {}),
    (Event.STEP_DUE_SOON, "step_reminder", {}),
    (Event.STEP_OVERDUE, "step_escalated", {}),
    (Event.STEP_OVERDUE, "step_overdue", {}),
    (Event.REFERRAL_MADE, "referral_made", {}),
    (Event.REFERRAL_UNANSWERED, "referral_reminder", {}),
    (Event.REFERRAL_UNANSWERED, "referral_unanswered", {}),
    (Event.REFERRAL_ANSWERED, "referral_answered", {"accepted": True}),
    (Event.REFERRAL_ANSWERED, "referral_answered", {"accepted": False}),
    (Event.PATHWAY_ENDED, "pathway_ended", {}),
]


@pytest.mark.parametrize(("event", "template", "answer"), SAME_WORDS)
def test_the_shipped_french_templates_say_what_the_built_in_messages_said(
    rules: Rules, event: Event, template: str, answer: dict[str, bool]
) -> None:
    about = subject(rules, event)
    if answer:
        assert about.referral is not None
        referral = ReferralFacts(**{**about.referral.__dict__, **answer})
        about = subject(rules, event, referral=referral)
    built_in = routing.BUILT_IN_WORDS[template](about, DASHBOARD_URL, T0)
    assert rules.notifications is not None
    spec = rules.notifications.template(template, "fr")
    context = routing.context_for(
        about, Kind.PARTICIPANT_ADVISOR, dashboard_url=DASHBOARD_URL, now=T0
    )
    rendered = rendering.render(text=spec.text, html=spec.html, context=context)
    assert rendered.title == built_in.title
    assert rendered.body == built_in.body
    assert rendered.link == built_in.link


def test_the_english_templates_speak_english(rules: Rules) -> None:
    assert rules.notifications is not None
    spec = rules.notifications.template("referral_answered", "en")
    context = routing.context_for(
        subject(rules, Event.REFERRAL_ANSWERED), Kind.ORGANISATION, dashboard_url="x", now=T0
    )
    message = rendering.render(text=spec.text, html=spec.html, context=context)
    assert message.title == "CREALux - Referral declined - P-00012"
    assert "Reason: Plus de place ce mois-ci." in message.body


def test_a_context_holds_the_reference_and_first_name_only(rules: Rules) -> None:
    for event in Event:
        context = routing.context_for(
            subject(rules, event), Kind.ORGANISATION, dashboard_url=DASHBOARD_URL, now=T0
        )
        text = repr(context)
        assert "Vandersmissen" not in text and "last_name" not in text
        if "participant" in context:
            assert context["participant"] == {"reference": "P-00012", "first_name": "Camille"}


# Routes through the services


def keys(session: Session) -> list[str]:
    return list(session.exec(select(Notification.event_key).order_by(col(Notification.id))).all())


def rows(session: Session, prefix: str) -> list[Notification]:
    session.expire_all()
    return list(
        session.exec(
            select(Notification)
            .where(col(Notification.event_key).startswith(prefix))
            .order_by(col(Notification.id))
        ).all()
    )


def test_without_the_file_the_same_messages_go_to_the_same_recipients(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    step = session.get(StepRun, enrolled.first_step.id)
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    participant = session.get(Participant, enrolled.participant_id)
    assert step is not None and run is not None and participant is not None
    step.assignee_id = participant.advisor_id
    assignee = session.get(User, participant.advisor_id)
    made = {}
    for name, used in (("file", rules), ("none", rules.model_copy(update={"notifications": None}))):
        made[name] = [
            (row.event_key, row.organisation_id, row.recipient_user_id, row.title, row.body)
            for kind in ("reminder", "escalation")
            for row in routing.step_deadline_rows(
                session,
                rules=used,
                kind=kind,
                participant=participant,
                pathway_run_id=run.id or 0,
                step_run=step,
                step=rules.pathway().step(step.step_key),
                assignee=assignee,
                now=T0,
                dashboard_url=DASHBOARD_URL,
            )
        ]
    assert made["file"] == made["none"]
    assert [key for key, *_ in made["file"]] == [
        f"reminder:{step.id}",
        f"escalation:{step.id}",
        f"overdue:{step.id}",
    ]


def test_a_partner_is_told_the_reference_and_never_the_name_the_reason_or_answers(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll("Zoé")
    participant = session.get(Participant, enrolled.participant_id)
    assert participant is not None
    participant.last_name, participant.email = "Vandersmissen", "zoe@example.org"
    session.add(participant)
    session.commit()
    decide(session, rules, enrolled.first_step.id or 0, FIRST)
    step = referral_step(session, rules, enrolled.pathway_run_id)
    refer_to(session, rules, step.id, reason="Dettes importantes, logement précaire.")
    referral = only_referral(session)
    decline(session, rules, referral.id or 0, reason="Pas de place avant mars.")
    told = rows(session, "referral-")
    assert [row.event_key.split(":")[0] for row in told] == ["referral-made", "referral-answered"]
    for row in told:
        text = f"{row.title}\n{row.body}\n{row.html}"
        assert participant.reference in text
        for secret in ("Vandersmissen", "zoe@example.org", "Dettes", "logement"):
            assert secret not in text
    assert "Pas de place avant mars." in told[1].body  # the advisor is told why


def test_a_tagged_route_goes_to_the_channels_of_the_tag_where_there_are_some(
    session: Session, tmp_path: Path, enroll
) -> None:
    tagged = rules_with(
        tmp_path,
        (
            "organisations.yaml",
            FOREM_CHANNEL,
            FOREM_CHANNEL.replace('- "', '- {url: "').replace('example"', 'example", tags: [ref]}'),
        ),
        (
            "notifications.yaml",
            "{recipient: organisation, template: referral_made}",
            "{recipient: organisation, tag: ref, template: referral_made}",
        ),
    )
    first, second = enroll(), enroll("Léa")
    refer_to(session, tagged, referral_step(session, tagged, first.pathway_run_id).id, JOB_CLUB)
    refer_to(session, tagged, referral_step(session, tagged, second.pathway_run_id).id, SOCIAL)
    made = rows(session, "referral-made-organisation-ref:")
    assert [row.channel_tag for row in made] == ["ref", None]  # the CPAS has no such channel


def test_an_organisation_in_english_is_written_to_in_english(
    session: Session, tmp_path: Path, enroll
) -> None:
    english = rules_with(
        tmp_path,
        (
            "notifications.yaml",
            "# organisations:\n#   some-partner: {language: en}",
            "organisations:\n  forem-marche: {language: en}",
        ),
    )
    enrolled = enroll()
    refer_to(session, english, referral_step(session, english, enrolled.pathway_run_id).id)
    referral = only_referral(session)
    accept(session, english, referral.id or 0)
    made, answered = rows(session, "referral-made:")[0], rows(session, "referral-answered:")[0]
    assert made.title.startswith("CREALux - New referral - P-")
    assert "Please accept" in made.body and "Answer: " in made.body
    assert answered.title.startswith("CREALux - Orientation acceptée")  # the advisor: French


def test_the_participant_is_told_only_where_they_consented_and_have_an_address(
    session: Session, tmp_path: Path, enroll
) -> None:
    told = rules_with(
        tmp_path,
        (
            "notifications.yaml",
            "      # - {recipient: participant, template: participant_checkpoint}",
            "      - {recipient: participant, template: participant_checkpoint}",
        ),
    )
    enrolled = enroll("Zoé")
    participant = session.get(Participant, enrolled.participant_id)
    run = session.get(PathwayRun, enrolled.pathway_run_id)
    assert participant is not None and run is not None
    checkpoint = told.pathway().step("post_creation_3m")

    def opened(step_run: StepRun) -> list[routing.Outgoing]:
        about = Subject(
            event=routing.opened_event(told, checkpoint),
            ident=step_run.id or 0,
            organisation_id=step_run.organisation_id,
            pathway_run_id=run.id,
            participant=participant,
            step=checkpoint,
            step_run=step_run,
        )
        made = routing.notifications_for(
            session, rules=told, subject=about, now=T0, dashboard_url=DASHBOARD_URL
        )
        return [row for row in made if row.event_key.startswith("checkpoint-due-participant:")]

    first = session.get(StepRun, enrolled.first_step.id)
    assert first is not None
    assert opened(first) == []  # no consent yet (first reception not decided), no address
    decide(session, told, first.id or 0, FIRST)  # consent given
    second = current_step(session, run.id or 0)
    assert second is not None
    assert opened(second) == []  # no address
    participant.email = "zoe@example.org"
    session.add(participant)
    third = StepRun(
        pathway_run_id=run.id or 0,
        seq=99,
        step_key="post_creation_3m",
        reached_at=T0,
        organisation_id=second.organisation_id,
        due_at=T0 + timedelta(days=14),
        optional=True,
    )
    session.add(third)
    session.flush()
    [message] = opened(third)
    advisor = session.get(User, participant.advisor_id)
    assert advisor is not None
    assert message.channel_tag == routing.PARTICIPANT_CHANNEL
    assert message.recipient_user_id is None and message.organisation_id == advisor.organisation_id
    assert "Bonjour Zoé" in message.body and "zoe@example.org" not in message.body
    routing.queue_step_opened(
        session,
        rules=told,
        participant=participant,
        pathway_run_id=run.id or 0,
        step_run=third,
        step=checkpoint,
        now=T0,
        dashboard_url=DASHBOARD_URL,
    )
    session.flush()
    organisation = rows(session, f"step-opened:{third.id}")
    assert organisation and "point de suivi" in organisation[0].body  # checkpoint_due's words
    assert rows(session, f"checkpoint-due-participant:{third.id}")


def test_a_route_to_nobody_is_silent(session: Session, tmp_path: Path, enroll) -> None:
    silent = rules_with(
        tmp_path,
        (
            "notifications.yaml",
            "  step_due_soon:\n    to:\n      - {recipient: step_owner, template: step_reminder}",
            "  step_due_soon:\n    to: []",
        ),
    )
    enrolled = enroll()
    step = session.get(StepRun, enrolled.first_step.id)
    participant = session.get(Participant, enrolled.participant_id)
    assert step is not None and participant is not None
    made = routing.step_deadline_rows(
        session,
        rules=silent,
        kind="reminder",
        participant=participant,
        pathway_run_id=enrolled.pathway_run_id,
        step_run=step,
        step=silent.pathway().step(step.step_key),
        assignee=None,
        now=T0,
        dashboard_url=DASHBOARD_URL,
    )
    assert made == []


def test_a_full_session_is_told_in_the_template_words_or_the_callers(
    session: Session, rules: Rules
) -> None:
    facts = SessionFacts(
        module_title="Confiance en soi",
        organisation_name="EPS Marche",
        starts_on="01/03/2027",
        ends_on="30/03/2027",
        place="Marche",
        capacity="12",
        link=f"{DASHBOARD_URL}/formations?session=3",
    )
    fallback = messages.Message(title="CREALux - complet", body="complet\n")
    for ident, used in ((1, rules), (2, rules.model_copy(update={"notifications": None}))):
        routing.queue_session_full(
            session,
            rules=used,
            ident=ident,
            organisation_id=1,
            facts=facts,
            fallback=fallback,
            now=T0,
            dashboard_url=DASHBOARD_URL,
        )
    session.flush()
    routed, built_in = rows(session, "training-session-full:")
    assert routed.title == "CREALux - session complète : Confiance en soi"
    assert "12 places occupées" in routed.body and routed.link == facts.link
    assert built_in.title == "CREALux - complet"
    again = routing.queue_session_full(
        session,
        rules=rules,
        ident=1,
        organisation_id=1,
        facts=facts,
        fallback=fallback,
        now=T0,
        dashboard_url=DASHBOARD_URL,
    )
    assert again == 0  # once


# What the dispatcher does with routed messages (services/notifications.py)


def dispatch(session: Session, rules: Rules, now: datetime = T0 + timedelta(hours=1)) -> None:
    dispatch_notifications(session=session, rules=rules, notifier=AppriseNotifier(), now=now)


def test_a_tagged_message_goes_to_the_tagged_channels_only(
    session: Session, settings: Settings, smtp: SmtpSink, tmp_path: Path, enroll
) -> None:
    tagged_channel = FOREM_CHANNEL.replace("conseil@", "orientations@")
    tagged_channel = tagged_channel.replace('- "', '- {url: "').replace(
        'example"', 'example", tags: [referrals]}'
    )
    tagged = rules_with(
        tmp_path,
        ("organisations.yaml", FOREM_CHANNEL, f"{FOREM_CHANNEL}\n{tagged_channel}"),
        (
            "notifications.yaml",
            "{recipient: organisation, template: referral_made}",
            "{recipient: organisation, tag: referrals, template: referral_made}",
        ),
        port=settings.smtp_port,
    )
    enrolled = enroll()
    refer_to(session, tagged, referral_step(session, tagged, enrolled.pathway_run_id).id)
    dispatch(session, tagged)
    assert len(smtp.to("orientations@forem-marche.example")) == 1
    assert smtp.to("conseil@forem-marche.example") == []
    [made] = rows(session, "referral-made-organisation-referrals:")
    assert made.status is NotificationStatus.SENT and made.detail is not None
    assert "tag referrals" in made.detail


def test_the_participant_gets_their_message_at_their_address_only(
    session: Session, settings: Settings, smtp: SmtpSink, tmp_path: Path, enroll
) -> None:
    told = rules_with(
        tmp_path,
        (
            "notifications.yaml",
            "      - {recipient: step_owner, template: step_reminder}",
            "      - {recipient: step_owner, template: step_reminder}\n"
            "      - {recipient: participant, template: participant_checkpoint}",
        ),
        port=settings.smtp_port,
    )
    enrolled = enroll("Zoé")
    decide(session, told, enrolled.first_step.id or 0, FIRST)  # consent given
    participant = session.get(Participant, enrolled.participant_id)
    assert participant is not None
    participant.email = "zoe@example.org"
    session.add(participant)
    step = current_step(session, enrolled.pathway_run_id)
    assert step is not None
    routing.queue(
        session,
        routing.step_deadline_rows(
            session,
            rules=told,
            kind="reminder",
            participant=participant,
            pathway_run_id=enrolled.pathway_run_id,
            step_run=step,
            step=told.pathway().step(step.step_key),
            assignee=None,
            now=T0,
            dashboard_url=DASHBOARD_URL,
        ),
    )
    session.commit()
    dispatch(session, told)
    [mail] = smtp.to("zoe@example.org")
    assert str(mail.message["Subject"]).startswith("CREALux - votre point de suivi")
    assert "Bonjour Zoé" in mail.text
    assert all("Bonjour" not in m.text for m in smtp.received if m is not mail)
    [message] = rows(session, "step-due-soon-participant:")
    assert message.status is NotificationStatus.SENT
    assert message.detail == f"participant {participant.reference}"


def test_a_person_who_asks_for_a_digest_gets_their_messages_once_a_day(
    session: Session, settings: Settings, smtp: SmtpSink
) -> None:
    rules = rules_for(settings.smtp_port)
    advisor = session.exec(select(User).where(User.username == "conseillere")).one()
    advisor.email, advisor.digest = "claire@integraplus.example", True
    session.add(advisor)
    for n in (1, 2):
        notices.queue_for_user(
            session,
            key=f"test-digest:{n}",
            user=advisor,
            pathway_run_id=None,
            message=messages.Message(
                title=f"CREALux - message {n}", body=f"corps {n}\n", link=f"{DASHBOARD_URL}/{n}"
            ),
            now=T0,
        )
    session.commit()
    dispatch(session, rules)
    assert smtp.to("claire@integraplus.example") == []  # held for the digest
    assert digests(session, rules, DIGEST_AT - timedelta(minutes=1)) == Dispatched(0, 0)
    assert digests(session, rules, DIGEST_AT) == Dispatched(1, 0)
    assert digests(session, rules, DIGEST_AT + timedelta(hours=1)) == Dispatched(0, 0)
    [mail] = smtp.to("claire@integraplus.example")
    assert "résumé du 03/11/2026" in str(mail.message["Subject"])
    assert "CREALux - message 1" in mail.text and "CREALux - message 2" in mail.text
    held = rows(session, "test-digest:")
    assert all(row.status is NotificationStatus.SENT and row.digest_id for row in held)
    [digest] = rows(session, f"digest:user-{advisor.id}:")
    assert digest.recipient_user_id == advisor.id


def digests(session: Session, rules: Rules, now: datetime) -> Dispatched:
    return dispatch_digests(
        session=session,
        rules=rules,
        notifier=AppriseNotifier(),
        now=now,
        at=time(7, 0),
        timezone="Europe/Brussels",
    )
