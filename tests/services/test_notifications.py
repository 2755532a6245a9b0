from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from crealux_core.models import Notification, NotificationStatus
from crealux_core.notify import AppriseNotifier
from crealux_core.rules import Rules, load_rules
from crealux_core.services.notifications import (
    BACKOFF,
    MAX_ATTEMPTS,
    Dispatched,
    _claim,
    dispatch_notifications,
)
from crealux_core.settings import REPO_RULES_DIR, Settings
from tests.conftest import T0, free_port
from tests.smtp import SmtpSink


def rules_for(port: int) -> Rules:
    return load_rules(REPO_RULES_DIR, env={"CREALUX_SMTP_PORT": str(port)})


def test_a_step_opening_emails_its_organisation_once(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    enrolled = enroll()
    rules = rules_for(settings.smtp_port)
    first = dispatch_notifications(session=session, rules=rules, notifier=AppriseNotifier(), now=T0)
    second = dispatch_notifications(
        session=session, rules=rules, notifier=AppriseNotifier(), now=T0
    )
    assert (first.sent, second.sent) == (1, 0)
    [mail] = smtp.to("accueil@integraplus.example")
    assert "Premier accueil" in str(mail.message["Subject"])
    body = mail.text
    assert f"P-{enrolled.participant_id:05d}" in body
    assert "Sophie" not in body  # names stay in the database


def test_a_failed_send_is_retried_with_backoff_then_given_up(session: Session, enroll) -> None:
    enroll()
    rules = rules_for(free_port())  # nothing listens there: a temporary failure

    def failed_at(moment: datetime) -> int:
        return dispatch_notifications(
            session=session, rules=rules, notifier=AppriseNotifier(), now=moment
        ).failed

    moment = T0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert failed_at(moment) == 1
        if attempt < MAX_ATTEMPTS:
            assert failed_at(moment + BACKOFF[attempt - 1] - timedelta(seconds=1)) == 0
            moment += BACKOFF[attempt - 1]
    assert dispatch_notifications(
        session=session, rules=rules, notifier=AppriseNotifier(), now=moment + timedelta(days=2)
    ) == Dispatched(0, 0)
    session.expire_all()
    [notification] = session.exec(select(Notification)).all()
    assert notification.status is NotificationStatus.FAILED
    assert notification.attempts == MAX_ATTEMPTS
    assert notification.next_attempt_at is None
    assert notification.last_error and "Connection refused" in notification.last_error


def test_two_senders_cannot_claim_the_same_notification(engine: Engine, enroll) -> None:
    enroll()
    with Session(engine) as one, Session(engine) as two:
        [notification_id] = one.exec(select(Notification.id)).all()
        assert _claim(one, notification_id, T0) is True
        assert _claim(two, notification_id, T0) is False
        # a claim left by a crashed sender is taken back after the claim timeout
        assert _claim(two, notification_id, T0 + timedelta(minutes=6)) is True


def test_the_maintainer_leaves_fresh_messages_to_their_flow_run(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    enroll()  # its step-opened message is queued at T0
    rules = rules_for(settings.smtp_port)
    grace = timedelta(seconds=5)

    def maintainer_at(moment):  # type: ignore[no-untyped-def]
        return dispatch_notifications(
            session=session,
            rules=rules,
            notifier=AppriseNotifier(),
            now=moment,
            queued_before=moment - grace,
        ).sent

    assert maintainer_at(T0 + timedelta(seconds=2)) == 0
    assert maintainer_at(T0 + timedelta(seconds=6)) == 1
