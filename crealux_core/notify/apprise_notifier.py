from __future__ import annotations

import apprise

from crealux_core.rules.specs import OrganisationSpec
from crealux_core.services.ports import SendResult


class AppriseNotifier:
    """Send to an organisation's Apprise URLs; full success only counts as sent."""

    def send(self, *, organisation: OrganisationSpec, title: str, body: str) -> SendResult:
        if not organisation.notify:
            return SendResult(ok=True, detail="no address configured")
        sender = apprise.Apprise()
        for url in organisation.notify:
            if not sender.add(url):
                return SendResult(ok=False, detail=f"{organisation.key}: Apprise refuses a URL")
        result = sender.notify(title=title, body=body)
        if result:
            return SendResult(ok=True)
        return SendResult(ok=False, detail=f"{organisation.key}: delivery failed ({result!r})")
