"""The report as JSON-ready values, for scripts (`crealux report indicators --format json`)."""

from __future__ import annotations

from typing import Any

from crealux_core.domain.indicators import Line, Report
from crealux_core.exports.tables import carries, detail_items, dimension_values, value_label


def _dimensions_of(line: Line) -> list[str]:
    gender = ["gender"] if carries(line, "gender") else []
    return list(dict.fromkeys([*gender, *line.breakdowns]))


def _line(report: Report, line: Line) -> dict[str, Any]:
    percent = line.percent
    return {
        "key": line.key,
        "code": line.code,
        "label_fr": line.label_fr,
        "label_en": line.label_en,
        "counts": line.counts,
        "target": line.target.value,
        "target_basis": line.target.how,
        "achieved": line.achieved,
        "percent": None if percent is None else round(percent, 1),
        "detail": [
            {"value": value, "label": label, "count": count}
            for value, (label, count) in zip(line.detail, detail_items(report, line), strict=True)
        ],
        "breakdowns": {
            dimension: [
                {
                    "value": value,
                    "label": value_label(report, dimension, value),
                    "count": counts.get(value, 0),
                }
                for value in dimension_values(report, dimension, [line])
            ]
            for dimension in _dimensions_of(line)
            for counts in [line.breakdowns.get(dimension, {})]
        },
    }


def report_data(report: Report) -> dict[str, Any]:
    """Return the report as plain values (json.dumps takes them as they are)."""
    return {
        "title": report.title,
        "funder": report.funder,
        "period": {"start": report.period_start.isoformat(), "end": report.period_end.isoformat()},
        "generated_at": report.generated_at.isoformat(),
        "by": list(report.by),
        "indicators": [_line(report, line) for line in report.lines],
        "esf": [_line(report, line) for line in report.esf],
    }
