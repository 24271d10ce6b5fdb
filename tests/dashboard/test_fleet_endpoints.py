"""The dashboard's server side without a browser: the page and assets at ``/``, the columnar
``GET /api/v1/dashboard/fleet``, and the shared change-feed reader behind ``/api/v1/stream``."""

import asyncio
import contextlib
import gzip
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import Api, api

from edgeorch.api import create_app
from edgeorch.api.feedhub import ResetNeeded, StreamHub, max_clients_from_env
from edgeorch.config import ServerSettings
from edgeorch.schemas.node import NodeCreate, NodeStatus, Utilization
from edgeorch.store import (
    Database,
    create_node,
    current_revision,
    default_sqlite_url,
    update_node_status,
)

__all__ = ["api"]


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over one SQLite store, without a token: the page and assets need none."""
    data = tmp_path_factory.mktemp("static")
    database = Database(default_sqlite_url(data))
    database.migrate()
    with TestClient(create_app(database, ServerSettings(data_dir=data))) as client:
        yield client
    database.dispose()


def test_page_and_assets_are_served_without_a_token(anonymous: TestClient) -> None:
    page = anonymous.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/assets/app.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    script = anonymous.get("/assets/app.js", headers={"accept-encoding": "gzip"})
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-encoding"] == "gzip"
    assert "edgeorchDashboard" in script.text  # httpx decoded the gzip body
    again = anonymous.get("/assets/app.js", headers={"if-none-match": script.headers["etag"]})
    assert again.status_code == 304
    for name in ("vendor.js", "style.css", "vendor-licenses.txt"):
        assert anonymous.get(f"/assets/{name}").status_code == 200, name


def test_unknown_or_unsafe_asset_names_are_404(anonymous: TestClient) -> None:
    for path in ("/assets/nothing.js", "/assets/..%2Fapp.js", "/assets/.hidden.js", "/assets/a.py"):
        answer = anonymous.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json", path


def test_data_needs_a_token(anonymous: TestClient) -> None:
    assert anonymous.get("/api/v1/dashboard/fleet").status_code == 401
    assert anonymous.get("/api/v1/stream").status_code == 401


def test_fleet_columns_describe_nodes_instances_and_workloads(api: Api) -> None:
    for name, region, lat in (
        ("a", "eu-west", 51.5),
        ("b", "eu-west", 48.9),
        ("c", "us-east", 40.7),
    ):
        spec = {"region": region, "location": {"latitude": lat, "longitude": 2.0}}
        assert api.client.post("/api/v1/edge/nodes", json=api.node(name, **spec)).status_code == 201
    users = [{"latitude": 50.0, "longitude": 3.0, "weight": 2}]
    body = api.workload("web", replicas=2, placement={"users": users, "user_regions": ["eu-west"]})
    assert api.client.post("/api/v1/workloads", json=body).status_code == 201
    answer = api.client.get("/api/v1/dashboard/fleet", headers={"accept-encoding": "gzip"})
    assert answer.status_code == 200
    fleet: dict[str, Any] = answer.json()
    nodes = fleet["nodes"]
    assert nodes["name"] == ["a", "b", "c"]
    assert [nodes["vocab"]["region"][code] for code in nodes["region"]] == [
        "eu-west",
        "eu-west",
        "us-east",
    ]
    assert [nodes["vocab"]["state"][code] for code in nodes["state"]] == ["pending"] * 3
    assert nodes["lat"] == [51.5, 48.9, 40.7]
    assert len(nodes["util"]) == 4 and all(len(col) == 3 for col in nodes["util"])
    (workload,) = fleet["workloads"]
    assert workload["name"] == "web"
    assert workload["users"] == [[50.0, 3.0, 2.0]]
    assert workload["user_regions"] == ["eu-west"]
    assert fleet["revision"] == answer.json()["revision"] > 0
    assert fleet["instances"]["id"] == []  # no controllers in API tests: nothing placed


def test_fleet_of_a_tenant_shows_only_its_objects(api: Api) -> None:
    assert (
        api.client.post("/api/v1/tenants", json={"metadata": {"name": "acme"}}).status_code == 201
    )
    node = api.node("theirs")
    node["metadata"]["tenant"] = "acme"
    assert api.client.post("/api/v1/edge/nodes", json=node).status_code == 201
    assert api.client.post("/api/v1/edge/nodes", json=api.node("ours")).status_code == 201
    every = api.client.get("/api/v1/dashboard/fleet").json()["nodes"]["name"]
    acme = api.client.get("/api/v1/dashboard/fleet", params={"tenant": "acme"}).json()
    assert sorted(every) == ["ours", "theirs"]
    assert acme["nodes"]["name"] == ["theirs"]


def test_the_response_is_small_at_scale(api: Api) -> None:
    for start in range(0, 300, 100):  # the test app's body limit is 64 KiB
        nodes = [api.node(f"n{i:04d}") for i in range(start, start + 100)]
        assert api.client.post("/api/v1/apply", json=nodes).status_code == 200
    answer = api.client.get("/api/v1/dashboard/fleet", headers={"accept-encoding": "gzip"})
    raw = len(gzip.compress(answer.content))
    # Columns, not objects: well under 100 bytes per node on the wire.
    assert raw / 300 < 100, raw


# -- the shared reader ---------------------------------------------------------------------------


def _node(name: str) -> NodeCreate:
    return NodeCreate.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "edge_type": "cdn",
                "region": "eu-west",
                "location": {"latitude": 48.85, "longitude": 2.35},
                "country": "FR",
                "capacity": {"cpu": 8, "memory_mb": 32768},
            },
        }
    )


async def _next_batch(hub: StreamHub, since: int) -> list[dict[str, Any]]:
    assert await hub.wait(since, 5.0), "no batch within 5 s"
    return [r for b in hub.after(since) for r in b.records]


def test_hub_sends_each_changed_object_once_with_its_latest_record(database: Database) -> None:
    async def scenario() -> None:
        hub = StreamHub(database, poll_interval=0.2)
        async with hub.subscribe(None) as start:
            with database.write() as session:
                node = create_node(session=session, node=_node("paris-1"))
                status = NodeStatus(state="ready", utilization=Utilization(cpu=0.5, memory=0.25))
                update_node_status(session=session, node_id=node.metadata.id, status=status)
            records = await _next_batch(hub, start)
        hub.close()
        (record,) = [r for r in records if r["kind"] == "Node"]
        assert record["op"] == "updated" and record["name"] == "paris-1"
        assert record["object"]["state"] == "ready"
        assert record["object"]["util"] == [0.5, 0.25, 0.0, 0.0]
        assert record["object"]["lat"] == 48.85
        assert record["revision"] > start

    asyncio.run(scenario())


def test_hub_asks_a_client_too_far_behind_to_reload(database: Database) -> None:
    async def scenario() -> None:
        hub = StreamHub(database, poll_interval=0.05, buffer_records=1)
        async with hub.subscribe(None) as start:
            for i in range(3):
                with database.write() as session:
                    create_node(session=session, node=_node(f"n{i}"))
                await _next_batch(hub, hub.head)
            with database.session() as session:
                head = current_revision(session=session)
            assert hub.head == head and hub.floor > start
            with pytest.raises(ResetNeeded) as caught:
                hub.after(start)
            assert caught.value.head == head
            assert hub.after(hub.floor) == hub.after(hub.floor)  # inside the buffer: fine
        hub.close()

    asyncio.run(scenario())


def test_hub_reads_the_feed_once_however_many_clients_listen(database: Database) -> None:
    async def passes_with(clients: int) -> int:
        hub = StreamHub(database, poll_interval=0.1)
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(clients):
                await stack.enter_async_context(hub.subscribe(None))
            before = hub.passes
            await asyncio.sleep(0.6)
            done = hub.passes - before
        hub.close()
        return done

    one = asyncio.run(passes_with(1))
    many = asyncio.run(passes_with(20))
    assert many <= one + 3, (one, many)
    assert many <= 8  # about one read per poll interval, never one per client


@pytest.mark.parametrize(("text", "ok"), [("", 64), ("3", 3), ("0", None), ("many", None)])
def test_max_clients_setting(monkeypatch: pytest.MonkeyPatch, text: str, ok: int | None) -> None:
    monkeypatch.setenv("EDGEORCH_STREAM_MAX_CLIENTS", text)
    if ok is None:
        with pytest.raises(ValueError, match="EDGEORCH_STREAM_MAX_CLIENTS"):
            max_clients_from_env()
    else:
        assert max_clients_from_env() == ok
