"""The idle agent's memory: under 60 MB RSS however it is started (issue 4, docs/benchmarks.md).

A real server and one real agent process per way of starting it, started side by side for the
module; RSS is read with psutil once the agents have joined and idled through a few heartbeats
and watch polls. The limit has about 3.5 MB of room (56.5 MB measured on 2026-11-22): a module
that creeps back into the agent's start-up fails here, and the mapped-library checks name the
usual suspects.
"""

import sys
import time
from pathlib import Path

import psutil
import pytest
from tests.agent.harness import AgentProcess, Fleet, module_fleet, start_all

__all__ = ["module_fleet"]

LIMIT_MB = 60.0
# Native libraries an idle agent must not have loaded: wasmtime comes with the first wasm task;
# NumPy with the first migration; SQLAlchemy is the control plane's.
NOT_AT_IDLE = ("_libwasmtime", "_multiarray_umath", "sqlalchemy")

ENTRIES = {
    "python -m edgeorch.agent": ("-m", "edgeorch.agent"),
    "edgeorch agent (console script)": (str(Path(sys.executable).with_name("edgeorch")), "agent"),
    "python -m edgeorch agent": ("-m", "edgeorch", "agent"),
}


@pytest.fixture(scope="module")
def idle(module_fleet: Fleet) -> dict[str, AgentProcess]:
    """An agent per entry in ENTRIES, joined and idle."""
    agents = {}
    for number, (entry, argv) in enumerate(ENTRIES.items()):
        agents[entry] = module_fleet.agent(f"idle-{number}")
        agents[entry].entry = argv
    start_all(*agents.values())
    for agent in agents.values():
        agent.node_id()
    time.sleep(3)  # heartbeats every 0.5 s and watch polls every 1 s: joined and idle
    return agents


@pytest.mark.slow
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_idle_agent_stays_under_60_mb(idle: dict[str, AgentProcess], entry: str) -> None:
    agent = idle[entry]
    assert agent.process is not None and agent.process.poll() is None
    process = psutil.Process(agent.process.pid)
    rss_mb = process.memory_info().rss / 1e6
    loaded = {m.path for m in process.memory_maps()}
    unexpected = sorted(p for p in loaded for name in NOT_AT_IDLE if name in p)
    assert not unexpected, f"the idle agent ({entry}, {rss_mb:.1f} MB RSS) loaded {unexpected}"
    assert rss_mb < LIMIT_MB, f"the idle agent ({entry}) uses {rss_mb:.1f} MB RSS (< {LIMIT_MB})"
