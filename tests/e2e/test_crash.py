"""kill -9 during writes loses no acknowledged write, on SQLite and on PostgreSQL."""

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.e2e.conftest import ServerProcess, free_port

PG_ADMIN = os.environ.get(
    "EDGEORCH_TEST_POSTGRES_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(params=["sqlite", "postgres"])
def backend_args(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    if request.param == "sqlite":
        yield []
        return
    name = f"crash_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield ["--database-url", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _node(name: str) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {
            "edge_type": "cdn",
            "region": "eu-west",
            "location": {"latitude": 52.37, "longitude": 4.90},
            "country": "NL",
            "capacity": {"cpu": 8, "memory_mb": 16384},
        },
    }


def test_kill_9_during_writes_loses_nothing_acknowledged(
    tmp_path: Path, backend_args: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env["EDGEORCH_CONFIG"] = str(tmp_path / "client.yaml")
    server = ServerProcess(
        tmp_path / "data", free_port(), env, tmp_path / "server.log", extra_args=backend_args
    )
    server.start()
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(worker: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
            for i in range(100_000):
                if stop.is_set():
                    return
                try:
                    response = client.post("/api/v1/edge/nodes", json=_node(f"w{worker}-{i}"))
                except httpx.TransportError:
                    return
                if response.status_code == 201:
                    acknowledged.append(response.json()["metadata"]["id"])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < 150:
        threading.Event().wait(0.01)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(10)
    server.start()
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
        present: set[str] = set()
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 1000}
            if cursor:
                params["continue"] = cursor
            page = client.get("/api/v1/edge/nodes", params=params).json()
            present |= {n["metadata"]["id"] for n in page["items"]}
            cursor = page["metadata"].get("continue")
            if not cursor:
                break
    server.stop()
    missing = set(acknowledged) - present
    assert not missing, f"{len(missing)} acknowledged writes lost of {len(acknowledged)}"
    assert len(acknowledged) >= 150
