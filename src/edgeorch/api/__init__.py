"""The REST API: ``create_app`` builds it over a migrated store."""

from edgeorch.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
