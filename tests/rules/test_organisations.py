"""rules/organisations.yaml: the registry of partners, their offers, their channels and where
the channels' secrets come from (the environment or a file, never the rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crealux_core.rules import RulesError, load_rules
from crealux_core.rules.channels import literal_secret
from crealux_core.rules.loader import Problem
from crealux_core.rules.specs import OfferKind, OrganisationKind
from crealux_core.settings import REPO_RULES_DIR
from tests.rules.conftest import ENV, edit
from tests.rules.test_loader import line_of

FOREM_CHANNEL = (
    '"mailto://127.0.0.1:${CREALUX_SMTP_PORT:-8025}?from=crealux@integraplus.example'
    '&to=conseil@forem-marche.example"'
)
TEAMS_WEBHOOK = (
    "https://contoso.webhook.office.com/webhookb2/8f3b5c1e-0f5a-4d0c-9a2a-1b2c3d4e5f60"
    "@72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/a1b2c3d4e5f60718293a4b5c6d7e8f90"
    "/9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d"
)


def organisations_file(rules_dir: Path) -> Path:
    return rules_dir / "organisations.yaml"


def forem_channel(rules_dir: Path, *channels: str) -> Path:
    """Give the Forem these channels (YAML flow items) instead of its one e-mail address."""
    file = organisations_file(rules_dir)
    edit(file, f"- {FOREM_CHANNEL}", "\n      - ".join(("- " + channels[0], *channels[1:])))
    return file


def refused(rules_dir: Path, env: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir, env=env or ENV)
    return caught.value.problems


FOREM = ("organisations", "forem-marche")


def test_the_registry_has_each_kind_its_offers_and_channels() -> None:
    rules = load_rules(REPO_RULES_DIR, env=ENV)
    kinds = {spec.kind for spec in rules.organisations.values()}
    assert {
        OrganisationKind.COORDINATOR,
        OrganisationKind.TRAINING_CENTRE,
        OrganisationKind.BUSINESS_CREATION,
        OrganisationKind.WORK_INTEGRATION,
        OrganisationKind.PUBLIC_EMPLOYMENT,
        OrganisationKind.SOCIAL_WELFARE,
    } <= kinds
    home_help = rules.organisations["promotion-sociale-marche"].offers["home-help"]
    assert (home_help.kind, home_help.hours, home_help.qualifying) == (
        OfferKind.TRAINING,
        600,
        True,
    )
    for spec in rules.organisations.values():
        assert spec.notify, f"{spec.key} has no channel"
        assert all(o.hours for o in spec.offers.values() if o.kind is OfferKind.TRAINING)


def test_a_channel_takes_tags(rules_dir: Path) -> None:
    forem_channel(
        rules_dir,
        '{url: "json://127.0.0.1:9000/forem", tags: [referrals, job_club]}',
        "mailto://127.0.0.1:8025?to=conseil@forem-marche.example",
    )
    forem = load_rules(rules_dir, env=ENV).organisations["forem-marche"]
    assert [(c.url, c.tags) for c in forem.notify] == [
        ("json://127.0.0.1:9000/forem", ("referrals", "job_club")),
        ("mailto://127.0.0.1:8025?to=conseil@forem-marche.example", ()),
    ]


def test_a_secret_comes_from_a_file_stripped(rules_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secrets" / "smtp-password"
    secret.parent.mkdir()
    secret.write_text("  s3cr3t-from-file\n\n", encoding="utf-8")
    forem_channel(
        rules_dir,
        f'"mailtos://crealux:${{file:{secret}}}@smtp.example.org:587?to=conseil@forem.example"',
    )
    [channel] = load_rules(rules_dir, env=ENV).organisations["forem-marche"].notify
    assert channel.url == (
        "mailtos://crealux:s3cr3t-from-file@smtp.example.org:587?to=conseil@forem.example"
    )


def test_a_secret_comes_from_the_environment(rules_dir: Path) -> None:
    forem_channel(rules_dir, '{url: "msteams://${FOREM_TEAMS}", tags: [referrals]}')
    env = {**ENV, "FOREM_TEAMS": "TokenA/TokenB/TokenC"}
    [channel] = load_rules(rules_dir, env=env).organisations["forem-marche"].notify
    assert channel.url == "msteams://TokenA/TokenB/TokenC"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing", "secret file {path} not found"),
        (lambda tmp: tmp, "cannot read the secret file {path}: Is a directory"),
        (lambda tmp: _written(tmp / "empty", ""), "secret file {path} is empty"),
        (lambda tmp: _written(tmp / "two", "a\nb\n"), "secret file {path} has several lines"),
        (lambda tmp: _written(tmp / "bin", b"\xff\xfe"), "secret file {path} is not UTF-8 text"),
    ],
    ids=["missing", "a-directory", "empty", "two-lines", "not-text"],
)
def test_an_unusable_secret_file_is_refused_with_file_line_and_path(
    rules_dir: Path, tmp_path: Path, make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    file = forem_channel(
        rules_dir, f'{{url: "mailtos://crealux:${{file:{path}}}@smtp.example.org", tags: [mail]}}'
    )
    [problem] = refused(rules_dir)
    assert problem.file == file
    assert problem.path == (*FOREM, "notify", 0, "url")
    assert problem.line == line_of(file, "smtp.example.org")
    assert message.format(path=path) in problem.message


def _written(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_a_relative_secret_file_is_refused(rules_dir: Path) -> None:
    forem_channel(rules_dir, '"mailtos://crealux:${file:secrets/smtp}@smtp.example.org"')
    [problem] = refused(rules_dir)
    assert problem.path == (*FOREM, "notify", 0)
    assert "absolute path" in problem.message


def test_an_unset_variable_names_the_channel_url(rules_dir: Path) -> None:
    file = forem_channel(rules_dir, '{url: "msteams://${FOREM_TEAMS}", tags: [referrals]}')
    [problem] = refused(rules_dir)
    assert problem.path == (*FOREM, "notify", 0, "url")
    assert problem.message == "variable ${FOREM_TEAMS} is not set"
    assert problem.line == line_of(file, "FOREM_TEAMS")


def test_a_misspelt_reference_is_refused(rules_dir: Path) -> None:
    forem_channel(rules_dir, '"mailtos://crealux:${smtp_password}@smtp.example.org"')
    [problem] = refused(rules_dir, {**ENV, "SMTP_PASSWORD": "x"})
    assert problem.path == (*FOREM, "notify", 0)
    assert "'${smtp_password}' is not a reference" in problem.message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mailtos://crealux:Pa55word!@smtp.example.org:587", "a password is written out"),
        (TEAMS_WEBHOOK, "the webhook's secret path is written out"),
        (
            "msteams://a1b2c3d4e5f60718293a4b5c6d7e8f90/IncomingWebhook/9a8b7c6d5e4f3a2b1c0d",
            "a token is written out in the address of this msteams:// channel",
        ),
        ("ntfys://ntfy.example.org/crealux?token=tk_live42abc", "'token' writes a secret out"),
    ],
    ids=["mail-password", "teams-webhook", "msteams", "ntfy-token"],
)
def test_a_secret_written_in_the_rules_is_refused_and_not_repeated(
    rules_dir: Path, url: str, reason: str
) -> None:
    file = forem_channel(rules_dir, f'{{url: "{url}", tags: [referrals]}}')
    problems = refused(rules_dir)
    [problem] = problems
    assert problem.path == (*FOREM, "notify", 0, "url")
    assert problem.line == line_of(file, url[:30])
    assert reason in problem.message
    assert "${NAME}" in problem.message and "${file:/path}" in problem.message
    # The error shows the channel masked: none of its secrets.
    for secret in ("Pa55word", "8f3b5c1e", "a1b2c3d4e5f6", "tk_live42abc"):
        assert secret not in str(RulesError(problems))


def test_the_same_secrets_as_references_are_accepted() -> None:
    for url in (
        "mailtos://crealux:${SMTP_PASSWORD}@smtp.example.org:587",
        "https://contoso.webhook.office.com/webhookb2/${TEAMS_WEBHOOK_PATH}",
        "msteams://${FOREM_TEAMS}",
        "${FOREM_TEAMS_URL}",
        "ntfys://ntfy.example.org/crealux?token=${NTFY_TOKEN}",
        "twilio://${TWILIO_SID}:${TWILIO_TOKEN}@+32470000000/+32470111111",
        "mailto://127.0.0.1:${CREALUX_SMTP_PORT:-8025}?from=a@example.org&to=b@example.org",
    ):
        assert literal_secret(url) is None, url


def test_an_offer_key_must_be_kebab_or_snake_case(rules_dir: Path) -> None:
    file = organisations_file(rules_dir)
    edit(file, "      job-club:", "      Job Club:")
    edit(file, "      social-accompaniment:", "      social--accompaniment:")
    problems = refused(rules_dir)
    assert [(p.path, p.line) for p in problems] == [
        (("organisations", "cpas-durbuy", "offers", "social--accompaniment"), line_of(file, "--")),
        ((*FOREM, "offers", "Job Club"), line_of(file, "Job Club")),
    ]
    assert "offer key 'Job Club' is not lower-case kebab or snake case" in problems[1].message


def test_a_tag_must_be_kebab_or_snake_case(rules_dir: Path) -> None:
    file = forem_channel(rules_dir, '{url: "json://127.0.0.1:9000/forem", tags: [ok, Job Club]}')
    [problem] = refused(rules_dir)
    assert problem.path == (*FOREM, "notify", 0, "tags", 1)
    assert problem.line == line_of(file, "Job Club")
    assert "tag 'Job Club' is not lower-case kebab or snake case" in problem.message


def test_a_training_module_says_its_hours(rules_dir: Path) -> None:
    file = organisations_file(rules_dir)
    edit(file, "        hours: 30\n", "")
    [problem] = refused(rules_dir)
    assert problem.path == (
        "organisations",
        "promotion-sociale-marche",
        "offers",
        "self-confidence",
    )
    assert problem.line == line_of(file, "self-confidence:")
    assert "add hours" in problem.message


def test_a_channel_given_twice_is_refused_masked(rules_dir: Path) -> None:
    file = forem_channel(
        rules_dir,
        '"mailtos://crealux:${SMTP_PASSWORD}@smtp.example.org?to=forem@example.org"',
        '{url: "mailtos://crealux:${SMTP_PASSWORD}@smtp.example.org?to=forem@example.org",'
        " tags: [referrals]}",
    )
    problems = refused(rules_dir, {**ENV, "SMTP_PASSWORD": "hunter2-secret"})
    [problem] = problems
    assert problem.path == (*FOREM, "notify", 1)
    assert problem.line == line_of(file, 'example.org", tags: [referrals]}')
    assert "the same channel as notify[0] (mailtos://***@smtp.example.org?to=***)" in (
        problem.message
    )
    assert "hunter2" not in str(RulesError(problems))


def test_an_unknown_kind_is_refused(rules_dir: Path) -> None:
    file = organisations_file(rules_dir)
    edit(file, "kind: public_employment", "kind: employment_office")
    [problem] = refused(rules_dir)
    assert problem.path == (*FOREM, "kind")
    assert problem.line == line_of(file, "employment_office")
    assert "'public_employment'" in problem.message and "'social_welfare'" in problem.message


def test_every_organisation_s_problems_are_reported_at_once(rules_dir: Path) -> None:
    file = organisations_file(rules_dir)
    edit(file, "kind: public_employment", "kind: employment_office")
    edit(file, "        hours: 30\n", "")
    edit(file, "      test-activity:", "      Test:")
    paths = {problem.path for problem in refused(rules_dir)}
    assert paths == {
        (*FOREM, "kind"),
        ("organisations", "promotion-sociale-marche", "offers", "self-confidence"),
        ("organisations", "challenge", "offers", "Test"),
    }


def test_every_unresolved_reference_of_an_organisation_is_reported(rules_dir: Path) -> None:
    forem_channel(
        rules_dir,
        '"mailtos://crealux:${file:/nonexistent/smtp}@smtp.example.org"',
        '{url: "msteams://${FOREM_TEAMS}", tags: [referrals]}',
    )
    assert [(p.path, p.message) for p in refused(rules_dir)] == [
        ((*FOREM, "notify", 0), "secret file /nonexistent/smtp not found"),
        ((*FOREM, "notify", 1, "url"), "variable ${FOREM_TEAMS} is not set"),
    ]
