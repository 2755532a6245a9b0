"""The `crealux` command: starts an instance, loads demo data, scripts the services."""
