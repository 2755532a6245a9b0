"""Every module imports on its own, first: an import cycle hidden by the order the tests import
things in (conftest imports the models first) would stop the runner or the CLI at start. Seen
once: domain.messages -> rules.specs -> rules (loader) -> rules.notifications ->
domain.templates -> domain.messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("crealux_core", "crealux", "flows")

CHECK = """
import importlib, sys
from sqlmodel import SQLModel
from sqlmodel.main import default_registry
ours = ("crealux_core", "crealux", "flows")
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ours]:
        del sys.modules[loaded]
    SQLModel.metadata.clear()  # the tables are defined again by the fresh import
    default_registry.dispose()
    try:
        importlib.import_module(name)
    except Exception as error:  # report them all
        failed.append(f"{name}: {type(error).__name__}: {error}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if "migrations" in parts:
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_first_on_its_own() -> None:
    names = module_names()
    assert "crealux_core.services.events" in names and len(names) > 50
    done = subprocess.run(
        [sys.executable, "-c", CHECK, *names],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
