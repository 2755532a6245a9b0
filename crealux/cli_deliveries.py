"""crealux deliveries ...: the delivery log of notifications and the channels disabled."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `crealux` application (none yet)."""
    del app
