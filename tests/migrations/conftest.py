"""The API test fixture, shared with tests/api."""

from tests.api.conftest import api  # noqa: F401
