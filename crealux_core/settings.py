"""Settings of one CREALux instance, read from CREALUX_* environment variables."""

from __future__ import annotations

import os
import secrets
from datetime import time
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
SECRET_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    """Where the data lives and which ports the services of one instance use."""

    model_config = SettingsConfigDict(env_prefix="CREALUX_", extra="ignore")

    home: Path = Field(default=Path("crealux-data"), description="data directory")
    database_url: str | None = Field(default=None, description="default: SQLite under home")
    rules_dir: Path = REPO_RULES_DIR
    prefect_port: int = 4200
    dashboard_port: int = 8501
    smtp_port: int = 8025
    host: str = "127.0.0.1"
    prefect_api_url: str | None = Field(default=None, description="default: the local server")
    # The runner polls Prefect for runs to start this often; a resume or a start made by
    # CREALux also "kicks" it (a UDP datagram to runner_kick_port, default: the Prefect port
    # number) so that it polls at once. A slower poll costs idle CPU nothing, latency little.
    runner_poll_seconds: int = 15
    runner_kick_port: int | None = Field(default=None, description="UDP; default prefect_port")
    # How many pathway passes one runner executes at once (each is a Python process for a few
    # seconds); the others wait, Scheduled, which the reconciler counts as healthy.
    runner_limit: int = 4
    # The maintainer (`crealux maintain`): how often it looks for pathways to catch up, sweeps
    # deadlines and checks every pathway against Prefect; when a busy run counts as stalled.
    maintain_tick_seconds: float = 2.0
    sweep_seconds: float = 15.0
    full_reconcile_seconds: float = 60.0
    grace_seconds: float = 5.0
    stall_seconds: float = 180.0
    # The dashboard keeps a user signed in across reloads with a cookie signed by this key
    # (HMAC): set it on every dashboard behind one proxy; by default a key generated at first
    # start in the data directory (SECRET_KEY_FILE), never in the repository.
    secret_key: SecretStr | None = Field(default=None, description="default: a generated file")
    session_hours: float = Field(default=8.0, gt=0, description="how long a sign-in lasts")
    # Organisations that ask for a digest (`digest: true` in rules/organisations.yaml) get one
    # message a day, at this local time, listing what was queued for them before it.
    digest_time: time = time(7, 0)
    digest_timezone: str = "Europe/Brussels"

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def app_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'crealux.db'}"

    def session_secret(self) -> bytes:
        """Return the key that signs the dashboard's session cookies: `secret_key`, or the
        file under the data directory, created with a random key the first time."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        path = self.resolved_home / SECRET_KEY_FILE
        if path.exists():
            return path.read_bytes().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # created once, readable by its owner only; a second dashboard reads the first's
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes().strip()
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
        return path.read_bytes().strip()

    @property
    def prefect_url(self) -> str:
        return self.prefect_api_url or f"http://{self.host}:{self.prefect_port}/api"

    @property
    def prefect_ui_url(self) -> str:
        return self.prefect_url.removesuffix("/api")

    @property
    def kick_address(self) -> tuple[str, int] | None:
        """Where the local runner listens for kicks; None when Prefect is not local."""
        if self.prefect_api_url:
            return None
        return (self.host, self.runner_kick_port or self.prefect_port)

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.host}:{self.dashboard_port}"

    def rules_env(self) -> dict[str, str]:
        """Return what `${NAME}` in the rules files may refer to: the environment (secrets such
        as a Teams webhook) and this instance's own ports."""
        return {
            **os.environ,
            "CREALUX_SMTP_PORT": str(self.smtp_port),
            "CREALUX_DASHBOARD_URL": self.dashboard_url,
        }

    def prefect_env(self) -> dict[str, str]:
        """Return the environment that points Prefect clients and servers at this instance."""
        prefect_home = self.resolved_home / "prefect"
        prefect_db = f"sqlite+aiosqlite:///{prefect_home / 'prefect.db'}"
        return {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_API_URL": self.prefect_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db,
            "PREFECT_RUNNER_POLL_FREQUENCY": str(self.runner_poll_seconds),
            "PREFECT_UI_API_URL": self.prefect_url,
            "PREFECT_LOGGING_LEVEL": "INFO",
            # Prefect server loops this product does not use (no schedules, automations, work
            # pools or late-run alerts; pauses never time out): about 1 % of a core when idle.
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS": "300",
            "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS": "300",
        }


def load_settings() -> Settings:
    return Settings()
