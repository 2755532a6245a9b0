"""What the benchmarks share: results with the machine's load, percentiles, free ports, a `crealux
up` instance started as a user starts it, and the CPU time of a process tree read from /proc.

Not a benchmark itself: each `benchmarks/<name>.py` imports it (the scripts run as
`.venv/bin/python benchmarks/<name>.py`, so this directory is on sys.path).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
if str(REPO) not in sys.path:  # tests/smtp.py, flows/: importable as from the repository root
    sys.path.insert(0, str(REPO))

T = TypeVar("T")


# -- results ------------------------------------------------------------------------------------


def loadavg() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> dict[str, Any]:
    """Where and when: the host, its cores, and the load average (1, 5, 15 min) right now."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg": loadavg(),
    }


def write_result(name: str, result: Mapping[str, Any]) -> Path:
    """Append the result as one JSON line to benchmarks/results/<name>.json; return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"benchmark": name, **result}, ensure_ascii=False) + "\n")
    return path


def summary(samples: Sequence[float], *, digits: int = 3) -> dict[str, Any]:
    """Return n, p50, p95, max, min and the first sample (nearest-rank percentiles)."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def rank(share: float) -> float:
        index = max(0, min(len(ordered) - 1, int(-(-share * len(ordered) // 1)) - 1))
        return ordered[index]

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), digits),
        "p95": round(rank(0.95), digits),
        "max": round(ordered[-1], digits),
        "min": round(ordered[0], digits),
        "first": round(samples[0], digits),
    }


def wait_until_load_below(limit: float, *, patience: float, say: Callable[[str], None]) -> None:
    """Wait (at most `patience` seconds) for the 1-minute load average to drop below `limit`."""
    if patience <= 0:
        return
    deadline = time.monotonic() + patience
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        say(f"  load {loadavg()} >= {limit}: waiting for a quieter machine...")
        time.sleep(min(30.0, max(1.0, deadline - time.monotonic())))
    say(f"  load {loadavg()}")


# -- small helpers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port nothing listens on (it was free a moment ago)."""
    return free_port()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def poll(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Call `probe` until it returns something truthy; raise TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no {what} after {timeout:.0f} s")
        time.sleep(interval)


def clean_environ() -> dict[str, str]:
    """This process's environment without any CREALux or Prefect setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CREALUX_", "PREFECT_"))}


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env wants KEY=VALUE, not {pair!r}")
        env[key] = value
    return env


# -- CPU time of a process tree, from /proc -----------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    own: float  # utime + stime, seconds
    reaped: float  # cutime + cstime: children it has waited for
    name: str


def _read_stat(pid: int) -> ProcInfo | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.find("(") + 1 : text.rfind(")")]
    rest = text[text.rfind(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(value) for value in rest[11:15])
    return ProcInfo(
        pid=pid,
        ppid=int(rest[1]),
        own=(utime + stime) / CLOCK_TICKS,
        reaped=(cutime + cstime) / CLOCK_TICKS,
        name=name,
    )


def process_tree(root: int) -> dict[int, ProcInfo]:
    """Return the live process `root` and all its descendants."""
    infos = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _read_stat(int(entry.name))
            if info is not None:
                infos[info.pid] = info
    tree: dict[int, ProcInfo] = {}
    if root not in infos:
        return tree
    children: dict[int, list[int]] = {}
    for info in infos.values():
        children.setdefault(info.ppid, []).append(info.pid)
    stack = [root]
    while stack:
        pid = stack.pop()
        tree[pid] = infos[pid]
        stack.extend(children.get(pid, []))
    return tree


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def subtree_cpu(tree: Mapping[int, ProcInfo], top: int) -> float:
    """CPU seconds of `top` and its descendants, including the ones they have reaped."""
    total, stack = 0.0, [top]
    children: dict[int, list[int]] = {}
    for info in tree.values():
        children.setdefault(info.ppid, []).append(info.pid)
    while stack:
        pid = stack.pop()
        if pid in tree:
            total += tree[pid].own + tree[pid].reaped
            stack.extend(children.get(pid, []))
    return total


def cpu_by_group(root: int, groups: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named top-level child's subtree, of the root itself
    ("supervisor", with the children it has reaped: processes that were restarted) and of the
    whole tree ("total")."""
    tree = process_tree(root)
    result = {name: subtree_cpu(tree, pid) for name, pid in groups.items()}
    if root in tree:
        result["supervisor"] = tree[root].own + tree[root].reaped
    result["total"] = subtree_cpu(tree, root)
    return result


# -- a `crealux up` instance, run as a user runs it ---------------------------------------------


@dataclass
class UpInstance:
    """`crealux up` in a subprocess, on a fresh data directory and free ports."""

    home: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    prefect_port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    known_pids: dict[str, int] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.home.parent / f"{self.home.name}-up.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            **clean_environ(),
            "CREALUX_HOME": str(self.home),
            "CREALUX_PREFECT_PORT": str(self.prefect_port),
            "CREALUX_DASHBOARD_PORT": str(self.dashboard_port),
            "CREALUX_SMTP_PORT": str(self.smtp_port),
            **self.extra_env,
        }

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start(self) -> None:
        self.home.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crealux.cli", "up"],
            env=self.env,
            cwd=REPO,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches only the benchmark
        )

    def output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise RuntimeError(f"crealux up exited ({code}):\n{self.output()[-3000:]}")

    def ready_line(self) -> bool:
        """True once `crealux up` printed its "Ctrl-C" line (everything started)."""
        self.check_alive()
        return "Ctrl-C" in self.output()

    def children(self) -> dict[str, int]:
        """The supervised processes by name, from <home>/processes.json (remembered for stop)."""
        try:
            document = json.loads((self.home / "processes.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return dict(self.known_pids)
        pids = {p["name"]: p["pid"] for p in document.get("processes", []) if p.get("pid")}
        self.known_pids.update(pids)
        return pids

    def settings(self) -> Any:
        from crealux_core.settings import Settings

        return Settings(
            home=self.home,
            database_url=f"sqlite:///{self.home.resolve() / 'crealux.db'}",
            prefect_port=self.prefect_port,
            dashboard_port=self.dashboard_port,
            smtp_port=self.smtp_port,
        )

    def stop(self, timeout: float = 60) -> int | None:
        """Ctrl-C, as a user stops it; if it does not stop, kill it and what it started."""
        self.children()
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in self.known_pids.values():  # each child leads its own process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        return self.process.returncode


@dataclass(frozen=True)
class Waiting:
    active: int  # active pathways
    open_step: int  # of which have an open (or scheduled) step
    suspended: int  # of which are suspended in Prefect on their current wait's key

    @property
    def all_waiting(self) -> bool:
        return self.active > 0 and self.suspended == self.active


def pathways_waiting(runtime: Any) -> Waiting:
    """Count the active pathways, those with a current step, and those whose flow run is
    suspended on the key of their current wait (one Prefect request for all)."""
    from sqlmodel import col, select

    from crealux_core.models import PathwayRun, PathwayStatus, StepRun
    from crealux_core.models.pathway import CURRENT_STEP_STATUSES
    from crealux_core.services.ports import OrchestrationError
    from crealux_core.services.progress import current_wait

    with runtime.session() as session:
        runs = session.exec(select(PathwayRun).where(PathwayRun.status == PathwayStatus.ACTIVE))
        runs_list = list(runs.all())
        with_step = set(
            session.exec(
                select(StepRun.pathway_run_id).where(
                    col(StepRun.status).in_(list(CURRENT_STEP_STATUSES))
                )
            ).all()
        )
        keys = {}
        for run in runs_list:
            wait = current_wait(session=session, pathway_run_id=run.id or 0)
            if run.flow_run_id and wait is not None:
                keys[run.flow_run_id] = wait.key
    try:
        states = runtime.orchestrator.describe(list(keys)) if keys else {}
    except OrchestrationError:
        states = {}
    suspended = sum(
        1
        for flow_run_id, key in keys.items()
        if (state := states.get(flow_run_id)) is not None
        and state.name == "Suspended"
        and state.pause_key == key
    )
    return Waiting(
        active=len(runs_list),
        open_step=sum(1 for run in runs_list if run.id in with_step),
        suspended=suspended,
    )


@contextlib.contextmanager
def instance_runtime(instance: UpInstance) -> Iterator[Any]:
    """A Runtime over the instance's database and Prefect server (read-only use)."""
    from crealux_core.runtime import Runtime

    runtime = Runtime(instance.settings())
    try:
        yield runtime
    finally:
        if "engine" in runtime.__dict__:
            runtime.engine.dispose()
