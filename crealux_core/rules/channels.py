"""Tell a channel URL of rules/organisations.yaml that writes a secret out.

Secrets never live in rules/ or the repository: a password, a token or a webhook's secret path
is written as a reference, `${NAME}` (an environment variable) or `${file:/path}` (a file's
content), which the loader replaces after this check. `literal_secret` reads the URL as written
in the file, before that replacement, and says what is written out where a reference belongs:

- a password in the user information: `mailtos://user:password@smtp.example.org`;
- a secret in the query: `?pass=`, `?password=`, `?token=`, `?apikey=`, `?secret=`...;
- a token in the address of a service whose address is its secret (`msteams://`, `slack://`,
  `discord://`, `tgram://`... every scheme whose host is not a real host), or in the path of a
  webhook URL (`https://....webhook.office.com/webhookb2/...`, `hooks.slack.com`, Discord's
  and Power Automate's): a piece of 16 or more letters and digits, with both.

A phone number, a chat id, a team or channel name, a topic name stay as they are.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from crealux_core.domain.channels import HOST_SCHEMES

_REFERENCE = re.compile(r"\$\{[^}]*\}")
_MARK = "\x00"  # stands for a reference while the URL is taken apart
_SCHEME = re.compile(r"^\s*(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$", re.DOTALL)
_TOKEN = re.compile(r"^[A-Za-z0-9_\-+=~]{16,}$")

SECRET_PARAMETERS = frozenset(
    {
        "pass",
        "password",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "key",
        "access_token",
        "accesstoken",
        "auth",
        "sig",
        "signature",
        "webhook",
    }
)
WEBHOOK_HOSTS = (
    "webhook.office.com",
    "outlook.office.com",
    "outlook.office365.com",
    "hooks.slack.com",
    "discord.com",
    "discordapp.com",
    "logic.azure.com",
    "api.powerplatform.com",
)


def _written(text: str) -> str:
    """Return what of `text` is written out, references left aside."""
    return text.replace(_MARK, "")


def _looks_like_token(piece: str) -> bool:
    return (
        bool(_TOKEN.match(piece))
        and any(c.isdigit() for c in piece)
        and any(c.isalpha() for c in piece)
    )


def _token_in(parts: str) -> bool:
    """Tell whether a written-out piece of `parts` (split at / @ :) looks like a token."""
    return any(_looks_like_token(_written(piece)) for piece in re.split(r"[/@:]", parts))


def literal_secret(url: str) -> str | None:
    """Return what secret `url` (as written in the rules) writes out, or None when it has none."""
    marked = _REFERENCE.sub(_MARK, url)
    found = _SCHEME.match(marked)
    if found is None:  # the whole URL is a reference, or not a URL: nothing written out
        return None
    scheme = found["scheme"].lower()
    rest = found["rest"].split("#", 1)[0]
    address, _, query = rest.partition("?")
    authority, _, path = address.partition("/")
    userinfo, at, host_port = authority.rpartition("@")
    host = host_port.rsplit(":", 1)[0].lower()
    if at and _written(userinfo.partition(":")[2]):
        return "a password is written out in the address (user:password@)"
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.lower() in SECRET_PARAMETERS and _written(value):
            return f"the query parameter {name!r} writes a secret out"
    if at and _looks_like_token(_written(userinfo)):
        return "a token is written out in the address (before the @)"
    if scheme not in HOST_SCHEMES and _token_in(address):
        return f"a token is written out in the address of this {scheme}:// channel"
    if host.endswith(WEBHOOK_HOSTS) and _token_in(path):
        return "the webhook's secret path is written out"
    return None
