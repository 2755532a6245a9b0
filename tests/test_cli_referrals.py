"""`crealux referral ...` in process (typer's CliRunner), against the test's migrated instance,
and the forbidden reads and actions of each role refused by the CLI as by the services."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from crealux.cli import Code, app
from crealux_core.clock import local_today, utcnow
from crealux_core.models import Referral, ReferralStatus, StepRun
from crealux_core.rules import Rules
from crealux_core.runtime import Runtime
from crealux_core.services.plans import add_optional_step
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL, T0
from tests.dashboards.conftest import app_environ

runner = CliRunner()


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


def json_of(result: Result) -> Any:
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON: {result.stdout!r} {result.stderr!r}") from None


def referral_step(session: Session, rules: Rules, pathway_run_id: int) -> int:
    add_optional_step(
        session=session,
        rules=rules,
        user=get_user(session=session, username="conseillere"),
        pathway_run_id=pathway_run_id,
        step_key="partner_referral",
        note=None,
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    return session.exec(select(StepRun.id).where(StepRun.step_key == "partner_referral")).one()


def test_send_list_and_accept_and_every_forbidden_try_refused(
    instance: Runtime, session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll("Nadia")
    step_id = referral_step(session, rules, enrolled.pathway_run_id)
    send = ("referral", "send", str(step_id), "--offer", "forem-marche/job-club")
    reason = ("--reason", "Recherche un emploi.")

    # a partner, another advisor: may not send
    for who in ("cpas", "conseiller"):
        refused = run(*send, *reason, "--as", who, "--json")
        assert refused.exit_code == Code.REFUSED, (who, refused.stdout)
    bad = run(*send, "--reason", "", "--as", "conseillere", "--json")
    assert bad.exit_code == Code.INVALID and "reason" in json_of(bad)["fields"]

    sent = run(*send, *reason, "--as", "conseillere", "--json")
    assert sent.exit_code == 0, sent.stdout
    assert json_of(sent)["event_id"]
    referral_id = session.exec(select(Referral.id)).one()

    # the partner sees it; another partner does not, and cannot answer it
    listed = json_of(run("referral", "list", "--as", "forem", "--json"))
    assert [(row["participant"], row["status"]) for row in listed] == [
        (f"P-{enrolled.participant_id:05d}", "sent")
    ]
    assert "Test" not in json.dumps(listed)  # the last name is not shared
    assert json_of(run("referral", "list", "--as", "cpas", "--json")) == []
    today = local_today(utcnow()).isoformat()
    other = run("referral", "accept", str(referral_id), "--starts", today, "--as", "cpas", "--json")
    assert other.exit_code == Code.NOT_FOUND, other.stdout
    advisor = run(
        "referral", "accept", str(referral_id), "--starts", today, "--as", "conseillere", "--json"
    )
    assert advisor.exit_code == Code.REFUSED, advisor.stdout
    far = run("referral", "accept", str(referral_id), "--starts", "2099-01-01", "--as", "forem")
    assert far.exit_code == Code.INVALID
    not_a_date = run("referral", "accept", str(referral_id), "--starts", "demain", "--as", "forem")
    assert not_a_date.exit_code == Code.INVALID

    accepted = run(
        "referral", "accept", str(referral_id), "--starts", today, "--as", "forem", "--json"
    )
    assert accepted.exit_code == 0, accepted.stdout
    again = run(
        "referral", "decline", str(referral_id), "--reason", "Non.", "--as", "forem", "--json"
    )
    assert again.exit_code == Code.ALREADY_DONE, again.stdout
    assert json_of(again)["decided_by"] == "Conseil Forem"
    session.expire_all()
    assert session.get(Referral, referral_id).status is ReferralStatus.ACCEPTED  # type: ignore[union-attr]

    # the programme's views: the coordinator's only
    for command in (
        ("report", "indicators", "--as", "cpas"),
        ("step", "show", str(enrolled.first_step.id), "--as", "cpas", "--json"),
    ):
        refused = run(*command)
        assert refused.exit_code == Code.REFUSED, (command, refused.stdout)
