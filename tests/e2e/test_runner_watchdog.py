"""The runner leaves (exit 75) when Prefect no longer knows its deployments (Prefect's database
deleted while everything runs), so that the supervisor restarts it and it registers them again;
while they are there, it stays. (Seen by hand: Prefect's database deleted under `crealux up`,
every pathway waits again on its step within two minutes.)"""

from __future__ import annotations

import asyncio
import os

import pytest

from flows.serve import until_deployments_lost
from tests.e2e.conftest import Instance

pytestmark = pytest.mark.e2e


def watch(instance: Instance, names: list[str], seconds: float) -> None:
    os.environ.update(instance.runtime.settings.prefect_env())
    asyncio.run(asyncio.wait_for(until_deployments_lost(names, 0.1), timeout=seconds))


def test_the_runner_sees_its_deployment_gone(instance: Instance) -> None:
    watch(instance, ["pathway/no-such-deployment"], seconds=30)  # returns: it would leave


def test_the_runner_stays_while_its_deployments_are_there(instance: Instance) -> None:
    with pytest.raises(TimeoutError):  # still watching when the test gives up
        watch(instance, ["pathway/pathway", "reconcile/reconcile"], seconds=2)
