"""Notification routes (rules/notifications.yaml): which event goes to whom, with which
template. A stub until the routing work lands: no file, no routes (the built-in messages)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from crealux_core.rules.specs import Frozen, OrganisationSpec


class NotificationsSpec(Frozen):
    """The routes of rules/notifications.yaml."""


def load_notifications(
    file: Path, *, organisations: Mapping[str, OrganisationSpec]
) -> NotificationsSpec:
    """Load and check rules/notifications.yaml (file, line and path in every error)."""
    del file, organisations
    return NotificationsSpec()
