"""prefect.yaml (the scale-out deployments) names flows that exist and agree with `serve`."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parent.parent


def test_every_deployment_entrypoint_loads_the_flow_it_names() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    names = {}
    for deployment in config["deployments"]:
        flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        names[deployment["name"]] = flow.name
        assert deployment["work_pool"]["name"] == "crealux"
    assert names == {"pathway": "pathway", "reconcile": "reconcile"}
