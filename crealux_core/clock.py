"""The clock, read only at the edges (CLI, dashboard, flows); the domain takes `now`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# The programme's time: a day answered in a form, « today », a date printed for people.
LOCAL_TIME = ZoneInfo("Europe/Brussels")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today(now: datetime) -> date:
    """Return the day it is in Brussels at `now`."""
    return now.astimezone(LOCAL_TIME).date()
