"""`crealux import FILE`: past records from a spreadsheet (docs/import.md), and
`crealux import-template FILE`: the empty template to fill.

The helpers of crealux.cli are imported inside the commands: crealux.cli imports this module
at its end, and `python -m crealux.cli` runs it as __main__.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from crealux_core.services.imports import ImportResult, Progress

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="CREALUX_USER",
        help="who acts (the coordinator's username); required, or set CREALUX_USER",
        show_default=False,
    ),
]

TEMPLATE_NAME = "modele-import-crealux.xlsx"


def register(app: typer.Typer) -> None:
    """Add the `import` and `import-template` commands to the `crealux` application."""
    app.command("import")(import_file)
    app.command("import-template")(import_template)


@contextmanager
def _progress_bar(show: bool) -> Iterator[Progress | None]:
    """A progress bar on the terminal (standard error), fed `(done, total)`; none otherwise."""
    if not show:
        yield None
        return
    bars: list[Any] = []  # the bar, made at the first call (when the total is known)

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(typer.progressbar(length=total, label="Import", file=sys.stderr))
            bars[0].__enter__()
        bars[0].update(done - bars[0].pos)

    try:
        yield progress
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)


def _counts_json(result: ImportResult) -> dict[str, dict[str, int]]:
    return {
        kind.value: {"created": c.created, "present": c.present, "rejected": c.rejected}
        for kind, c in result.counts.items()
    }


def _problems_json(result: ImportResult) -> list[dict[str, Any]]:
    return [
        {"sheet": p.sheet, "line": p.line, "column": p.column, "message": p.message}
        for p in result.problems
    ]


def _print_counts(result: ImportResult) -> None:
    from crealux_core.services.import_layout import SHEETS

    for kind, counts in result.counts.items():
        typer.echo(
            f"  {SHEETS[kind].name:<16} created {counts.created:>6}"
            f"   already present {counts.present:>6}   rejected {counts.rejected:>6}"
        )


def import_file(
    file: Annotated[Path, typer.Argument(help="an XLSX workbook or a CSV file (docs/import.md)")],
    keep_valid: Annotated[
        bool,
        typer.Option(
            "--keep-valid",
            help="write the valid rows even if others are wrong; the rejected rows go to a file"
            " to fix (--rejected)",
        ),
    ] = False,
    rejected: Annotated[
        Path | None,
        typer.Option(
            "--rejected",
            help="where --keep-valid writes the rejected rows, with an « Erreurs » column"
            " (default: FILE-a-corriger.xlsx or .csv beside FILE)",
        ),
    ] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Import participants with their history, and outreach, from a spreadsheet (coordinator).

    Every row is checked first and every error said by sheet, row and column; nothing is written
    unless the whole file is valid (exit 2), or with --keep-valid the valid rows are written and
    the rejected ones saved to a file to fix. Importing the same file again changes nothing.
    Participants still mid-way get a pathway waiting on their current step.
    """
    from crealux.cli import Code, _actor, _echo_json, _fail, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow
    from crealux_core.services.imports import UnreadableFile, WrittenMeanwhile, import_records

    username = _require_actor(as_user, as_json=as_json)
    try:
        data = file.read_bytes()
    except OSError as error:
        _fail(f"cannot read {file}: {error.strerror or error}", as_json=as_json, code=Code.INVALID)
    runtime = _instance(as_json=as_json)
    show_bar = not as_json and sys.stderr.isatty()
    with (
        runtime.session() as session,
        _reported(as_json=as_json),
        _progress_bar(show_bar) as progress,
    ):
        try:
            result = import_records(
                session=session,
                rules=runtime.rules,
                user=_actor(session, username),
                data=data,
                filename=file.name,
                now=utcnow(),
                dashboard_url=runtime.settings.dashboard_url,
                keep_valid=keep_valid,
                orchestrator=runtime.orchestrator,
                progress=progress,
            )
        except UnreadableFile as error:
            _fail(str(error), as_json=as_json, code=Code.INVALID)
        except WrittenMeanwhile as error:
            _fail(str(error), as_json=as_json, code=Code.ERROR)
    saved_to: Path | None = None
    if result.rejected_file is not None:
        saved_to = rejected or file.with_name(result.rejected_filename or "rejets.xlsx")
        saved_to.write_bytes(result.rejected_file)
    if as_json:
        _echo_json(
            {
                "file": result.filename,
                "written": result.written,
                "counts": _counts_json(result),
                "problems": _problems_json(result),
                "notices": result.notices,
                "pathway_run_ids": result.pathway_run_ids,
                "flows_started": result.flows_started,
                "rejected_file": str(saved_to) if saved_to else None,
            }
        )
        if not result.written:
            raise typer.Exit(Code.INVALID)
        return
    for notice in result.notices:
        typer.echo(notice, err=True)
    for problem in result.problems:
        typer.echo(str(problem), err=True)
    if not result.written:
        typer.echo(
            f"{result.filename}: nothing was written ({len(result.problems)} error(s)); fix the"
            " file and import it again, or pass --keep-valid to write the valid rows",
            err=True,
        )
        raise typer.Exit(Code.INVALID)
    typer.echo(f"{result.filename}: imported")
    _print_counts(result)
    if result.pathway_run_ids:
        typer.echo(
            f"  {len(result.pathway_run_ids)} pathway(s) started for participants still mid-way;"
            f" {result.flows_started} flow run(s) started"
            + (
                ""
                if result.flows_started == len(result.pathway_run_ids)
                else " (the others start when Prefect is reachable)"
            )
        )
    if saved_to is not None:
        typer.echo(f"  rejected rows, with their errors: {saved_to}")


def import_template(
    file: Annotated[Path, typer.Argument(help="where to write the template (XLSX)")] = Path(
        TEMPLATE_NAME
    ),
) -> None:
    """Write the empty import template: one sheet per kind of record, headers explained."""
    from crealux_core.services.import_layout import template_bytes

    file.write_bytes(template_bytes())
    typer.echo(f"template written to {file} (docs/import.md explains every column)")
