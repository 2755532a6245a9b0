"""A bare Prefect flow, the yardstick of step_latency: each pass suspends on a new key and does
nothing else. `python benchmarks/bare_flow.py` serves it (deployment `bare-loop/bare`) with
Prefect's own `serve`, polling every second (BARE_POLL_SECONDS): the quickest a plain runner
starts a resumed run, since nothing kicks it (the pathway's runner polls every 15 s and is
kicked, see flows/serve.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast
from uuid import uuid4

from prefect import flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.flow_runs import suspend_flow_run
from pydantic import BaseModel, ConfigDict

REPO = Path(__file__).resolve().parent.parent
FLOW_NAME = "bare-loop"
DEPLOYMENT_NAME = "bare"


class Tick(BaseModel):
    """The resume input: one number, as small as the pathway's event id."""

    model_config = ConfigDict(extra="forbid")

    n: int = 0


@flow(name=FLOW_NAME, persist_result=False)
def bare_loop() -> None:
    """Suspend on a key never used before; a resume runs the flow again from the top."""
    suspend_flow_run(wait_for_input=Tick, key=f"tick-{uuid4().hex}", timeout=None)


if __name__ == "__main__":
    os.chdir(REPO)  # the deployment's entrypoint is benchmarks/bare_flow.py:bare_loop
    serve(
        cast(RunnerDeployment, bare_loop.to_deployment(name=DEPLOYMENT_NAME)),
        pause_on_shutdown=False,
        print_starting_message=False,
        query_seconds=float(os.environ.get("BARE_POLL_SECONDS", "1")),
    )
