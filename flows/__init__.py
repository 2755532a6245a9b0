"""Prefect flows: thin drivers over crealux_core.services."""
