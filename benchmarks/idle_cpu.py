"""CPU used by an idle instance: `crealux up` with its demo pathways all waiting, nobody acting.

Starts `[sys.executable, "-m", "crealux.cli", "up"]` on a fresh data directory and free ports,
waits until it is ready (its "Ctrl-C" line) and every demo pathway waits (suspended in Prefect on
its current wait's key), lets it settle, then reads from /proc the CPU time (user + system,
including the children each process has reaped, such as the runner's flow-run processes) of the
whole process tree at the start and the end of the window: total CPU seconds, % of one core, and
per process (prefect-server, runner, maintainer, dashboard, mail-sink, and `crealux up` itself).
Nothing polls the instance during the window. Target: well under 1 % of one core.

`--variants` measures instances with other settings one after the other (VARIANTS below: the
Prefect services CREALux does not use turned off or slowed, a slower runner poll); `--compare` is
`--variants default proposed`; `--env KEY=VALUE` (repeatable) adds settings to every variant.

    .venv/bin/python benchmarks/idle_cpu.py [--seconds 600] [--variants default proposed ...]

Takes the window (default 600 s) per variant, plus a minute or two to start each. Prints the
numbers and appends a JSON line to benchmarks/results/idle_cpu.json.
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
    cmdline,
    cpu_by_group,
    instance_runtime,
    loadavg,
    machine,
    parse_env,
    pathways_waiting,
    poll,
    process_tree,
    wait_until_load_below,
    write_result,
)

# More Prefect server loops that could look rarely, on top of those `crealux up` already turns
# off or slows (Settings.prefect_env): no concurrency leases, no workers' cleanup queue here.
PROPOSED: dict[str, str] = {
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "300",
    "PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_LOOP_SECONDS": "300",
}
# The runner's poll is a trade: every poll is a request the server answers (CPU), and a run
# waits up to one poll before it starts unless it is kicked (flows/serve.py). The product polls
# every 15 s and kicks; "poll1" is the previous default, a poll a second.
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "proposed": PROPOSED,
    "poll1": {"CREALUX_RUNNER_POLL_SECONDS": "1"},
    "poll60": {"CREALUX_RUNNER_POLL_SECONDS": "60"},
    "proposed+poll60": {**PROPOSED, "CREALUX_RUNNER_POLL_SECONDS": "60"},
}


def say(line: str) -> None:
    print(line, flush=True)


def wait_ready(instance: UpInstance, timeout: float) -> float:
    """Wait for the "Ctrl-C" line and every demo pathway suspended on its wait; return seconds."""
    from crealux.demo import DEMO_PARTICIPANTS

    poll(instance.ready_line, timeout=timeout, what="the Ctrl-C line", interval=0.5)
    with instance_runtime(instance) as runtime:

        def waiting() -> bool:
            instance.check_alive()
            counts = pathways_waiting(runtime)
            return counts.all_waiting and counts.active == len(DEMO_PARTICIPANTS)

        poll(waiting, timeout=timeout, what="every demo pathway waiting", interval=1.0)
    return time.monotonic() - instance.started


def measure(
    base: Path, *, label: str, env: dict[str, str], seconds: float, settle: float, timeout: float
) -> dict[str, Any]:
    instance = UpInstance(base / label, extra_env=env)
    say(f"[{label}] crealux up {' '.join(f'{k}={v}' for k, v in env.items())}".rstrip())
    try:
        instance.start()
        ready = wait_ready(instance, timeout)
        say(f"  ready with every demo pathway waiting after {ready:.0f} s; settling {settle:.0f} s")
        time.sleep(settle)
        instance.check_alive()
        assert instance.process is not None
        root = instance.process.pid
        groups = instance.children()
        processes = {
            str(pid): f"{info.name}: {cmdline(pid)[:160]}"
            for pid, info in process_tree(root).items()
        }
        before = cpu_by_group(root, groups)
        load_before = loadavg()
        say(f"  measuring {seconds:.0f} s (load {load_before})")
        started = time.monotonic()
        flow_run_processes: set[int] = set()
        runner = groups.get("runner")
        while time.monotonic() - started < seconds:
            time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - started))))
            instance.check_alive()
            if runner is not None:  # note the flow runs the runner starts while "idle"
                tree = process_tree(runner)
                flow_run_processes.update(pid for pid in tree if pid != runner)
        elapsed = time.monotonic() - started
        after = cpu_by_group(root, instance.children())
        load_after = loadavg()
    finally:
        instance.stop()
    per_process = {
        name: round(after.get(name, 0.0) - before.get(name, 0.0), 2)
        for name in sorted(set(before) | set(after))
        if name != "total"
    }
    total = after["total"] - before["total"]
    result = {
        "label": label,
        "env": env,
        "window_s": round(elapsed, 1),
        "ready_s": round(ready, 1),
        "cpu_s": round(total, 2),
        "percent_of_one_core": round(100 * total / elapsed, 3),
        "per_process_cpu_s": per_process,
        "per_process_percent": {
            name: round(100 * value / elapsed, 3) for name, value in per_process.items()
        },
        "processes_at_start": processes,
        "runner_child_processes_during_window": len(flow_run_processes),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    say(
        f"  [{label}] {total:.1f} CPU-s in {elapsed:.0f} s = {result['percent_of_one_core']:.2f} %"
        " of one core; "
        + ", ".join(f"{name} {value:.1f} s" for name, value in per_process.items())
        + f"; runner child processes: {len(flow_run_processes)}"
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=600, help="measurement window")
    parser.add_argument("--settle", type=float, default=30, help="wait after ready, seconds")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=sorted(VARIANTS),
        default=["default"],
        help="settings to measure, one instance after the other (default: default)",
    )
    parser.add_argument("--compare", action="store_true", help="= --variants default proposed")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="more settings for every variant",
    )
    parser.add_argument("--timeout", type=float, default=420, help="to get ready, seconds")
    parser.add_argument("--quiet-load", type=float, default=2.0, help="wait for a load below")
    parser.add_argument("--patience", type=float, default=0, help="...at most this long (s)")
    args = parser.parse_args()

    extra = parse_env(args.env)
    names = ["default", "proposed"] if args.compare else args.variants
    variants = [(name + ("+env" if extra else ""), {**VARIANTS[name], **extra}) for name in names]
    wait_until_load_below(args.quiet_load, patience=args.patience, say=say)
    base = Path(tempfile.mkdtemp(prefix="crealux-bench-idle-"))
    result: dict[str, Any] = {"machine": machine(), "args": vars(args), "runs": []}
    try:
        for label, env in variants:
            result["runs"].append(
                measure(
                    base,
                    label=label,
                    env=env,
                    seconds=args.seconds,
                    settle=args.settle,
                    timeout=args.timeout,
                )
            )
    except KeyboardInterrupt:
        say("interrupted: the instance was stopped")
        return 130
    finally:
        shutil.rmtree(base, ignore_errors=True)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("idle_cpu", result)
    for run in result["runs"]:
        say(
            f"{run['label']}: {run['cpu_s']:.1f} CPU-s over {run['window_s']:.0f} s ="
            f" {run['percent_of_one_core']:.2f} % of one core (target: well under 1 %)"
        )
    say(f"load {result['machine']['loadavg']} -> {result['machine']['loadavg_end']} ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
