"""The supervisor of `crealux up` on small real child processes: it restarts one that dies, gives
up on one that keeps failing, waits for health checks, and stops everything."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crealux.launcher import GaveUp, Supervisor, backoff_delay, cli_has_command
from crealux_core.services.processes import (
    ProcessState,
    ProcessStatus,
    read_process_status,
    write_process_status,
)
from tests.conftest import clean_environ

SLEEPER = [sys.executable, "-c", "import time; time.sleep(100)"]
CRASHER = [sys.executable, "-c", "raise SystemExit(3)"]


def leader_with_grandchild(pid_file: Path) -> list[str]:
    """A process that starts a grandchild in its own process group, as a server starts workers."""
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(100)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(100)\n"
    )
    return [sys.executable, "-c", code]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie (PID 1 may not reap orphans here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def poll(supervisor: Supervisor, until: Callable[[], bool], *, timeout: float = 10) -> None:
    """Tick the supervisor until `until()` is true."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; status: {supervisor.statuses()}")
        supervisor.tick()
        time.sleep(0.02)


def status_of(home: Path, name: str) -> ProcessStatus:
    return next(status for status in read_process_status(home=home) if status.name == name)


@pytest.fixture
def make_supervisor(tmp_path: Path) -> Iterator[Callable[..., Supervisor]]:
    made: list[Supervisor] = []

    def make(**options: object) -> Supervisor:
        supervisor = Supervisor(
            log_dir=tmp_path / "logs",
            env=clean_environ(),
            status_home=tmp_path,
            **options,  # type: ignore[arg-type]
        )
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        supervisor.stop_all(timeout=5)


def test_a_child_killed_with_sigkill_is_restarted_and_the_status_file_counts_it(
    make_supervisor: Callable[..., Supervisor], tmp_path: Path
) -> None:
    said: list[str] = []
    supervisor = make_supervisor(backoff_base=0.1, echo=said.append)
    supervisor.start("sleeper", SLEEPER)
    before = status_of(tmp_path, "sleeper")
    assert before.state == ProcessState.RUNNING and before.restarts == 0
    assert before.pid is not None and before.started_at is not None

    os.kill(before.pid, signal.SIGKILL)
    poll(supervisor, lambda: supervisor.child("sleeper").restarts == 1)

    after = status_of(tmp_path, "sleeper")
    assert after.state == ProcessState.RUNNING
    assert after.restarts == 1
    assert after.last_exit_code == -signal.SIGKILL
    assert after.pid is not None and after.pid != before.pid and alive(after.pid)
    assert after.last_restart_at is not None and after.last_restart_at.tzinfo == UTC
    assert said == ["  sleeper arrêté (code -9), redémarrage dans 0.1 s"]
    log = (tmp_path / "logs" / "sleeper.log").read_text()
    assert "crealux up: sleeper arrêté (code -9), redémarrage dans 0.1 s" in log
    assert f"crealux up: sleeper redémarré (pid {after.pid})" in log


def test_a_child_that_always_exits_at_once_makes_the_supervisor_give_up(
    make_supervisor: Callable[..., Supervisor], tmp_path: Path
) -> None:
    said: list[str] = []
    supervisor = make_supervisor(backoff_base=0.05, max_failures=3, echo=said.append)
    supervisor.start("crasher", CRASHER)
    supervisor.start("sleeper", SLEEPER)

    with pytest.raises(GaveUp, match=r"crasher arrêté \(code 3\) : 4 échecs de suite"):
        poll(supervisor, lambda: False, timeout=20)

    crasher = status_of(tmp_path, "crasher")
    assert crasher.state == ProcessState.FAILED
    assert crasher.restarts == 3 and crasher.last_exit_code == 3 and crasher.pid is None
    assert said[:3] == [
        "  crasher arrêté (code 3), redémarrage dans 0.05 s",
        "  crasher arrêté (code 3), redémarrage dans 0.1 s",
        "  crasher arrêté (code 3), redémarrage dans 0.2 s",
    ]
    assert status_of(tmp_path, "sleeper").state == ProcessState.RUNNING  # `up` stops it next
    supervisor.stop_all(timeout=5)
    assert [(s.name, s.state) for s in read_process_status(home=tmp_path)] == [
        ("crasher", ProcessState.FAILED),
        ("sleeper", ProcessState.STOPPED),
    ]


def test_backoff_doubles_is_capped_and_a_process_that_stayed_up_starts_a_new_count(
    make_supervisor: Callable[..., Supervisor],
) -> None:
    clock = FakeClock()
    said: list[str] = []
    supervisor = make_supervisor(clock=clock, backoff_cap=8, max_failures=5, echo=said.append)
    supervisor.start("crasher", CRASHER)
    child = supervisor.child("crasher")
    delays = []
    for _ in range(5):
        poll(supervisor, lambda: child.state == ProcessState.RESTARTING)
        assert child.restart_due is not None
        delays.append(child.restart_due - clock.now)
        supervisor.tick()
        assert child.process is None  # nothing restarts before its time
        clock.now = child.restart_due
        supervisor.tick()
        assert child.process is not None
        clock.now += 10  # within the failure window: the failures still count
    assert delays == [1, 2, 4, 8, 8]
    with pytest.raises(GaveUp):
        poll(supervisor, lambda: False)

    supervisor.start("sleeper", SLEEPER)
    sleeper = supervisor.child("sleeper")
    for up_for in (5, 5, 60):  # two quick failures, then one after a minute up
        clock.now += up_for
        assert sleeper.process is not None
        os.kill(sleeper.process.pid, signal.SIGKILL)
        poll(supervisor, lambda: sleeper.state == ProcessState.RESTARTING)
        assert sleeper.restart_due is not None
        clock.now = sleeper.restart_due
        supervisor.tick()
    assert said[-3:] == [
        "  sleeper arrêté (code -9), redémarrage dans 1 s",
        "  sleeper arrêté (code -9), redémarrage dans 2 s",
        "  sleeper arrêté (code -9), redémarrage dans 1 s",
    ]
    assert backoff_delay(7, base=1, cap=60) == 60


def test_a_restarted_process_stays_restarting_until_its_health_check_answers(
    make_supervisor: Callable[..., Supervisor], tmp_path: Path
) -> None:
    healthy = {"now": False}
    said: list[str] = []
    supervisor = make_supervisor(backoff_base=0.05, echo=said.append)
    supervisor.start("server", SLEEPER, health=lambda: healthy["now"], health_timeout=30)
    server = supervisor.child("server")
    supervisor.tick()
    assert status_of(tmp_path, "server").state == ProcessState.STARTING
    healthy["now"] = True
    supervisor.tick()
    assert status_of(tmp_path, "server").state == ProcessState.RUNNING

    healthy["now"] = False
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    poll(supervisor, lambda: server.restarts == 1)
    for _ in range(5):
        supervisor.tick()
    restarted = status_of(tmp_path, "server")
    assert restarted.state == ProcessState.RESTARTING and restarted.pid is not None
    healthy["now"] = True
    supervisor.tick()
    assert status_of(tmp_path, "server").state == ProcessState.RUNNING
    assert said[-1] == "  server de nouveau disponible"


def test_a_process_that_never_answers_its_health_check_is_killed_and_tried_again(
    make_supervisor: Callable[..., Supervisor], tmp_path: Path
) -> None:
    said: list[str] = []
    supervisor = make_supervisor(backoff_base=0.05, max_failures=1, echo=said.append)
    supervisor.start("server", SLEEPER, health=lambda: False, health_timeout=0.3)
    first_pid = status_of(tmp_path, "server").pid
    assert first_pid is not None
    with pytest.raises(GaveUp, match=r"server sans réponse après 0\.3 s : 2 échecs"):
        poll(supervisor, lambda: False)
    assert said[0] == "  server sans réponse après 0.3 s, redémarrage dans 0.05 s"
    status = status_of(tmp_path, "server")
    assert status.restarts == 1 and status.last_exit_code == -signal.SIGKILL
    assert not alive(first_pid)


def test_a_process_waits_for_what_it_requires_before_it_is_restarted(
    make_supervisor: Callable[..., Supervisor],
) -> None:
    supervisor = make_supervisor(backoff_base=0.05, echo=lambda line: None)
    healthy = {"now": True}
    supervisor.start("server", SLEEPER, health=lambda: healthy["now"])
    supervisor.start("runner", SLEEPER, requires=("server",))
    poll(supervisor, lambda: supervisor.child("server").state == ProcessState.RUNNING)
    server, runner = supervisor.child("server"), supervisor.child("runner")
    healthy["now"] = False
    assert server.process is not None and runner.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    os.kill(runner.process.pid, signal.SIGKILL)
    poll(supervisor, lambda: server.restarts == 1)
    time.sleep(0.2)
    supervisor.tick()
    assert runner.process is None and runner.state == ProcessState.RESTARTING
    healthy["now"] = True
    poll(supervisor, lambda: runner.state == ProcessState.RUNNING)
    assert runner.restarts == 1


def test_a_dead_leader_takes_the_rest_of_its_process_group_with_it(
    make_supervisor: Callable[..., Supervisor], tmp_path: Path
) -> None:
    """Else a server's worker would keep its port and the restarted server could not bind."""
    pid_file = tmp_path / "grandchild.pid"
    supervisor = make_supervisor(backoff_base=0.05, echo=lambda line: None)
    leader = supervisor.start("server", leader_with_grandchild(pid_file))
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the grandchild did not start"
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    pid_file.unlink()
    os.kill(leader.pid, signal.SIGKILL)
    poll(supervisor, lambda: supervisor.child("server").restarts == 1)
    deadline = time.monotonic() + 5
    while alive(grandchild):
        assert time.monotonic() < deadline, "the grandchild survived its leader"
        time.sleep(0.05)


def test_stop_all_stops_every_process_and_its_group(
    make_supervisor: Callable[..., Supervisor], tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    supervisor = make_supervisor(echo=lambda line: None)
    processes = [
        supervisor.start("one", SLEEPER),
        supervisor.start("two", leader_with_grandchild(pid_file)),
        supervisor.start("three", [sys.executable, "-c", "import time; time.sleep(100)"]),
    ]
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the grandchild did not start"
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    started = time.monotonic()
    supervisor.stop_all(timeout=5)
    assert time.monotonic() - started < 5  # they stopped on SIGTERM
    assert all(process.returncode == -signal.SIGTERM for process in processes)
    assert not any(alive(process.pid) for process in processes)
    deadline = time.monotonic() + 5
    while alive(grandchild):
        assert time.monotonic() < deadline, "the grandchild survived stop_all"
        time.sleep(0.05)
    assert {s.state for s in read_process_status(home=tmp_path)} == {ProcessState.STOPPED}
    assert supervisor.children == []


def test_the_status_file_is_read_tolerantly(tmp_path: Path) -> None:
    assert read_process_status(home=tmp_path) == []  # missing
    (tmp_path / "processes.json").write_text("{not json")
    assert read_process_status(home=tmp_path) == []
    (tmp_path / "processes.json").write_text(json.dumps([1, 2]))
    assert read_process_status(home=tmp_path) == []
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    good = ProcessStatus(
        name="runner",
        pid=123,
        state=ProcessState.RUNNING,
        restarts=2,
        last_exit_code=-9,
        last_restart_at=moment,
        started_at=moment,
    )
    write_process_status(home=tmp_path, processes=[good], now=moment, supervisor_pid=1)
    assert read_process_status(home=tmp_path) == [good]
    assert [p.name for p in tmp_path.iterdir()] == ["processes.json"]  # no temporary file left
    document = json.loads((tmp_path / "processes.json").read_text())
    assert document["processes"][0]["started_at"] == "2026-11-02T09:00:00+00:00"
    document["processes"] += [
        {"name": "odd", "pid": "x", "state": "running"},
        {"name": "odd", "state": "sleeping"},
        {"name": "odd", "state": "running", "started_at": "2026-11-02T09:00:00"},
        "junk",
    ]
    (tmp_path / "processes.json").write_text(json.dumps(document))
    assert read_process_status(home=tmp_path) == [good]


def test_the_maintainer_is_started_only_if_the_cli_has_its_command() -> None:
    assert cli_has_command("up")
    assert not cli_has_command("no-such-command")
