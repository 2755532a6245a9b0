"""A shared inbox (`digest: true`) gets one message a day listing its steps, exactly once, and
never loses one when the digest cannot be sent."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from crealux.maintain import Maintainer
from crealux_core.db import new_session
from crealux_core.models import Notification, NotificationStatus, Organisation, StepRun
from crealux_core.notify import AppriseNotifier
from crealux_core.rules import Rules
from crealux_core.runtime import Runtime
from crealux_core.services.notifications import (
    BACKOFF,
    MAX_ATTEMPTS,
    Dispatched,
    digest_moment,
    dispatch_digests,
    dispatch_notifications,
    queued_notifications,
)
from crealux_core.settings import Settings
from tests.conftest import DASHBOARD_URL, T0, free_port
from tests.services.test_notices import rules_for, walk_to_training
from tests.smtp import SmtpSink

INBOX = "secretariat@eps-marche.example"  # promotion-sociale-marche: `digest: true`
# T0 is 2 November 2026, 10:00 in Brussels (UTC+1); the next digest is at 07:00 the next day.
DIGEST_AT = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)


def digests_at(session: Session, rules: Rules, now: datetime) -> Dispatched:
    return dispatch_digests(
        session=session,
        rules=rules,
        notifier=AppriseNotifier(),
        now=now,
        at=time(7, 0),
        timezone="Europe/Brussels",
    )


def two_trainings(session: Session, rules: Rules, enroll) -> list[tuple[int, StepRun]]:  # type: ignore[no-untyped-def]
    """Two participants reach their training: two messages for the training centre."""
    return [walk_to_training(session, rules, enroll) for _ in range(2)]


def inbox_messages(session: Session) -> list[Notification]:
    session.expire_all()
    return list(
        session.exec(
            select(Notification)
            .join(Organisation, col(Notification.organisation_id) == col(Organisation.id))
            .where(Organisation.key == "promotion-sociale-marche")
            .order_by(col(Notification.id))
        ).all()
    )


def test_the_digest_time_is_local_to_brussels() -> None:
    assert digest_moment(DIGEST_AT - timedelta(seconds=1), time(7, 0), "Europe/Brussels") is None
    summer = datetime(2026, 7, 1, 5, 0, tzinfo=UTC)  # 07:00 in Brussels (UTC+2)
    assert digest_moment(summer, time(7, 0), "Europe/Brussels") == (summer.date(), summer)


def test_a_digest_organisation_gets_nothing_before_the_digest_time(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    two_trainings(session, rules, enroll)
    dispatch_notifications(
        session=session, rules=rules, notifier=AppriseNotifier(), now=T0 + timedelta(hours=1)
    )
    assert digests_at(session, rules, DIGEST_AT - timedelta(minutes=1)) == Dispatched(0, 0)
    assert smtp.to(INBOX) == []
    assert smtp.received  # the other organisations were told at once
    assert {n.status for n in inbox_messages(session)} == {NotificationStatus.PENDING}


def test_at_the_digest_time_one_mail_lists_every_step_with_its_link(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    trainings = two_trainings(session, rules, enroll)
    assert digests_at(session, rules, DIGEST_AT) == Dispatched(1, 0)
    assert digests_at(session, rules, DIGEST_AT + timedelta(hours=1)) == Dispatched(0, 0)
    [mail] = smtp.to(INBOX)
    assert "résumé du 03/11/2026" in str(mail.message["Subject"])
    html = mail.message.get_body(preferencelist=("html",))
    assert html is not None
    for participant_id, step in trainings:
        assert f'<a href="{DASHBOARD_URL}/etape?step={step.id}">' in html.get_content()
        assert f"P-{participant_id:05d}" in mail.text
    *steps, digest = inbox_messages(session)
    assert digest.is_digest and digest.status is NotificationStatus.SENT
    assert len(steps) == 2
    assert all(n.status is NotificationStatus.SENT and n.digest_id == digest.id for n in steps)


def test_what_comes_after_the_digest_time_waits_for_the_next_day(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    walk_to_training(session, rules, enroll)
    assert digests_at(session, rules, DIGEST_AT).sent == 1
    walk_to_training(session, rules, enroll, now=DIGEST_AT + timedelta(hours=2))
    assert digests_at(session, rules, DIGEST_AT + timedelta(hours=3)).sent == 0
    assert digests_at(session, rules, DIGEST_AT + timedelta(days=1)).sent == 1
    assert len(smtp.to(INBOX)) == 2


def test_two_dispatchers_at_once_send_the_digest_once(
    engine: Engine, session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    two_trainings(session, rules, enroll)
    start = threading.Barrier(2)
    results: list[Dispatched] = []

    def dispatcher() -> None:
        with new_session(engine) as own:
            start.wait()
            results.append(digests_at(own, rules, DIGEST_AT))

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.sent for r in results) == [0, 1]
    assert len(smtp.to(INBOX)) == 1
    assert {n.status for n in inbox_messages(session)} == {NotificationStatus.SENT}


def test_a_failed_digest_keeps_its_messages_for_the_next_try(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    two_trainings(session, rules, enroll)
    unreachable = rules_for(free_port())
    assert digests_at(session, unreachable, DIGEST_AT) == Dispatched(0, 1)
    *steps, digest = inbox_messages(session)
    assert digest.status is NotificationStatus.FAILED and digest.last_error
    assert {n.status for n in steps} == {NotificationStatus.PENDING}
    assert digests_at(session, rules, DIGEST_AT + timedelta(minutes=1)) == Dispatched(1, 0)
    assert {n.status for n in inbox_messages(session)} == {NotificationStatus.SENT}
    assert len(smtp.to(INBOX)) == 1


def test_a_digest_that_fails_for_good_hands_its_messages_to_the_next_day(
    session: Session, settings: Settings, smtp: SmtpSink, enroll
) -> None:
    rules = rules_for(settings.smtp_port)
    walk_to_training(session, rules, enroll)
    unreachable = rules_for(free_port())
    moment = DIGEST_AT
    for wait in (*BACKOFF, timedelta(hours=1)):  # each retry when it is due, then one more
        digests_at(session, unreachable, moment)
        moment += wait
    step, given_up = inbox_messages(session)
    assert given_up.status is NotificationStatus.FAILED and given_up.attempts == MAX_ATTEMPTS
    assert step.status is NotificationStatus.PENDING and step.digest_id is None
    assert digests_at(session, rules, DIGEST_AT + timedelta(days=1)) == Dispatched(1, 0)
    assert inbox_messages(session)[0].status is NotificationStatus.SENT
    assert len(smtp.to(INBOX)) == 1


def test_the_maintainer_sends_the_digest_with_its_sweep(
    runtime: Runtime, session: Session, smtp: SmtpSink, enroll
) -> None:
    walk_to_training(session, runtime.rules, enroll)
    maintainer = Maintainer(runtime)
    assert "digests_sent" not in maintainer.tick(DIGEST_AT - timedelta(minutes=1), clock=0.0)
    assert maintainer.tick(DIGEST_AT, clock=100.0)["digests_sent"] == 1
    assert len(smtp.to(INBOX)) == 1


def test_a_pathways_flow_lists_no_message_held_for_a_digest(
    session: Session, rules: Rules, enroll
) -> None:
    _, training = walk_to_training(session, rules, enroll)
    held = [n.id for n in inbox_messages(session)]
    queued = queued_notifications(
        session=session, pathway_run_id=training.pathway_run_id, now=T0, rules=rules
    )
    assert held and not set(held) & set(queued)
    assert queued  # the other messages of the pathway are there
