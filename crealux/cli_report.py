"""`crealux report ...`: the funder report, in the terminal or as a file (docs/report.md)."""

from __future__ import annotations

import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from crealux_core.domain.indicators import Report, ReportCharts
    from crealux_core.rules import Rules

report_app = typer.Typer(help="Reports for the funder.", no_args_is_help=True)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


BINARY = (Format.XLSX, Format.PDF)


def parse_day(value: str | None, option: str, *, as_json: bool) -> date | None:
    """The date of `--from`/`--to` (YYYY-MM-DD), or exit 2 naming the option."""
    from crealux.cli import Code, _fail

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", as_json=as_json, code=Code.INVALID)


def parse_by(values: list[str] | None, *, as_json: bool) -> tuple[str, ...]:
    """The breakdowns of `--by a,b` (repeatable; aliases such as `age`), or exit 2."""
    from crealux.cli import Code, _fail
    from crealux_core.services.errors import InvalidInput
    from crealux_core.services.reports import parse_breakdowns

    try:
        return parse_breakdowns(",".join(values or ()))
    except InvalidInput as error:
        _fail(f"--by: {error.field_errors.get('by', error)}", as_json=as_json, code=Code.INVALID)


def period(
    rules: Rules, start: date | None, end: date | None, *, as_json: bool
) -> tuple[date, date]:
    """The report's period: the options', else the programme's (rules/indicators.yaml)."""
    from crealux.cli import Code, _fail

    if rules.indicators is None:
        _fail(
            "no rules/indicators.yaml: no indicator to report", as_json=as_json, code=Code.INVALID
        )
    programme = rules.indicators.programme
    first, last = start or programme.starts_on, end or programme.ends_on
    if last < first:
        said_to = "--to" if end else "the programme's end"
        said_from = "--from" if start else "the programme's start"
        _fail(
            f"{said_to} ({last}) is before {said_from} ({first})",
            as_json=as_json,
            code=Code.INVALID,
        )
    return first, last


def rendered(report: Report, form: Format, charts: ReportCharts | None = None) -> bytes:
    """The report in one format, as the bytes to write (the PDF draws `charts`)."""
    from crealux_core import exports

    if form is Format.TABLE:
        return exports.report_text(report).encode()
    if form is Format.JSON:
        import json

        return (
            json.dumps(exports.report_data(report), ensure_ascii=False, indent=2) + "\n"
        ).encode()
    if form is Format.CSV:
        return exports.report_csv(report)
    if form is Format.XLSX:
        return exports.report_xlsx(report)
    return exports.report_pdf(report, charts)


@report_app.command("indicators")
def report_indicators(
    form: Annotated[
        Format, typer.Option("--format", "-f", help="table (terminal), json, csv, xlsx or pdf")
    ] = Format.TABLE,
    start: Annotated[
        str | None,
        typer.Option("--from", help="first day (YYYY-MM-DD); default: the programme's start"),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="last day, included (YYYY-MM-DD); default: the programme's end"),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="breakdowns besides gender, comma-separated (repeatable): age_band (or age),"
            " organisation, municipality, sector, status, kind, situation, structure_kind",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="write to this file (needed for xlsx and pdf on a terminal)"
        ),
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="CREALUX_USER",
            help="who acts (a username; the coordinator); required, or set CREALUX_USER",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The indicators against their targets, by gender and the breakdowns asked (coordinator only).

    The ESF+ common indicators follow. CSV is semicolon-separated UTF-8 with a BOM, for Excel in
    Belgium. See docs/report.md.
    """
    from crealux.cli import Code, _actor, _fail, _instance, _reported, _require_actor
    from crealux_core.clock import utcnow

    as_json = form is Format.JSON
    first, last = (
        parse_day(start, "--from", as_json=as_json),
        parse_day(end, "--to", as_json=as_json),
    )
    breakdowns = parse_by(by, as_json=as_json)
    if form in BINARY and output is None and sys.stdout.isatty():
        _fail(
            f"--format {form.value} writes a binary file: give --output FILE"
            " (or redirect the output)",
            as_json=as_json,
            code=Code.INVALID,
        )
    username = _require_actor(as_user, as_json=as_json)
    runtime = _instance(as_json=as_json)
    from crealux_core.services.reports import indicator_report

    first, last = period(runtime.rules, first, last, as_json=as_json)
    with runtime.session() as session, _reported(as_json=as_json):
        report = indicator_report(
            session=session,
            rules=runtime.rules,
            user=_actor(session, username),
            start=first,
            end=last,
            by=breakdowns,
            now=utcnow(),
        )
        charts = None
        if form is Format.PDF:
            from crealux_core.clock import local_today
            from crealux_core.services.pipeline import report_charts

            charts = report_charts(
                session=session,
                rules=runtime.rules,
                user=_actor(session, username),
                start=first,
                end=last,
                today=local_today(utcnow()),
            )
    content = rendered(report, form, charts)
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(content)
    except OSError as error:
        _fail(f"--output: cannot write {output}: {error.strerror or error}", as_json=as_json)
    if not as_json:
        typer.echo(f"{form.value} report written to {output} ({len(content):,} bytes)", err=True)
