"""The report as an XLSX workbook: « Indicateurs », « FSE+ » and one sheet per breakdown.

Every sheet has the report's heading on top and its header row frozen below it. Text that a
spreadsheet would read as a formula (=, +, -, @, tab, carriage return first) gets a leading
quote: organisation and municipality names come from users.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from crealux_core.domain.indicators import Report
from crealux_core.exports.tables import (
    Breakdown,
    breakdowns,
    detail_text,
    esf_gender_labels,
    esf_genders,
    heading,
    line_name,
    neutralise,
    target_basis,
)

COUNT_FORMAT = "#,##0"
PERCENT_FORMAT = "0.0%"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
WRAP = Alignment(wrap_text=True, vertical="top")
MAX_WIDTH = 60


def text(value: str) -> str:
    """A text cell's value: no character XLSX cannot hold, and never a formula."""
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))


def _sheet(workbook: Workbook, title: str, report: Report, header: Sequence[str]) -> Any:
    """A sheet with the report's heading, then the header row, frozen below it."""
    sheet = workbook.create_sheet(title)
    for row, line in enumerate(heading(report), start=1):
        cell = sheet.cell(row=row, column=1, value=text(line))
        cell.font = TITLE if row == 1 else BOLD if row == 2 else Font()
    header_row = len(heading(report)) + 2
    for column, name in enumerate(header, start=1):
        cell = sheet.cell(row=header_row, column=column, value=text(name))
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    sheet.freeze_panes = f"A{header_row + 1}"  # a string: a cell would add an empty row
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToHeight = 0
    sheet.print_title_rows = f"{header_row}:{header_row}"
    return sheet


def _append(sheet: Any, values: Sequence[str | int | float | None]) -> int:
    """Append a row (text neutralised, counts as integers); return its row number."""
    sheet.append([text(v) if isinstance(v, str) else v for v in values])
    row: int = sheet.max_row
    for cell in sheet[row]:
        if isinstance(cell.value, int):
            cell.number_format = COUNT_FORMAT
    sheet.cell(row=row, column=1).alignment = WRAP
    return row


def _widths(sheet: Any, report: Report, first: int = 28) -> None:
    """Fit each column to its longest cell below the heading (the first one wraps)."""
    start = len(heading(report)) + 2
    for column in range(1, sheet.max_column + 1):
        longest = max(
            (
                len(str(sheet.cell(row=r, column=column).value or ""))
                for r in range(start, sheet.max_row + 1)
            ),
            default=8,
        )
        width = min(max(longest + 2, 10), MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(column)].width = (
            max(width, first) if column == 1 else width
        )


def _indicators(workbook: Workbook, report: Report) -> None:
    header = (
        "Indicateur",
        "Objectif",
        "Atteint",
        "% de l'objectif",
        "Détail",
        "Base de l'objectif",
    )
    sheet = _sheet(workbook, "Indicateurs", report, header)
    for line in report.lines:
        percent = None if line.percent is None else line.percent / 100
        row = _append(
            sheet,
            (
                line.label_fr,
                line.target.value,
                line.achieved,
                percent,
                detail_text(report, line),
                target_basis(line),
            ),
        )
        sheet.cell(row=row, column=4).number_format = PERCENT_FORMAT
        sheet.cell(row=row, column=5).alignment = WRAP
    _widths(sheet, report, first=45)


def _esf(workbook: Workbook, report: Report) -> None:
    header = ("Code", "Indicateur", "Total", *esf_gender_labels())
    sheet = _sheet(workbook, "FSE+", report, header)
    for line in report.esf:
        _append(sheet, (line.code or "", line.label_fr, line.achieved, *esf_genders(line)))
        sheet.cell(row=sheet.max_row, column=2).alignment = WRAP
    _widths(sheet, report, first=10)
    sheet.column_dimensions["B"].width = MAX_WIDTH


def _breakdown(workbook: Workbook, report: Report, table: Breakdown) -> None:
    header = ("Indicateur", *table.labels, "Total")
    sheet = _sheet(workbook, table.title, report, header)
    for row in table.rows:
        _append(sheet, (line_name(row.line), *row.counts, row.total))
        sheet.cell(row=sheet.max_row, column=len(header)).font = BOLD
    _widths(sheet, report, first=45)


def report_xlsx(report: Report) -> bytes:
    """Return the report as an XLSX workbook."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    _indicators(workbook, report)
    _esf(workbook, report)
    for table in breakdowns(report):
        _breakdown(workbook, report, table)
    workbook.properties.title = text(f"Rapport d'indicateurs - {report.title}")
    workbook.properties.creator = "CREALux"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
