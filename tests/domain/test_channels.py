"""A channel shown anywhere keeps its scheme and host and loses its secrets."""

from __future__ import annotations

import pytest

from crealux_core.domain.channels import (
    channel_id,
    is_permanent,
    mask_url,
    mask_urls_in,
    scheme_of,
)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "mailtos://crealux:s3cret@smtp.example.org:587?from=a@b.be&to=c@d.be",
            "mailtos://***@smtp.example.org:587?from=***&to=***",
        ),
        ("mailto://127.0.0.1:2525?to=ops@example.org", "mailto://127.0.0.1:2525?to=***"),
        ("json://hooks.example.org/hook/SECRET", "json://hooks.example.org/***"),
        ("jsons://user:pw@hooks.example.org:8443/", "jsons://***@hooks.example.org:8443"),
        ("msteams://TokenA/TokenB/TokenC/", "msteams://***"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "slack://***#***"),
        ("tgram://123456789:abcdefg_hijklmnop/12315544", "tgram://***"),
        ("ntfys://ntfy.example.org/private-topic", "ntfys://ntfy.example.org/***"),
        ("json://host:notaport/x", "json://***"),
        ("no scheme at all", "***"),
    ],
)
def test_mask_url_keeps_scheme_and_host_only(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "url",
    [
        "mailtos://crealux:s3cret@smtp.example.org:587?from=a@b.be&to=c@d.be&pass=hunter2",
        "json://hooks.example.org/hook/SECRET?token=hunter2",
        "msteams://s3cret/hunter2/TokenC/",
    ],
)
def test_no_secret_survives(url: str) -> None:
    masked = mask_url(url)
    for secret in ("s3cret", "hunter2", "SECRET", "a@b.be", "c@d.be"):
        assert secret not in masked


def test_urls_inside_a_message_are_masked() -> None:
    text = "Unsupported URL mailtos://u:s3cret@smtp.example.org?to=x@y.be; then msteams://a/b/c"
    assert mask_urls_in(text) == (
        "Unsupported URL mailtos://***@smtp.example.org?to=***; then msteams://***"
    )


def test_channel_id_is_stable_and_hides_the_url() -> None:
    url = "json://hooks.example.org/hook/SECRET"
    assert channel_id(url) == channel_id(url + " ")
    assert channel_id(url) != channel_id(url + "2")
    assert len(channel_id(url)) == 16 and "SECRET" not in channel_id(url)
    assert scheme_of("MailTos://x") == "mailtos" and scheme_of("x") == ""


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        ("Socket Exception: [Errno 111] Connection refused", False),
        ("Socket Exception: {'x@y.be': (550, b'5.1.1 unknown user')}", True),
        ("Socket Exception: (535, b'5.7.8 Authentication credentials invalid')", True),
        ("Socket Exception: (421, b'4.3.2 Service not available')", False),
        ("Failed to send JSON POST notification: Internal Server Error - error=500.", False),
        ("Failed to send JSON POST notification: Not Found - error=404.", True),
        ("Failed to send JSON POST notification: error=429.", False),
        ("Socket Exception: timed out", False),
    ],
)
def test_what_makes_a_failure_permanent(error: str, permanent: bool) -> None:
    assert is_permanent(error) is permanent
