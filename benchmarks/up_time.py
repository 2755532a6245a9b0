"""`crealux up` on a fresh data directory: seconds until the dashboard answers and every demo
participant waits on their step (their flow run suspended in Prefect on their current wait's key).

Runs `[sys.executable, "-m", "crealux.cli", "up"]` as a user does (fresh CREALUX_HOME, free
ports), notes when each milestone is reached (demo loaded, "Ctrl-C" line, dashboard health,
every pathway suspended on its wait), then stops it with Ctrl-C (SIGINT). Then the same beside a
second running instance: one instance is started and waited for, then a second one, on other
ports and another home, is timed. Everything started is stopped, even on Ctrl-C.

    .venv/bin/python benchmarks/up_time.py [--repeat 3] [--alone-only | --beside-only]

About 3 minutes per repeat. Prints the numbers and appends a JSON line to
benchmarks/results/up_time.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit import (
    UpInstance,
    http_ok,
    instance_runtime,
    loadavg,
    machine,
    pathways_waiting,
    summary,
    wait_until_load_below,
    write_result,
)

DEMO_LOADED = "participants de démonstration inscrits"


def say(line: str) -> None:
    print(line, flush=True)


def demo_count() -> int:
    from crealux.demo import DEMO_PARTICIPANTS

    return len(DEMO_PARTICIPANTS)


def time_until_ready(
    instance: UpInstance, *, timeout: float, interval: float = 0.5
) -> dict[str, Any]:
    """Start the instance and return when each milestone was reached (seconds from the start)."""
    expected = demo_count()
    instance.start()
    milestones: dict[str, float] = {}

    def mark(name: str) -> None:
        if name not in milestones:
            milestones[name] = round(time.monotonic() - instance.started, 2)
            say(f"    {milestones[name]:6.1f} s  {name}")

    last: Any = None
    with instance_runtime(instance) as runtime:
        while time.monotonic() - instance.started < timeout:
            instance.check_alive()
            output = instance.output()
            if DEMO_LOADED in output:
                mark("demo_loaded")
            if "Ctrl-C" in output:
                mark("ctrl_c_line")
            if "dashboard" not in milestones and http_ok(
                f"{instance.dashboard_url}/_stcore/health"
            ):
                mark("dashboard")
            # read the database only once `crealux up` has migrated and filled it
            if "demo_loaded" in milestones and "all_waiting" not in milestones:
                last = pathways_waiting(runtime)
                if last.open_step == expected:
                    mark("all_steps_open")
                if last.all_waiting and last.active == expected:
                    mark("all_waiting")
            if "dashboard" in milestones and "all_waiting" in milestones:
                break
            time.sleep(interval)
        else:
            raise TimeoutError(
                f"not ready after {timeout:.0f} s: {milestones}, pathways {last}\n"
                + instance.output()[-2000:]
            )
    ready = max(milestones["dashboard"], milestones["all_waiting"])
    say(f"    ready (dashboard answers, {expected} pathways waiting) in {ready:.1f} s")
    return {"ready_s": ready, "milestones": milestones, "loadavg_at_ready": loadavg()}


def run_alone(base: Path, timeout: float) -> dict[str, Any]:
    say("crealux up on a fresh data directory, alone")
    instance = UpInstance(base / "alone")
    try:
        return {"loadavg_before": loadavg(), **time_until_ready(instance, timeout=timeout)}
    finally:
        instance.stop()


def run_beside(base: Path, timeout: float) -> dict[str, Any]:
    first = UpInstance(base / "first")
    second = UpInstance(base / "second")
    try:
        say("a first instance, waited for until it is ready")
        first_ready = time_until_ready(first, timeout=timeout)
        say("crealux up on a fresh data directory, beside the running first instance")
        result = {"loadavg_before": loadavg(), **time_until_ready(second, timeout=timeout)}
        result["first_instance_ready_s"] = first_ready["ready_s"]
        return result
    finally:
        second.stop()
        first.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--alone-only", action="store_true")
    which.add_argument("--beside-only", action="store_true")
    parser.add_argument("--timeout", type=float, default=420, help="per instance, seconds")
    parser.add_argument("--repeat", type=int, default=1, help="measure each case this often")
    parser.add_argument("--quiet-load", type=float, default=2.0, help="wait for a load below")
    parser.add_argument("--patience", type=float, default=0, help="...at most this long (s)")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args()

    wait_until_load_below(args.quiet_load, patience=args.patience, say=say)
    base = Path(tempfile.mkdtemp(prefix="crealux-bench-up-"))
    result: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    runs: dict[str, list[dict[str, Any]]] = {"alone": [], "beside_second_instance": []}
    try:
        for number in range(args.repeat):  # alone, beside, alone, beside...
            if not args.beside_only:
                runs["alone"].append(run_alone(base / f"{number}", args.timeout))
            if not args.alone_only:
                runs["beside_second_instance"].append(run_beside(base / f"{number}", args.timeout))
        for case, samples in runs.items():
            if samples:
                result[case] = {
                    "ready_s": summary([sample["ready_s"] for sample in samples], digits=1),
                    "samples": samples,
                }
    except KeyboardInterrupt:
        say("interrupted: every instance was stopped")
        return 130
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            say(f"kept {base}")
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("up_time", result)
    parts = []
    if "alone" in result:
        parts.append(f"alone {result['alone']['ready_s']['p50']:.1f} s (median)")
    if "beside_second_instance" in result:
        parts.append(
            f"beside a second instance {result['beside_second_instance']['ready_s']['p50']:.1f} s"
        )
    say(
        f"crealux up until ready: {', '.join(parts)}; load {result['machine']['loadavg']} ->"
        f" {result['machine']['loadavg_end']} ({path})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
