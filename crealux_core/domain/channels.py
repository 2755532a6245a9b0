"""Notification channels (Apprise URLs) shown without their secrets, and named without them.

An Apprise URL carries its secrets in several places: a password or a token in the user
information (`mailto://user:password@host`), tokens in the path (`json://host/hook/SECRET`,
`ntfys://host/topic`), in the query (`?pass=...`, `?to=person@example.org`), and, for many
services, in the host itself (`msteams://TokenA/TokenB/TokenC`, `tgram://bot-token/chat`).
`mask_url` keeps the scheme and, where the host is a real host, the host and port; everything
else becomes `***` (query names are kept, their values masked). `channel_id` names a channel by
a hash of its URL, so the database and the logs never hold the URL itself.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

MASK = "***"

# Schemes whose host part is a real host name (a server); for any other scheme the "host" of an
# Apprise URL is a token (msteams://, slack://, discord://, tgram://, pover://...) and is masked.
HOST_SCHEMES = frozenset(
    {
        "mailto",
        "mailtos",
        "json",
        "jsons",
        "xml",
        "xmls",
        "form",
        "forms",
        "http",
        "https",
        "ntfy",
        "ntfys",
        "gotify",
        "gotifys",
        "mmost",
        "mmosts",
        "matrix",
        "matrixs",
        "rocket",
        "rockets",
        "mqtt",
        "mqtts",
        "ncloud",
        "nclouds",
        "signal",
        "signals",
        "apprise",
        "apprises",
    }
)

# An SMTP reply in an exception's text: (550, b'5.1.1 unknown user') or 550 5.1.1 ...
_SMTP_REPLY = re.compile(r"\((\d{3}), b['\"]")
# An HTTP status in Apprise's warning: "Failed to send JSON POST notification: ... error=500."
_HTTP_STATUS = re.compile(r"error=(\d{3})\b")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def scheme_of(url: str) -> str:
    """Return the service kind of an Apprise URL: its scheme, lower case ('' when none)."""
    head, separator, _ = url.partition("://")
    return head.strip().lower() if separator else ""


def mask_url(url: str) -> str:
    """Return `url` with its secrets masked: the scheme and (for a real host) the host and port
    stay, the user information, path, query values and fragment become `***`.

    >>> mask_url("mailtos://crealux:s3cret@smtp.example.org:587?from=a@b.be&to=c@d.be")
    'mailtos://***@smtp.example.org:587?from=***&to=***'
    >>> mask_url("msteams://TokenA/TokenB/TokenC/")
    'msteams://***'
    """
    scheme = scheme_of(url)
    if not scheme:
        return MASK
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname or ""
        port = parts.port
    except ValueError:  # a port that is not a number, a bracket left open: show nothing of it
        return f"{scheme}://{MASK}"
    if scheme in HOST_SCHEMES and hostname:
        host = hostname + (f":{port}" if port is not None else "")
        masked = f"{scheme}://" + (f"{MASK}@" if "@" in parts.netloc else "") + host
        if parts.path.strip("/"):
            masked += f"/{MASK}"
    else:
        masked = f"{scheme}://{MASK}"
    if parts.query:
        names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
        masked += "?" + ("&".join(f"{name}={MASK}" for name in names) if names else MASK)
    if parts.fragment:
        masked += f"#{MASK}"
    return masked


def mask_urls_in(text: str) -> str:
    """Return `text` (an error message, a log line) with every URL in it masked."""

    def masked(found: re.Match[str]) -> str:
        url = found.group(0)
        url_only = url.rstrip(".,;:)]")  # the punctuation after a URL is the sentence's
        return mask_url(url_only) + url[len(url_only) :]

    return _URL.sub(masked, text)


def channel_id(url: str) -> str:
    """Return a stable name for a channel: the first 16 hex digits of its URL's SHA-256.

    A changed URL (a new token, a corrected address) is a new channel: a channel disabled for
    a bad URL does not stay disabled once the URL is fixed."""
    return hashlib.sha256(url.strip().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChannelResult:
    """What one channel answered: taken, or not and why (`error`, URLs masked); a
    `permanent` failure is one that trying again will not mend."""

    ok: bool
    permanent: bool = False
    error: str = ""


def is_permanent(error: str) -> bool:
    """Tell whether a failure, by its text, will not pass by trying again later.

    - An SMTP reply 5xx (550 unknown recipient, 553 sender refused, 535 authentication
      refused) is permanent; 4xx (421 service not available, 450 mailbox busy) is not.
    - An HTTP status 4xx (400, 401, 403, 404: a webhook gone or refused) is permanent, except
      408 and 429; 5xx is not.
    - Anything else (connection refused, a time-out, a name that does not resolve, the server
      hanging up) is temporary: a server down comes back. Attempts are bounded anyway.
    """
    for found in _SMTP_REPLY.finditer(error):
        if found.group(1).startswith("5"):
            return True
    for found in _HTTP_STATUS.finditer(error):
        code = int(found.group(1))
        if 400 <= code < 500 and code not in (408, 429):
            return True
    return False
