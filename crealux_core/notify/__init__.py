"""Notifications through Apprise: one Apprise object per organisation, built from the rules."""

from crealux_core.notify.apprise_notifier import AppriseNotifier

__all__ = ["AppriseNotifier"]
