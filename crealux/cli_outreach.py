"""`crealux outreach ...`: sensitisation and networking (filled by the outreach work)."""

from __future__ import annotations

import typer

outreach_app = typer.Typer(help="Outreach and networking.", no_args_is_help=True)
