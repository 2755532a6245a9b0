from __future__ import annotations

import logging
import threading

import apprise

from crealux_core.domain.channels import (
    ChannelResult,
    is_permanent,
    mask_url,
    mask_urls_in,
    scheme_of,
)
from crealux_core.rules.specs import OrganisationSpec
from crealux_core.services.ports import SendResult

MAIL_SCHEMES = ("mailto", "mailtos")

log = logging.getLogger("crealux.notify")
_owned = threading.Lock()


class _PassOnMasked(logging.Handler):
    """Pass Apprise's warnings and errors on to `crealux.notify`, their URLs masked."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            log.log(record.levelno, "apprise: %s", mask_urls_in(record.getMessage()))
        except Exception:  # a log line must never break a send
            self.handleError(record)


def _own_apprise_logger() -> None:
    """Let Apprise log at debug level, for the reason of a failure (the socket's or the SMTP
    server's error is only logged at debug level), which each attempt captures for itself;
    keep those records from this process's handlers (a debug line holds the whole payload)
    and pass only warnings and errors on, masked."""
    apprise_logger = logging.getLogger("apprise")
    if (
        apprise_logger.level == logging.DEBUG
        and not apprise_logger.propagate
        and any(isinstance(handler, _PassOnMasked) for handler in apprise_logger.handlers)
    ):
        return
    with _owned:  # checked again each send: a logging set-up (Prefect's) may reset it
        apprise_logger.setLevel(logging.DEBUG)
        apprise_logger.propagate = False
        if not any(isinstance(handler, _PassOnMasked) for handler in apprise_logger.handlers):
            apprise_logger.addHandler(_PassOnMasked(level=logging.WARNING))


def _reason(result: apprise.AppriseResult) -> str:
    """Return why a send failed, from what Apprise logged during it: its warnings and the
    socket's or the server's own words (not the payload, not the response's body)."""
    lines: list[str] = []
    for service in result.results:
        for attempt in service.attempts:
            for entry in attempt:
                if entry.level in ("WARNING", "ERROR", "CRITICAL") or (
                    entry.message.startswith(("Socket Exception", "Notification Exception"))
                ):
                    lines.append(entry.message.strip())
    return mask_urls_in(" | ".join(lines))


class AppriseNotifier:
    """Send to one channel at a time (one Apprise object per URL) and say what it answered.

    E-mail addresses (mailto://, mailtos://) get the HTML: Apprise 2.0 sends it as a
    multipart/alternative message whose text/plain part it derives from the HTML itself (it
    takes no plain text of ours beside an HTML body). Other channels get the plain text.
    """

    def send_channel(
        self, *, url: str, title: str, body: str, html: str | None = None
    ) -> ChannelResult:
        _own_apprise_logger()
        sender = apprise.Apprise()
        if not sender.add(url):
            return ChannelResult(
                ok=False, permanent=True, error=f"Apprise refuse l'adresse {mask_url(url)}"
            )
        if scheme_of(url) in MAIL_SCHEMES and html:
            content, body_format = html, apprise.NotifyFormat.HTML
        else:
            content, body_format = body, apprise.NotifyFormat.TEXT
        result = sender.notify(
            title=title, body=content, body_format=body_format, log_level=logging.DEBUG
        )
        if result:
            return ChannelResult(ok=True)
        reason = _reason(result) or f"échec de l'envoi ({mask_url(url)})"
        return ChannelResult(ok=False, permanent=is_permanent(reason), error=reason[:500])

    def send(
        self, *, organisation: OrganisationSpec, title: str, body: str, html: str | None = None
    ) -> SendResult:
        """Send to every channel of an organisation; sent only when each took it (the services
        use `send_channel`, which says what each channel answered)."""
        if not organisation.urls:
            return SendResult(ok=False, detail=f"{organisation.key}: aucun canal configuré")
        errors = []
        for url in organisation.urls:
            result = self.send_channel(url=url, title=title, body=body, html=html)
            if not result.ok:
                errors.append(result.error)
        return SendResult(ok=not errors, detail=f"{organisation.key}: " + "; ".join(errors))
