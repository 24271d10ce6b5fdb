"""Fixtures for the driver tests: real wasmtime, real processes, no mocks."""

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh agent data directory."""
    return tmp_path / "agent"
