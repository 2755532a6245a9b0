"""Delivery that loses nothing, on real servers: a local SMTP server and a local HTTP endpoint
receiving Apprise json:// posts. Each message reaches each channel exactly once; a failure is
retried on the channels that did not take it; a permanent one disables its channel and is
never reported as sent."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, insert
from sqlmodel import Session, col, select

from crealux_core.db import new_session
from crealux_core.domain.channels import channel_id
from crealux_core.models import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationStatus,
    Organisation,
)
from crealux_core.notify import AppriseNotifier
from crealux_core.rules import Rules, load_rules
from crealux_core.rules.specs import ChannelSpec
from crealux_core.services.notifications import (
    BACKOFF,
    NO_CHANNEL,
    Dispatched,
    dispatch_notifications,
)
from crealux_core.settings import REPO_RULES_DIR
from tests.conftest import T0, free_port
from tests.json_sink import JsonSink, json_sink
from tests.smtp import SmtpSink, start_smtp

ORGANISATION = "le-trusquin"
INBOX = "formation@trusquin.example"


def rules_with(port: int, **channels: tuple[str, ...]) -> Rules:
    """The shipped rules (mail to the SMTP server on `port`), with some organisations' channels
    replaced: `rules_with(port, le_trusquin=(url, ...))`."""
    rules = load_rules(REPO_RULES_DIR, env={"CREALUX_SMTP_PORT": str(port)})
    organisations = dict(rules.organisations)
    for name, urls in channels.items():
        key = name.replace("_", "-")
        notify = tuple(ChannelSpec(url=url) for url in urls)
        organisations[key] = organisations[key].model_copy(update={"notify": notify})
    return rules.model_copy(update={"organisations": organisations})


def mail_url(port: int, to: str = INBOX) -> str:
    return f"mailto://127.0.0.1:{port}?from=crealux@integraplus.example&to={to}"


def queue(session: Session, count: int, organisation: str = ORGANISATION) -> list[int]:
    """Queue `count` messages for an organisation; return their ids."""
    organisation_id = session.exec(
        select(Organisation.id).where(Organisation.key == organisation)
    ).one()
    session.execute(
        insert(Notification),
        [
            {
                "event_key": f"test:{organisation}:{number}",
                "organisation_id": organisation_id,
                "title": f"Message {number}",
                "body": f"Corps {number}",
                "status": NotificationStatus.PENDING,
                "attempts": 0,
                "created_at": T0,
                "is_digest": False,
            }
            for number in range(count)
        ],
    )
    session.commit()
    found = session.exec(
        select(Notification.id)
        .where(col(Notification.event_key).startswith(f"test:{organisation}:"))
        .order_by(col(Notification.id))
    ).all()
    return [ident for ident in found if ident is not None]


def dispatch(session: Session, rules: Rules, now: datetime) -> Dispatched:
    return dispatch_notifications(
        session=session, rules=rules, notifier=AppriseNotifier(), now=now, limit=1000
    )


def statuses(session: Session) -> Counter[NotificationStatus]:
    session.expire_all()
    return Counter(n.status for n in session.exec(select(Notification)).all())


def deliveries(session: Session, notification_id: int) -> list[NotificationDelivery]:
    session.expire_all()
    return list(
        session.exec(
            select(NotificationDelivery)
            .where(NotificationDelivery.notification_id == notification_id)
            .order_by(col(NotificationDelivery.id))
        ).all()
    )


@pytest.fixture
def sink() -> JsonSink:  # type: ignore[misc]
    with json_sink() as started:
        yield started


def test_the_smtp_server_down_then_back_delivers_each_message_once(session: Session) -> None:
    port = free_port()
    rules = rules_with(port)
    ids = queue(session, 20)
    assert dispatch(session, rules, T0) == Dispatched(sent=0, failed=20)
    assert statuses(session) == {NotificationStatus.FAILED: 20}
    message = session.get(Notification, ids[0])
    assert message is not None and message.next_attempt_at == T0 + BACKOFF[0]
    assert message.last_error and "Connection refused" in message.last_error
    [failure] = deliveries(session, ids[0])
    assert failure.status is DeliveryStatus.FAILURE and not failure.permanent
    assert failure.service == "mailto" and failure.channel_id == channel_id(mail_url(port))
    sink, controller = start_smtp(port)
    try:
        assert dispatch(session, rules, T0 + BACKOFF[0] - timedelta(seconds=1)) == Dispatched(0, 0)
        assert dispatch(session, rules, T0 + BACKOFF[0]) == Dispatched(sent=20, failed=0)
        assert dispatch(session, rules, T0 + timedelta(days=1)) == Dispatched(0, 0)
    finally:
        controller.stop()
    assert sorted(sink.subjects(INBOX)) == sorted(f"Message {n}" for n in range(20))
    assert statuses(session) == {NotificationStatus.SENT: 20}
    assert [d.status for d in deliveries(session, ids[0])] == [
        DeliveryStatus.FAILURE,
        DeliveryStatus.SUCCESS,
    ]


def test_two_dispatchers_at_once_deliver_each_message_once(
    engine: Engine, session: Session, sink: JsonSink
) -> None:
    port = free_port()
    rules = rules_with(port, le_trusquin=(mail_url(port), sink.url("trusquin")))
    queue(session, 30)
    mail, controller = start_smtp(port)
    start = threading.Barrier(2)
    results: list[Dispatched] = []

    def dispatcher() -> None:
        with new_session(engine) as own:
            start.wait()
            results.append(dispatch(own, rules, T0))

    try:
        threads = [threading.Thread(target=dispatcher) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        controller.stop()
    assert sum(result.sent for result in results) == 30
    assert Counter(mail.subjects(INBOX)) == Counter(f"Message {n}" for n in range(30))
    assert Counter(post.title for post in sink.to("trusquin")) == Counter(
        f"Message {n}" for n in range(30)
    )
    assert statuses(session) == {NotificationStatus.SENT: 30}


def test_a_partial_failure_is_retried_on_the_failed_channel_only(
    session: Session, sink: JsonSink
) -> None:
    port = free_port()
    rules = rules_with(port, le_trusquin=(mail_url(port), sink.url("trusquin/hook-s3cret")))
    [message_id] = queue(session, 1)
    sink.answer("trusquin/hook-s3cret", 500)
    mail, controller = start_smtp(port)
    try:
        assert dispatch(session, rules, T0) == Dispatched(sent=0, failed=0, partial=1)
        message = session.get(Notification, message_id)
        assert message is not None
        assert message.status is NotificationStatus.PARTIAL
        assert message.next_attempt_at == T0 + BACKOFF[0]
        assert message.last_error and "error=500" in message.last_error
        sink.answer("trusquin/hook-s3cret", 200)
        assert dispatch(session, rules, T0 + BACKOFF[0]) == Dispatched(sent=1, failed=0)
    finally:
        controller.stop()
    assert mail.subjects(INBOX) == ["Message 0"]  # the mail server got it once
    assert [post.title for post in sink.to("trusquin/hook-s3cret")] == ["Message 0"]
    rows = deliveries(session, message_id)
    assert [(row.service, row.status, row.attempt) for row in rows] == [
        ("mailto", DeliveryStatus.SUCCESS, 1),
        ("json", DeliveryStatus.FAILURE, 1),
        ("json", DeliveryStatus.SUCCESS, 2),
    ]
    for row in rows:  # the webhook's secret path is never stored
        assert "s3cret" not in f"{row.channel_label} {row.error}"
    assert rows[1].channel_label == f"json://127.0.0.1:{sink.port}/***"
    assert statuses(session) == {NotificationStatus.SENT: 1}


def test_a_bad_url_disables_its_channel_and_the_message_is_not_sent(session: Session) -> None:
    port = free_port()
    bad = "msteams://not-a-webhook"
    rules = rules_with(port, le_trusquin=(mail_url(port), bad))
    first, second = queue(session, 2)
    mail, controller = start_smtp(port)
    try:
        assert dispatch(session, rules, T0) == Dispatched(sent=0, failed=0, partial=2)
        assert dispatch(session, rules, T0 + timedelta(days=1)) == Dispatched(0, 0)  # no retry
    finally:
        controller.stop()
    assert sorted(mail.subjects(INBOX)) == ["Message 0", "Message 1"]
    session.expire_all()
    message = session.get(Notification, first)
    assert message is not None
    assert message.status is NotificationStatus.PARTIAL and message.next_attempt_at is None
    [state] = session.exec(select(NotificationChannel)).all()
    assert (state.organisation_key, state.channel_id) == (ORGANISATION, channel_id(bad))
    assert state.disabled_at == T0 and state.reason and "Apprise refuse" in state.reason
    assert state.channel_label == "msteams://***"
    refused = [row for row in deliveries(session, first) if row.service == "msteams"]
    skipped = [row for row in deliveries(session, second) if row.service == "msteams"]
    assert [(row.status, row.permanent) for row in refused] == [(DeliveryStatus.FAILURE, True)]
    assert [row.status for row in skipped] == [DeliveryStatus.SKIPPED]  # and says why
    assert skipped[0].error and skipped[0].error.startswith("canal désactivé : Apprise refuse")


class RefusingSink(SmtpSink):
    """An SMTP server that refuses recipients whose address starts with "refused"."""

    async def handle_RCPT(  # type: ignore[no-untyped-def]
        self, server, session, envelope, address: str, rcpt_options
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 unknown user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_mail_server_refusing_the_recipient_is_permanent(session: Session) -> None:
    port = free_port()
    refused = mail_url(port, to="refused@trusquin.example")
    rules = rules_with(port, le_trusquin=(refused, mail_url(port)))
    [message_id] = queue(session, 1)
    sink = RefusingSink(port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert dispatch(session, rules, T0) == Dispatched(sent=0, failed=0, partial=1)
    finally:
        controller.stop()
    assert sink.subjects(INBOX) == ["Message 0"]
    message = session.get(Notification, message_id)
    assert message is not None and message.next_attempt_at is None  # not tried again
    [state] = session.exec(select(NotificationChannel)).all()
    assert state.channel_id == channel_id(refused) and state.disabled_at == T0
    assert state.reason and "550" in state.reason


def test_an_organisation_without_any_channel_is_not_sent(session: Session) -> None:
    rules = rules_with(free_port(), le_trusquin=())
    [message_id] = queue(session, 1)
    assert dispatch(session, rules, T0) == Dispatched(sent=0, failed=1)
    assert dispatch(session, rules, T0 + timedelta(days=1)) == Dispatched(0, 0)
    message = session.get(Notification, message_id)
    assert message is not None
    assert message.status is NotificationStatus.FAILED and message.sent_at is None
    assert message.next_attempt_at is None and message.last_error == "aucun canal configuré"
    [row] = deliveries(session, message_id)
    assert (row.channel_id, row.status, row.permanent) == (
        NO_CHANNEL,
        DeliveryStatus.FAILURE,
        True,
    )
    [state] = session.exec(select(NotificationChannel)).all()
    assert state.reason == "aucun canal configuré" and state.disabled_at == T0


def test_an_organisation_gone_from_the_rules_is_not_sent(session: Session) -> None:
    rules = rules_with(free_port())
    organisations = {k: v for k, v in rules.organisations.items() if k != ORGANISATION}
    without = rules.model_copy(update={"organisations": organisations})
    [message_id] = queue(session, 1)
    assert dispatch(session, without, T0) == Dispatched(sent=0, failed=1)
    message = session.get(Notification, message_id)
    assert message is not None and message.status is NotificationStatus.FAILED
    assert message.next_attempt_at is None
    assert message.last_error == "organisation absente des règles"


def test_a_claim_taken_back_stops_the_first_sender_before_its_next_channel(
    engine: Engine, session: Session, sink: JsonSink
) -> None:
    """A sender so slow that its claim times out (CLAIM_TIMEOUT) and another dispatcher takes
    the message back: the other skips the channels recorded as having taken it, the slow one
    sends to no further channel. Only the channel being sent to at that moment gets it twice
    (the window docs/notifications.md describes)."""
    rules = rules_with(
        free_port(), le_trusquin=(sink.url("one"), sink.url("two"), sink.url("three"))
    )
    [message_id] = queue(session, 1)
    later = T0 + timedelta(minutes=10)
    taken_back: list[Dispatched] = []

    class Slow(AppriseNotifier):
        def send_channel(self, *, url: str, title: str, body: str, html: str | None = None):  # type: ignore[no-untyped-def]
            if url.endswith("/two"):  # meanwhile, another dispatcher takes the message back
                with new_session(engine) as other:
                    taken_back.append(dispatch(other, rules, later))
            return super().send_channel(url=url, title=title, body=body, html=html)

    assert dispatch_notifications(
        session=session, rules=rules, notifier=Slow(), now=T0
    ) == Dispatched(0, 0)  # it lost the message to the other
    assert taken_back == [Dispatched(sent=1, failed=0)]
    assert Counter(post.path for post in sink.received) == {"/one": 1, "/two": 2, "/three": 1}
    assert statuses(session) == {NotificationStatus.SENT: 1}
    assert [(d.channel_label[-3:], d.attempt) for d in deliveries(session, message_id)] == [
        ("***", 1),
        ("***", 2),
        ("***", 2),
        ("***", 1),
    ]
