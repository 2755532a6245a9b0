"""`crealux import FILE`: past records from a spreadsheet (filled by the import work)."""

from __future__ import annotations


def register(app: object) -> None:
    """Add the `import` command to the `crealux` application."""
