"""The status of the processes `crealux up` supervises, as it keeps it in <home>/processes.json.

`crealux up` writes the file each time a process starts, stops, restarts or fails; the dashboard
reads it. The file is replaced atomically, so a reader sees the old status or the new one, never
half of one. It is only a snapshot: if `crealux up` itself was killed, the file is stale (its
`supervisor_pid` tells which process wrote it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

STATUS_FILE_NAME = "processes.json"


class ProcessState(StrEnum):
    STARTING = "starting"  # first start, waiting for its health check
    RUNNING = "running"
    RESTARTING = "restarting"  # died; waiting for its backoff, or restarted and not healthy yet
    FAILED = "failed"  # kept failing: `crealux up` gave up and stopped everything
    STOPPED = "stopped"  # stopped by `crealux up` on Ctrl-C or SIGTERM


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int | None  # None while no process runs (waiting to restart, failed, stopped)
    state: ProcessState
    restarts: int
    last_exit_code: int | None
    last_restart_at: datetime | None
    started_at: datetime | None  # when the current (or last) process was started


def status_path(*, home: Path) -> Path:
    return home / STATUS_FILE_NAME


def write_process_status(
    *, home: Path, processes: Sequence[ProcessStatus], now: datetime, supervisor_pid: int
) -> None:
    """Replace <home>/processes.json with this status (write a temporary file, then rename)."""
    path = status_path(home=home)
    document = {
        "updated_at": now.isoformat(),
        "supervisor_pid": supervisor_pid,
        "processes": [_to_json(process) for process in processes],
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
    os.replace(temporary, path)


def read_process_status(*, home: Path) -> list[ProcessStatus]:
    """Return the processes listed in <home>/processes.json; [] if the file is missing or
    unreadable. An entry that cannot be read is left out."""
    try:
        document = json.loads(status_path(home=home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(document, dict) or not isinstance(document.get("processes"), list):
        return []
    statuses = []
    for entry in document["processes"]:
        status = _from_json(entry)
        if status is not None:
            statuses.append(status)
    return statuses


def _to_json(process: ProcessStatus) -> dict[str, Any]:
    return {
        "name": process.name,
        "pid": process.pid,
        "state": process.state.value,
        "restarts": process.restarts,
        "last_exit_code": process.last_exit_code,
        "last_restart_at": _iso(process.last_restart_at),
        "started_at": _iso(process.started_at),
    }


def _from_json(entry: object) -> ProcessStatus | None:
    if not isinstance(entry, dict):
        return None
    try:
        name = entry["name"]
        pid = entry.get("pid")
        restarts = entry.get("restarts", 0)
        code = entry.get("last_exit_code")
        if not isinstance(name, str) or not isinstance(restarts, int):
            return None
        if not _optional_int(pid) or not _optional_int(code):
            return None
        return ProcessStatus(
            name=name,
            pid=pid,
            state=ProcessState(entry["state"]),
            restarts=restarts,
            last_exit_code=code,
            last_restart_at=_datetime(entry.get("last_restart_at")),
            started_at=_datetime(entry.get("started_at")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _optional_int(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _datetime(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return moment.astimezone(UTC)
