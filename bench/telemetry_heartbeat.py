"""Benchmark: the server time of one heartbeat, with and without request telemetry.

Run: ``.venv/bin/python bench/telemetry_heartbeat.py [--beats 400]`` from the repository root.
In-process (FastAPI test client, SQLite in a temporary directory): one node with 5 bound
instances heartbeats ``--beats`` times (a) with the recorder replaced by a no-op (the path before
telemetry), (b) with the recorder and no stats, (c) with request stats for all 5 instances; the
recorder flushes every 5 s as in production. Prints median and p99 per series.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeorch.api import create_app
from edgeorch.api.bootstrap import prepare_store
from edgeorch.config import ServerSettings
from edgeorch.schemas.instance import InstanceSpec
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import Database, create_instance, create_workload, default_sqlite_url
from edgeorch.telemetry.histogram import BUCKETS

JOIN = {
    "name": "bench-1",
    "facts": {"edge_type": "mec", "region": "eu-west", "latitude": 48.8, "longitude": 2.3,
              "country": "FR"},
    "measured": {"arch": "x86_64", "capacity": {"cpu": 16, "memory_mb": 32768}},
}  # fmt: skip


class NoRecorder:
    """Stands in for the recorder: what the route did before telemetry."""

    def heartbeat(self, **_: object) -> None:
        pass

    def maybe_flush(self, *_: object) -> int:
        return 0


def series(client: TestClient, url: str, body: dict[str, object], beats: int) -> list[float]:
    times = []
    for _ in range(beats):
        start = time.perf_counter()
        answer = client.post(url, json=body)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--beats", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(default_sqlite_url(Path(tmp)))
        db.migrate()
        settings = ServerSettings(data_dir=Path(tmp) / "data")
        admin = prepare_store(db, settings).admin_secret
        app = create_app(db, settings)
        with TestClient(app, headers={"Authorization": f"Bearer {admin}"}) as api:
            join = api.post("/api/v1/tokens", json={"role": "join"}).json()["secret"]
            joined = TestClient(app).post(
                "/api/v1/agent/join", json=JOIN, headers={"Authorization": f"Bearer {join}"}
            )
            node = joined.json()
        spec = {"runtime": "process", "artifact": {"command": ["true"]}, "replicas": 5}
        with db.write() as s:
            w = create_workload(
                session=s,
                workload=WorkloadCreate.model_validate({"metadata": {"name": "w"}, "spec": spec}),
            )
            ids = [
                create_instance(
                    session=s,
                    spec=InstanceSpec(
                        workload_id=w.metadata.id, node_id=node["node_id"], replica=r
                    ),
                ).metadata.id
                for r in range(5)
            ]
        buckets = [0] * BUCKETS
        buckets[3] = 40
        buckets[7] = 10
        stats = [
            {"instance_id": i, "workload": "w", "requests": 50, "errors": 1,
             "latency_sum_ms": 900.0, "buckets": buckets}
            for i in ids
        ]  # fmt: skip
        url = f"/api/v1/agent/nodes/{node['node_id']}/heartbeat"
        agent = TestClient(app, headers={"Authorization": f"Bearer {node['credential']}"})
        recorder = app.state.telemetry
        with agent:
            series(agent, url, {}, 50)  # warm up
            app.state.telemetry = NoRecorder()  # the heartbeat path before telemetry existed
            before = series(agent, url, {}, args.beats)
            app.state.telemetry = recorder
            plain = series(agent, url, {}, args.beats)
            with_stats = series(agent, url, {"telemetry": stats}, args.beats)
        runs = (
            ("without recorder", before),
            ("no stats", plain),
            ("5 instances' stats", with_stats),
        )
        for name, values in runs:
            values.sort()
            p99 = values[int(len(values) * 0.99) - 1]
            print(f"{name:20s} median {statistics.median(values):6.2f} ms  p99 {p99:6.2f} ms")


if __name__ == "__main__":
    main()
