"""crealux referral ...: referrals to partners' offers, accepted or declined."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `crealux` application (none yet)."""
    del app
