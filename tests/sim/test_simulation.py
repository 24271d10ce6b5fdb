"""Simulated agents against a real server process: join, report, faults, resume."""

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
from tests.agent.harness import Fleet, fleet, wait_for

from edgeorch.sim.faults import parse_fault
from edgeorch.sim.fleet import generate_fleet
from edgeorch.sim.runner import SimConfig, Simulation, Summary

__all__ = ["fleet"]
REGIONS = ["us-west", "us-east", "eu-west"]


def _config(fleet: Fleet, count: int, **extra: object) -> SimConfig:
    nodes = generate_fleet(count, REGIONS, seed=5)
    base = {
        "admin_token": fleet.server.admin_token,
        "heartbeat_interval": 0.3,
        "watch_timeout": 0.5,
        "duration": 2.0,
    }
    return SimConfig(server=fleet.server.url, nodes=nodes, **(base | extra))  # type: ignore[arg-type]


def _nodes(fleet: Fleet) -> dict[str, dict[str, object]]:
    items = fleet.api.get("/edge/nodes", params={"limit": 1000}).json()["items"]
    return {n["metadata"]["name"]: n for n in items}


def test_nodes_join_heartbeat_and_run_assigned_instances(fleet: Fleet, tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    config = _config(fleet, 6, duration=None, state_file=tmp_path / "creds.json")
    sim = Simulation(config, events=lambda k, m: events.append((k, m)))

    async def scenario() -> Summary:
        stop = asyncio.Event()
        task = asyncio.create_task(sim.run(stop))
        await asyncio.to_thread(
            wait_for,
            lambda: len(sim.agents) == 6 and all(a.credential for a in sim.agents.values()),
            20,
            "joins",
        )
        target = sim.agents[config.nodes[0].name]
        assert target.credential is not None
        spec = {"runtime": "wasm", "artifact": {"digest": "sha256:" + "ab" * 32},
                "resources": {"cpu": 4, "memory_mb": 32768}}  # fmt: skip
        instance_id = await asyncio.to_thread(
            fleet.assign, target.credential.node_id, "analytics", spec
        )
        running = await asyncio.to_thread(
            wait_for, lambda: (i := fleet.instance(instance_id)).status.state == "running" and i,
            20, "the simulated instance to run",
        )  # fmt: skip
        assert running.status.endpoint == f"{target.ingress}/w/analytics/"
        assert target.utilization().memory >= 0.5  # 32 GB of a 64 GB (or smaller) machine
        stop.set()
        return await task

    summary = asyncio.run(scenario())
    assert summary.joined == 6 and summary.join_failures == 0
    assert summary.instances_started == 1 and summary.heartbeats > 0
    nodes = _nodes(fleet)
    assert len(nodes) == 6 and all(n["status"]["state"] == "ready" for n in nodes.values())
    mec = [n for n in nodes.values() if n["spec"]["edge_type"] == "mec"]
    assert mec and all(n["spec"]["network_slices"] == ["urllc", "embb"] for n in mec)

    # Resume: the stored credentials are used, nobody joins again, no node is added.
    again = asyncio.run(Simulation(_config(fleet, 6, state_file=tmp_path / "creds.json")).run())
    assert again.joined == 0 and again.heartbeats > 0 and again.heartbeat_failures == 0
    assert sorted(_nodes(fleet)) == sorted(nodes)


def test_faults_are_reported_and_counted(fleet: Fleet) -> None:
    events: list[tuple[str, str]] = []
    faults = [parse_fault(f) for f in ("kill:25%@0.5s", "partition:eu-west@0.5s+0.5s")]
    config = _config(fleet, 8, faults=faults, duration=2.5)
    summary = asyncio.run(Simulation(config, events=lambda k, m: events.append((k, m))).run())
    kinds = [k for k, _ in events]
    assert "kill" in kinds and "partition" in kinds and "partition-end" in kinds
    assert summary.faults["kill"] == 2
    assert summary.faults["partition"] >= 1


def test_join_tokens_only_mode_needs_one_token_per_node(fleet: Fleet) -> None:
    tokens = [fleet.join_token() for _ in range(3)]
    config = _config(fleet, 3, admin_token=None, join_tokens=tokens, duration=1.0)
    summary = asyncio.run(Simulation(config).run())
    assert summary.joined == 3
    assert len(_nodes(fleet)) == 3


def test_cli_rejects_unknown_region_and_bad_fault() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "edgeorch", "simulate", "--server", "http://127.0.0.1:9"]
        return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60)

    bad_region = run("--regions", "us-west,atlantis")
    assert bad_region.returncode == 2 and "known regions" in bad_region.stderr + bad_region.stdout
    bad_fault = run("--fault", "kill:10")
    assert bad_fault.returncode == 2 and "kill:SHARE@T" in bad_fault.stderr + bad_fault.stdout


def test_cli_simulates_against_a_server(fleet: Fleet) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edgeorch", "simulate", "--server", fleet.server.url,
         "--token", fleet.server.admin_token, "--nodes", "4", "--duration", "2",
         "--heartbeat-interval", "0.5", "--watch-timeout", "0.5", "--fault", "kill:1@1s"],
        capture_output=True, text=True, timeout=60, env=fleet.server.env | {"COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "simulation summary" in result.stdout and "kill 1" in result.stdout
    assert httpx.get(f"{fleet.server.url}/readyz").status_code == 200
