"""An API over a real store (SQLite and PostgreSQL), driven through FastAPI's test client."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edgeorch.api import create_app
from edgeorch.api.bootstrap import prepare_store
from edgeorch.config import ServerSettings
from edgeorch.store import Database


@dataclass
class Api:
    """A test client authenticated as the bootstrap admin, and the pieces behind it."""

    client: TestClient
    database: Database
    admin_token: str

    def as_token(self, secret: str | None) -> TestClient:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return TestClient(self.client.app, headers=headers)

    def node(self, name: str = "n1", **spec: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "edge_type": "mec",
            "region": "eu-central",
            "zone": "fra-a",
            "location": {"latitude": 50.11, "longitude": 8.68},
            "country": "DE",
            "capacity": {"cpu": 16, "memory_mb": 65536, "storage_gb": 2000},
            "cost_per_hour": 0.5,
        }
        labels = spec.pop("labels", {})
        base.update(spec)
        return {"kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": base}

    def workload(self, name: str = "w1", **spec: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"runtime": "process", "artifact": {"command": ["sleep", "60"]}}
        base.update(spec)
        return {"kind": "Workload", "metadata": {"name": name}, "spec": base}


@pytest.fixture
def api(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("EDGEORCH_CONFIG", str(tmp_path / "client.yaml"))
    settings = ServerSettings(data_dir=tmp_path / "data", max_body_bytes=64 * 1024)
    result = prepare_store(database, settings)
    assert result.admin_secret is not None
    app = create_app(database, settings)
    with TestClient(app, headers={"Authorization": f"Bearer {result.admin_secret}"}) as client:
        yield Api(client=client, database=database, admin_token=result.admin_secret)
