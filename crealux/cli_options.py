"""The options every `crealux` command shares: `--json` and `--as` (the modules that add
commands import them from here; crealux.cli imports those modules, so not from there)."""

from __future__ import annotations

from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="CREALUX_USER",
        help="who acts (a username); required, or set CREALUX_USER",
        show_default=False,
    ),
]
