"""The funder report in files: CSV, XLSX and PDF (and JSON values and terminal text).

Each exporter takes a `crealux_core.domain.indicators.Report` and touches no database, so the
dashboard and the CLI offer the same files.
"""

from crealux_core.exports.csv_report import report_csv
from crealux_core.exports.json_report import report_data
from crealux_core.exports.pdf_report import report_html, report_pdf
from crealux_core.exports.text_report import report_text
from crealux_core.exports.xlsx_report import report_xlsx

__all__ = ["report_csv", "report_data", "report_html", "report_pdf", "report_text", "report_xlsx"]
