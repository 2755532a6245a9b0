"""Point the dashboard at the test instance: its environment, and no runtime cached from before."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from crealux_core.runtime import Runtime
from crealux_core.settings import Settings

APP_FILE = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def app_environ(settings: Settings) -> dict[str, str]:
    """Return the CREALUX_* variables that make the dashboard use this instance."""
    return {
        "CREALUX_HOME": str(settings.resolved_home),
        "CREALUX_DATABASE_URL": settings.app_database_url,
        "CREALUX_RULES_DIR": str(settings.rules_dir),
        "CREALUX_PREFECT_PORT": str(settings.prefect_port),
        "CREALUX_SMTP_PORT": str(settings.smtp_port),
        "CREALUX_DASHBOARD_PORT": str(settings.dashboard_port),
    }


@pytest.fixture
def app_settings(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Aim the dashboard at the seeded test database; undo what app.py adds to os.environ."""
    saved = dict(os.environ)
    for name, value in app_environ(runtime.settings).items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    yield runtime.settings
    st.cache_resource.clear()
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)
