"""Serve the project's deployments from one process: the embedded default of `crealux up`.

At scale, the same flows are deployed from prefect.yaml to a process work pool instead.
"""

from __future__ import annotations

from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment

from crealux_core.settings import load_settings
from flows.pathway import pathway
from flows.reconcile import reconcile


def serve_deployments(*, limit: int | None = None) -> None:
    """Register the deployments and run their flow runs until interrupted."""
    deployments = [
        cast(RunnerDeployment, pathway.to_deployment(name="pathway", tags=["crealux-pathway"])),
        # No schedule: `crealux maintain` reconciles without a new process a minute; this
        # deployment is there to run a full pass by hand from the Prefect UI.
        cast(RunnerDeployment, reconcile.to_deployment(name="reconcile")),
    ]
    serve(
        *deployments,
        limit=limit,
        pause_on_shutdown=False,
        print_starting_message=False,
    )


if __name__ == "__main__":
    serve_deployments(limit=load_settings().runner_limit)
