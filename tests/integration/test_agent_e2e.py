"""The agent end to end: real agent processes, a real server, workloads through the ingress.

The tests share one server (each with an agent and workloads of its own); the agents a test
starts are stopped after it."""

import sys

import httpx
import pytest
import wasmtime
from tests.agent.drivers.wasm_modules import COUNTER_WAT
from tests.agent.harness import Fleet, module_fleet, shared_fleet, wait_for
from tests.e2e.conftest import free_port

__all__ = ["module_fleet", "shared_fleet"]


@pytest.fixture
def fleet(shared_fleet: Fleet) -> Fleet:
    return shared_fleet


def _wasm_spec(digest: str) -> dict[str, object]:
    return {"runtime": "wasm", "artifact": {"digest": digest}, "replicas": 1}


def _process_spec(port: int) -> dict[str, object]:
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return {
        "runtime": "process",
        "artifact": {"command": command, "port": port},
        "resources": {"cpu": 0.5, "memory_mb": 512},
        "replicas": 1,
    }


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5)


def test_wasm_and_process_workloads_answer_through_the_ingress(fleet: Fleet) -> None:
    agent = fleet.agent("edge-a")
    agent.start()
    node_id = agent.node_id()
    digest = fleet.upload(wasmtime.wat2wasm(COUNTER_WAT))
    wasm_id = fleet.assign(node_id, "counter", _wasm_spec(digest))
    proc_id = fleet.assign(node_id, "files", _process_spec(free_port()))

    counted = wait_for(lambda: _get(f"{agent.ingress}/w/counter/").status_code == 200)
    assert counted
    assert _get(f"{agent.ingress}/w/counter/x").text == "2"
    wait_for(lambda: _get(f"{agent.ingress}/w/files/").status_code == 200, what="http.server")
    assert "Directory listing" in _get(f"{agent.ingress}/w/files/").text

    wasm = wait_for(lambda: (i := fleet.instance(wasm_id)).status.state == "running" and i)
    assert wasm.status.endpoint == f"{agent.ingress}/w/counter/"
    proc = wait_for(lambda: (i := fleet.instance(proc_id)).status.state == "running" and i)
    assert proc.status.endpoint == f"{agent.ingress}/w/files/"


def test_bad_workloads_fail_with_reasons_and_the_rest_keeps_running(fleet: Fleet) -> None:
    agent = fleet.agent("edge-e")
    agent.start()
    node_id = agent.node_id()
    good = fleet.upload(wasmtime.wat2wasm(COUNTER_WAT))
    fleet.assign(node_id, "good", _wasm_spec(good))
    hog = "x = bytearray(400 * 1024 * 1024)"
    cases = {
        "not-wasm": (_wasm_spec(fleet.upload(b"\x00asm garbage")), "not valid WebAssembly"),
        "not-uploaded": (_wasm_spec("sha256:" + "ab" * 32), "no artifact"),
        "no-command": (
            {"runtime": "process", "artifact": {"command": ["definitely-not-a-command"]}},
            "was not found on PATH",
        ),
        "hog": (
            {
                "runtime": "process",
                "artifact": {"command": [sys.executable, "-c", hog]},
                "resources": {"memory_mb": 64},
            },
            "memory limit of 64 MB",
        ),
    }
    ids = {name: fleet.assign(node_id, name, spec) for name, (spec, _) in cases.items()}
    for name, (_, reason) in cases.items():
        failed = wait_for(
            lambda i=ids[name]: (x := fleet.instance(i)).status.state == "failed" and x,
            20,
            f"{name} to fail",
        )
        assert reason in failed.status.message, (name, failed.status.message)
    events = {e.involved_object.id for e in fleet.events("InstanceFailed")}
    assert set(ids.values()) <= events
    assert httpx.get(f"{agent.ingress}/w/good/", timeout=5).status_code == 200
    assert agent.process is not None and agent.process.poll() is None
