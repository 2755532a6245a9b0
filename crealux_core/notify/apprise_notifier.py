from __future__ import annotations

import apprise

from crealux_core.rules.specs import OrganisationSpec
from crealux_core.services.ports import SendResult

MAIL_SCHEMES = ("mailto://", "mailtos://")


class AppriseNotifier:
    """Send to an organisation's Apprise URLs; full success only counts as sent.

    E-mail addresses (mailto://, mailtos://) get the HTML: Apprise 2.0 sends it as a
    multipart/alternative message whose text/plain part it derives from the HTML itself (it
    takes no plain text of ours beside an HTML body). Other channels get the plain text.
    """

    def send(
        self, *, organisation: OrganisationSpec, title: str, body: str, html: str | None = None
    ) -> SendResult:
        if not organisation.urls:
            return SendResult(ok=True, detail="no address configured")
        mail = [url for url in organisation.urls if url.startswith(MAIL_SCHEMES)]
        other = [url for url in organisation.urls if not url.startswith(MAIL_SCHEMES)]
        batches = [
            (mail, html or body, apprise.NotifyFormat.HTML if html else apprise.NotifyFormat.TEXT),
            (other, body, apprise.NotifyFormat.TEXT),
        ]
        for urls, content, body_format in batches:
            if not urls:
                continue
            sender = apprise.Apprise()
            for url in urls:
                if not sender.add(url):
                    return SendResult(ok=False, detail=f"{organisation.key}: Apprise refuses a URL")
            result = sender.notify(title=title, body=content, body_format=body_format)
            if not result:
                return SendResult(
                    ok=False, detail=f"{organisation.key}: delivery failed ({result!r})"
                )
        return SendResult(ok=True)
