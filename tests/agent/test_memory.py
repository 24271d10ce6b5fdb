"""The idle agent's memory: under 60 MB RSS however it is started (issue 4, docs/benchmarks.md).

A real server and real agent processes; RSS is read with psutil once the agent has joined and
idled through a few heartbeats and watch polls. The limit has about 3.5 MB of room (56.5 MB
measured on 2026-11-22): a module that creeps back into the agent's start-up fails here, and the
mapped-library checks name the usual suspects.
"""

import sys
import time
from pathlib import Path

import psutil
import pytest
from tests.agent.harness import AgentProcess, Fleet, fleet

__all__ = ["fleet"]

LIMIT_MB = 60.0
# Native libraries an idle agent must not have loaded: wasmtime comes with the first wasm task;
# NumPy with the first migration; SQLAlchemy is the control plane's.
NOT_AT_IDLE = ("_libwasmtime", "_multiarray_umath", "sqlalchemy")

ENTRIES = {
    "python -m edgeorch.agent": ("-m", "edgeorch.agent"),
    "edgeorch agent (console script)": (str(Path(sys.executable).with_name("edgeorch")), "agent"),
    "python -m edgeorch agent": ("-m", "edgeorch", "agent"),
}


def _idle(agent: AgentProcess) -> psutil.Process:
    agent.start()
    agent.node_id()
    time.sleep(3)  # heartbeats every 0.5 s and a watch poll: joined and idle
    assert agent.process is not None and agent.process.poll() is None
    return psutil.Process(agent.process.pid)


@pytest.mark.slow
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_idle_agent_stays_under_60_mb(fleet: Fleet, entry: str) -> None:
    agent = fleet.agent("idle")
    agent.entry = ENTRIES[entry]
    process = _idle(agent)
    rss_mb = process.memory_info().rss / 1e6
    loaded = {m.path for m in process.memory_maps()}
    unexpected = sorted(p for p in loaded for name in NOT_AT_IDLE if name in p)
    assert not unexpected, f"the idle agent ({entry}, {rss_mb:.1f} MB RSS) loaded {unexpected}"
    assert rss_mb < LIMIT_MB, f"the idle agent ({entry}) uses {rss_mb:.1f} MB RSS (< {LIMIT_MB})"
