"""Edge autonomy: workloads outlive the control plane and the agent, and converge on reconnect."""

import sys

import httpx
import wasmtime
from tests.agent.drivers.wasm_modules import COUNTER_WAT
from tests.agent.harness import Fleet, fleet, wait_for
from tests.e2e.conftest import free_port

from edgeorch.store import delete_workload

__all__ = ["fleet"]


def _ok(url: str) -> bool:
    return httpx.get(url, timeout=5).status_code == 200


def test_killed_agent_restarts_workloads_while_server_is_down_then_converges(
    fleet: Fleet,
) -> None:
    agent = fleet.agent("edge-b")
    agent.start()
    node_id = agent.node_id()
    digest = fleet.upload(wasmtime.wat2wasm(COUNTER_WAT))
    fleet.assign(node_id, "counter", {"runtime": "wasm", "artifact": {"digest": digest}})
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    fleet.assign(
        node_id,
        "files",
        {
            "runtime": "process",
            "artifact": {"command": command, "port": port},
            "resources": {"memory_mb": 512},
        },
    )
    wait_for(lambda: _ok(f"{agent.ingress}/w/counter/") and _ok(f"{agent.ingress}/w/files/"))

    fleet.server.kill()
    agent.kill()  # -9: no cleanup at all
    agent.join_token = None  # a restart must use the stored credential, never the join token
    agent.start()
    wait_for(lambda: _ok(f"{agent.ingress}/w/counter/"), what="wasm after restart")
    assert httpx.get(f"{agent.ingress}/w/counter/", timeout=5).text == "2"  # fresh instance
    wait_for(lambda: _ok(f"{agent.ingress}/w/files/"), what="process after restart")

    # Unassigned while the control plane is down. The workload goes too: with only the
    # instance deleted, the server's reconciler would rightly place a new replica here.
    with fleet.db.write() as session:
        delete_workload(session=session, ref="counter")
    fleet.server.start()
    wait_for(
        lambda: httpx.get(f"{agent.ingress}/w/counter/", timeout=5).status_code == 503,
        20,
        "the unassigned wasm instance to stop",
    )
    assert _ok(f"{agent.ingress}/w/files/")
