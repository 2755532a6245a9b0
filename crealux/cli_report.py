"""`crealux report ...`: the funder report (filled by the reports work)."""

from __future__ import annotations

import typer

report_app = typer.Typer(help="Reports for the funder.", no_args_is_help=True)
