"""The advisor is told what others did to their participant's pathway, and what of theirs falls
due; by e-mail to their own address, as HTML with a link, through a real SMTP server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from crealux_core.models import Notification, NotificationStatus, StepRun, User
from crealux_core.notify import AppriseNotifier
from crealux_core.rules import Rules, load_rules
from crealux_core.services.deadlines import sweep
from crealux_core.services.events import current_step
from crealux_core.services.notifications import dispatch_notifications, personal_mail_url
from crealux_core.services.steps import Submitted, skip_step, submit_decision
from crealux_core.services.users import get_user
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.conftest import DASHBOARD_URL, T0
from tests.smtp import SmtpSink

# Answers that fit pathway version 3 (rules/pathways/crealux.yaml).
FIRST = {
    "meeting_on": "2026-11-02",
    "consent_given": True,
    "referred_by": "self",
    "expectation": "training",
}
SELF_EVALUATION = {"confidence": 3, "motivation": 4, "project_clarity": 2, "main_need": "skills"}
ASSESSMENT = {
    "assessed_on": "2026-11-02",
    "labour_status": "long_term_unemployed",
    "education_level": "isced_3_4",
    "has_qualification": False,
    "barrier_housing": False,
    "barrier_health": False,
    "barrier_mobility": True,
    "barrier_childcare": False,
    "barrier_debt": False,
    "project_maturity": "outline",
}
ORIENTATION = {"decided_on": "2026-11-02", "route": "training"}
TRAINING = {"training_kind": "qualifying", "completed": True}
ADVISOR_MAIL = "claire.lambert@integraplus.example"
COORDINATION_MAIL = "accueil@integraplus.example"


def rules_for(port: int) -> Rules:
    return load_rules(REPO_RULES_DIR, env={"CREALUX_SMTP_PORT": str(port)})


def decide(
    session: Session,
    rules: Rules,
    step_run_id: int,
    data: dict[str, Any],
    *,
    actor: str = "conseillere",
    now: datetime | None = None,
) -> Submitted:
    return submit_decision(
        session=session,
        rules=rules,
        step_run_id=step_run_id,
        actor=get_user(session=session, username=actor),
        data=data,
        note=None,
        now=now or T0 + timedelta(minutes=10),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )


def walk_to_training(  # type: ignore[no-untyped-def]
    session: Session, rules: Rules, enroll, now: datetime | None = None
) -> tuple[int, StepRun]:
    """Enroll a participant and decide the advisor's steps up to the partner's training."""
    enrolled = enroll()
    step_id = enrolled.first_step.id or 0
    for answers in (FIRST, SELF_EVALUATION, ASSESSMENT, ORIENTATION):
        submitted = decide(session, rules, step_id, answers, now=now)
        assert submitted.current_step_id is not None
        step_id = submitted.current_step_id
    step = current_step(session, enrolled.pathway_run_id)
    assert step is not None and step.step_key == "training"
    return enrolled.participant_id, step


def advisor_notices(session: Session) -> list[Notification]:
    advisor = get_user(session=session, username="conseillere")
    session.expire_all()
    return list(
        session.exec(
            select(Notification)
            .where(Notification.recipient_user_id == advisor.id)
            .order_by(col(Notification.id))
        ).all()
    )


def give_address(session: Session, username: str, address: str | None) -> User:
    user = get_user(session=session, username=username)
    user.email = address
    session.add(user)
    session.commit()
    return user


def test_the_advisors_own_decisions_tell_the_advisor_nothing(
    session: Session, rules: Rules, enroll
) -> None:
    walk_to_training(session, rules, enroll)
    assert advisor_notices(session) == []


def test_a_partners_decision_queues_one_message_to_the_advisor(
    session: Session, rules: Rules, enroll
) -> None:
    participant_id, training = walk_to_training(session, rules, enroll)
    decide(session, rules, training.id or 0, TRAINING, actor="promsoc")
    [notice] = advisor_notices(session)
    assert notice.event_key == f"step-closed:{training.id}"
    assert "complétée" in notice.title and f"P-{participant_id:05d}" in notice.title
    assert notice.link == f"{DASHBOARD_URL}/etape?step={training.id}"
    assert notice.html is not None and f'<a href="{notice.link}">' in notice.html
    assert "Sophie" not in notice.body + notice.html + notice.title


def test_a_skip_by_the_coordinator_tells_the_advisor(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    skip_step(
        session=session,
        rules=rules,
        step_run_id=enrolled.first_step.id or 0,
        actor=get_user(session=session, username="coordination"),
        reason="Déjà reçue par le CPAS",
        now=T0 + timedelta(minutes=5),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    [notice] = advisor_notices(session)
    assert notice.event_key == f"step-closed:{enrolled.first_step.id}"
    assert "passée" in notice.title


def test_an_ended_pathway_tells_the_advisor_with_a_link_to_the_participant(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    decide(session, rules, enrolled.first_step.id or 0, {**FIRST, "consent_given": False})
    [notice] = advisor_notices(session)
    assert notice.event_key == f"pathway-ended:{enrolled.pathway_run_id}"
    assert notice.link == f"{DASHBOARD_URL}/parcours?participant={enrolled.participant_id}"
    assert notice.html is not None and f'href="{notice.link}"' in notice.html


def test_the_advisor_gets_an_html_mail_with_a_plain_text_alternative_and_the_link(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    give_address(session, "conseillere", ADVISOR_MAIL)
    participant_id, training = walk_to_training(session, rules, enroll)
    decide(session, rules, training.id or 0, TRAINING, actor="promsoc")
    dispatch_notifications(
        session=session, rules=rules, notifier=AppriseNotifier(), now=T0 + timedelta(hours=1)
    )
    [mail] = smtp.to(ADVISOR_MAIL)
    assert mail.message.get_content_type() == "multipart/alternative"
    html = mail.message.get_body(preferencelist=("html",))
    plain = mail.message.get_body(preferencelist=("plain",))
    assert html is not None and plain is not None
    link = f"{DASHBOARD_URL}/etape?step={training.id}"
    assert f'<a href="{link}">' in html.get_content()
    assert link in plain.get_content()
    assert f"P-{participant_id:05d}" in plain.get_content()
    assert "Sophie" not in html.get_content() + plain.get_content()
    [notice] = advisor_notices(session)
    assert notice.status is NotificationStatus.SENT and notice.detail == ADVISOR_MAIL


def test_an_advisor_without_an_address_is_told_through_their_organisation(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    give_address(session, "conseillere", None)
    enrolled = enroll()
    decide(session, rules, enrolled.first_step.id or 0, {**FIRST, "consent_given": False})
    dispatch_notifications(
        session=session, rules=rules, notifier=AppriseNotifier(), now=T0 + timedelta(hours=1)
    )
    assert any("parcours terminé" in s for s in smtp.subjects(COORDINATION_MAIL))
    [notice] = advisor_notices(session)
    assert notice.status is NotificationStatus.SENT
    assert notice.detail is not None and "no e-mail address" in notice.detail


def test_a_reminder_of_an_advisor_step_reaches_the_advisors_address(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    give_address(session, "conseillere", ADVISOR_MAIL)
    step = enroll().first_step
    assert step.remind_at is not None
    sweep(session=session, rules=rules, now=step.remind_at, dashboard_url=DASHBOARD_URL)
    dispatch_notifications(
        session=session, rules=rules, notifier=AppriseNotifier(), now=step.remind_at
    )
    assert [s for s in smtp.subjects(ADVISOR_MAIL) if "rappel" in s]
    assert not [s for s in smtp.subjects(COORDINATION_MAIL) if "rappel" in s]


def test_an_overdue_step_reaches_the_coordination_and_the_advisor(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    give_address(session, "conseillere", ADVISOR_MAIL)
    step = enroll().first_step
    assert step.escalate_at is not None and step.remind_at is not None
    sweep(session=session, rules=rules, now=step.escalate_at, dashboard_url=DASHBOARD_URL)
    dispatch_notifications(
        session=session, rules=rules, notifier=AppriseNotifier(), now=step.escalate_at
    )
    link = f"{DASHBOARD_URL}/etape?step={step.id}"
    [escalation] = [
        m for m in smtp.to(COORDINATION_MAIL) if "en retard" in str(m.message["Subject"])
    ]
    advisor_mails = [str(m.message["Subject"]) for m in smtp.to(ADVISOR_MAIL)]
    assert sorted(s.split(" :")[0] for s in advisor_mails) == [
        "CREALux - en retard",
        "CREALux - rappel",
    ]
    assert link in escalation.text
    keys = {n.event_key for n in advisor_notices(session)}
    assert keys == {f"reminder:{step.id}", f"overdue:{step.id}"}


def test_a_personal_mail_goes_through_the_organisations_mail_server() -> None:
    urls = (
        "msteams://token/",
        "mailto://smtp.example:2525?from=crealux@example.org&to=accueil@example.org&cc=x@y.z",
    )
    assert personal_mail_url(urls, "claire@example.org") == (
        "mailto://smtp.example:2525?from=crealux%40example.org&to=claire%40example.org"
    )
    assert personal_mail_url(("msteams://token/",), "claire@example.org") is None
