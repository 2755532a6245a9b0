"""What the rules tests share: a copy of the repo's rules to edit, and how to edit it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crealux_core.settings import REPO_RULES_DIR

ENV = {"CREALUX_SMTP_PORT": "8025"}


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the repo's rules, to break on purpose."""
    target = tmp_path / "rules"
    shutil.copytree(REPO_RULES_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in a rules file; fail if it is not there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
