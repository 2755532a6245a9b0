"""The clock, read only at the edges (CLI, dashboard, flows); the domain takes `now`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
