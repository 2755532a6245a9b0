"""The delivery log and the channels' states: the coordinator's only, through the services and
the CLI alike; filters and paging in SQL; channels always masked."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session
from typer.testing import CliRunner, Result

from crealux.cli import app
from crealux_core.domain.channels import channel_id
from crealux_core.models import NotificationStatus
from crealux_core.notify import AppriseNotifier
from crealux_core.runtime import Runtime
from crealux_core.services.deliveries import enable_channel, list_channels, list_deliveries
from crealux_core.services.errors import Forbidden, InvalidInput
from crealux_core.services.notifications import dispatch_notifications
from crealux_core.services.users import get_user
from tests.conftest import T0, free_port
from tests.dashboards.conftest import app_environ
from tests.json_sink import JsonSink, json_sink
from tests.services.test_delivery import mail_url, queue, rules_with

runner = CliRunner()
BAD = "msteams://A-token-s3cret"


@pytest.fixture
def sink() -> Iterator[JsonSink]:
    with json_sink() as started:
        yield started


@pytest.fixture
def log(session: Session, sink: JsonSink) -> dict[str, Any]:
    """Messages to three organisations: one sent, one partly (a disabled channel), one failed
    (no channel); the json endpoint takes what goes to it."""
    port = free_port()
    rules = rules_with(
        port,
        le_trusquin=(sink.url("trusquin/s3cret"), BAD),
        challenge=(sink.url("challenge"),),
        cpas_durbuy=(),
    )
    trusquin = queue(session, 3, "le-trusquin")
    challenge = queue(session, 2, "challenge")
    cpas = queue(session, 1, "cpas-durbuy")
    dispatch_notifications(session=session, rules=rules, notifier=AppriseNotifier(), now=T0)
    del port
    return {"rules": rules, "trusquin": trusquin, "challenge": challenge, "cpas": cpas}


def test_the_coordinator_sees_each_channels_answer_masked(
    session: Session, log: dict[str, Any]
) -> None:
    coordinator = get_user(session=session, username="coordination")
    page = list_deliveries(session=session, user=coordinator, limit=10)
    assert page.total == 6
    assert [row.notification_id for row in page.rows] == sorted(
        log["trusquin"] + log["challenge"] + log["cpas"], reverse=True
    )
    statuses = {row.organisation_key: row.status for row in page.rows}
    assert statuses == {
        "le-trusquin": NotificationStatus.PARTIAL,
        "challenge": NotificationStatus.SENT,
        "cpas-durbuy": NotificationStatus.FAILED,
    }
    text = json.dumps([row.as_json() for row in page.rows], ensure_ascii=False)
    assert "s3cret" not in text
    first_trusquin = next(r for r in page.rows if r.notification_id == log["trusquin"][0])
    assert [(c.service, c.status.value) for c in first_trusquin.channels] == [
        ("json", "success"),
        ("msteams", "failure"),
    ]
    assert first_trusquin.status_label == "Envoyé en partie"


def test_filters_and_paging(session: Session, log: dict[str, Any]) -> None:
    coordinator = get_user(session=session, username="coordination")

    def ids(**filters: Any) -> list[int]:
        page = list_deliveries(session=session, user=coordinator, **filters)
        return [row.notification_id for row in page.rows]

    assert ids(status="failed") == log["cpas"]
    assert ids(organisation_key="challenge") == sorted(log["challenge"], reverse=True)
    assert len(ids(status="partial")) == 3
    assert ids(start=T0.date(), end=T0.date()) and not ids(start=T0.date() + timedelta(days=1))
    second = list_deliveries(session=session, user=coordinator, offset=2, limit=2)
    assert second.total == 6 and len(second.rows) == 2
    with pytest.raises(InvalidInput):
        list_deliveries(session=session, user=coordinator, status="lost")
    with pytest.raises(InvalidInput):
        list_deliveries(session=session, user=coordinator, participant="Sophie")
    assert ids(participant="P-99999") == []


def test_disabled_channels_show_why_and_can_be_enabled_again(
    session: Session, log: dict[str, Any]
) -> None:
    coordinator = get_user(session=session, username="coordination")
    states = list_channels(session=session, user=coordinator, rules=log["rules"])
    disabled = [state for state in states if state.disabled]
    assert {(s.organisation_key, s.channel) for s in disabled} == {
        ("le-trusquin", "msteams://***"),
        ("cpas-durbuy", "(aucun canal)"),
    }
    assert all(state.reason for state in disabled)
    assert states[: len(disabled)] == disabled  # disabled ones first
    enabled = enable_channel(
        session=session,
        user=coordinator,
        organisation_key="le-trusquin",
        channel=channel_id(BAD)[:8],
        now=T0 + timedelta(hours=1),
    )
    assert not enabled.disabled
    states = list_channels(
        session=session, user=coordinator, rules=log["rules"], disabled_only=True
    )
    assert [state.organisation_key for state in states] == ["cpas-durbuy"]


@pytest.mark.parametrize("username", ["conseillere", "trusquin"])
def test_others_may_not_read_the_log_nor_enable_a_channel(
    session: Session, log: dict[str, Any], username: str
) -> None:
    user = get_user(session=session, username=username)
    with pytest.raises(Forbidden):
        list_deliveries(session=session, user=user)
    with pytest.raises(Forbidden):
        list_channels(session=session, user=user, rules=log["rules"])
    with pytest.raises(Forbidden):
        enable_channel(
            session=session,
            user=user,
            organisation_key="le-trusquin",
            channel=channel_id(BAD),
            now=T0,
        )


# The CLI


@pytest.fixture
def instance(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    saved = dict(os.environ)
    for name, value in app_environ(runtime.settings).items():
        monkeypatch.setenv(name, value)
    yield runtime
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_the_command_line_lists_filters_and_enables(
    instance: Runtime, session: Session, sink: JsonSink
) -> None:
    port = free_port()
    rules = rules_with(port, le_trusquin=(mail_url(port), BAD))
    queue(session, 2, "le-trusquin")
    dispatch_notifications(session=session, rules=rules, notifier=AppriseNotifier(), now=T0)
    listed = run("deliveries", "list", "--status", "failed", "--as", "coordination", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)["rows"]
    assert len(rows) == 2 and {c["service"] for c in rows[0]["channels"]} == {"mailto", "msteams"}
    assert "s3cret" not in listed.stdout
    text = run("deliveries", "list", "--as", "coordination")
    assert text.exit_code == 0 and "2 notification(s)" in text.stdout
    assert "msteams://***" in text.stdout and "s3cret" not in text.stdout
    # The instance's own rules are the CLI's: its le-trusquin channel is a mailto:// one.
    channels = run("deliveries", "channels", "--as", "coordination", "--json")
    assert channels.exit_code == 0, channels.output
    states = json.loads(channels.stdout)
    bad = [s for s in states if s["channel_id"] == channel_id(BAD)]
    assert bad and bad[0]["disabled"] and not bad[0]["in_rules"] and bad[0]["reason"]
    assert "s3cret" not in channels.stdout
    refused = run(
        "deliveries", "enable-channel", "le-trusquin", channel_id(BAD), "--as", "trusquin"
    )
    assert refused.exit_code == 4, refused.output
    refused_list = run("deliveries", "list", "--as", "conseillere", "--json")
    assert refused_list.exit_code == 4 and "error" in json.loads(refused_list.stdout)
    enabled = run(
        "deliveries", "enable-channel", "le-trusquin", channel_id(BAD), "--as", "coordination"
    )
    assert enabled.exit_code == 0, enabled.output
    again = run("deliveries", "channels", "--disabled", "--as", "coordination", "--json")
    assert channel_id(BAD) not in again.stdout
    missing = run("deliveries", "enable-channel", "le-trusquin", "ffffffff", "--as", "coordination")
    assert missing.exit_code == 3
