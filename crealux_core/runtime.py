"""Compose one instance from its settings: database, rules, Prefect orchestrator, notifier."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlmodel import Session

from crealux_core.db import make_engine, new_session
from crealux_core.rules import Rules, load_rules
from crealux_core.settings import Settings, load_settings

if TYPE_CHECKING:
    from crealux_core.notify import AppriseNotifier
    from crealux_core.orchestration import PrefectOrchestrator


@dataclass
class Runtime:
    settings: Settings

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(load_settings())

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.app_database_url)

    @cached_property
    def rules(self) -> Rules:
        return load_rules(self.settings.rules_dir, env=self.settings.rules_env())

    @cached_property
    def orchestrator(self) -> PrefectOrchestrator:
        # Imported here: importing Prefect costs over a second, and most CLI commands that read
        # the database never talk to it.
        from crealux_core.orchestration import PrefectOrchestrator

        return PrefectOrchestrator(self.settings.prefect_url, kick=self.settings.kick_address)

    @cached_property
    def notifier(self) -> AppriseNotifier:
        from crealux_core.notify import AppriseNotifier  # importing Apprise costs about 1 s

        return AppriseNotifier()

    def session(self) -> Session:
        return new_session(self.engine)
