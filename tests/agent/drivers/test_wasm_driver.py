"""The wasm driver against real wasmtime: ABI, limits, faults, caching and snapshots."""

import hashlib
from pathlib import Path

import pytest
from tests.agent.drivers.wasm_modules import (
    BIG_MEMORY_WAT,
    COUNTER_WAT,
    ECHO_WAT,
    HOG_WAT,
    LOOP_WAT,
    wasm_of,
    wasm_task,
)

from edgeorch.agent.drivers import (
    ArtifactDigestMismatch,
    ArtifactInvalid,
    ResourceLimitExceeded,
    SnapshotInvalid,
    TaskSpec,
    TaskState,
)
from edgeorch.agent.drivers.wasm import WasmDriver
from edgeorch.agent.drivers.wasm_abi import encode_request
from edgeorch.agent.drivers.wasm_engine import WasmEngine


def test_handler_answers_a_request(data_dir: Path) -> None:
    driver = WasmDriver(data_dir)
    driver.start(wasm_task("echo", ECHO_WAT))
    status, headers, body = driver.handle_http("echo", "post", "/hi", {"X-A": "1"}, b"payload")
    assert status == 200
    assert headers == {"content-type": "text/plain"}
    assert body == encode_request("POST", "/hi", {"x-a": "1"}, b"payload")
    assert body == b"POST /hi\nx-a: 1\n\npayload"
    assert driver.status("echo").state is TaskState.RUNNING


def test_counter_snapshot_restores_into_a_fresh_instance(data_dir: Path) -> None:
    source = WasmDriver(data_dir / "a")
    source.start(wasm_task("counter", COUNTER_WAT))
    bodies = [source.handle_http("counter", "GET", "/", {}, b"")[2] for _ in range(3)]
    assert bodies == [b"1", b"2", b"3"]
    snap = source.snapshot("counter")
    source.stop("counter")

    target = WasmDriver(data_dir / "b")  # another node's driver: nothing shared but the bytes
    target.restore(wasm_task("counter-moved", COUNTER_WAT), snap)
    assert target.handle_http("counter-moved", "GET", "/", {}, b"")[2] == b"4"
    assert target.handle_http("counter-moved", "GET", "/", {}, b"")[2] == b"5"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:-1], "checksum"),
        (lambda b: b"XXXXXXXX" + b[8:], "bad magic"),
        (lambda b: b[:10], "too short"),
    ],
)
def test_corrupt_snapshot_is_refused(data_dir: Path, mutate: object, message: str) -> None:
    driver = WasmDriver(data_dir)
    driver.start(wasm_task("c", COUNTER_WAT))
    snap = driver.snapshot("c")
    with pytest.raises(SnapshotInvalid, match=message):
        driver.restore(wasm_task("c2", COUNTER_WAT), mutate(snap))  # type: ignore[operator]


def test_snapshot_of_another_module_is_refused(data_dir: Path) -> None:
    driver = WasmDriver(data_dir)
    driver.start(wasm_task("c", COUNTER_WAT))
    snap = driver.snapshot("c")
    with pytest.raises(SnapshotInvalid, match="snapshot was taken of module sha256:"):
        driver.restore(wasm_task("e", ECHO_WAT), snap)


def test_fuel_exhaustion_answers_504_and_the_next_request_works(data_dir: Path) -> None:
    driver = WasmDriver(data_dir, fuel_per_request=2_000_000, request_timeout=30)
    driver.start(wasm_task("loop", LOOP_WAT))
    status, headers, _ = driver.handle_http("loop", "GET", "/loop", {}, b"")
    assert status == 504
    assert "exceeded its CPU budget of 2000000 fuel units" in headers["x-edgeorch-reason"]
    assert driver.handle_http("loop", "GET", "/ok", {}, b"") == (200, {}, b"ok")
    state = driver.status("loop")
    assert state.state is TaskState.RUNNING
    assert state.restarts == 1 and "CPU budget" in state.reason


def test_wall_clock_deadline_answers_504(data_dir: Path) -> None:
    driver = WasmDriver(data_dir, fuel_per_request=10**15)
    driver.start(wasm_task("slow", LOOP_WAT, request_timeout=0.05))
    status, _, body = driver.handle_http("slow", "GET", "/loop", {}, b"")
    assert status == 504
    assert b"exceeded its request deadline of 50 ms" in body
    assert driver.handle_http("slow", "GET", "/ok", {}, b"")[0] == 200


def test_memory_grow_past_the_limit_is_a_clear_failure(data_dir: Path) -> None:
    driver = WasmDriver(data_dir)
    driver.start(wasm_task("hog", HOG_WAT, memory_mb=2))
    status, _, body = driver.handle_http("hog", "GET", "/", {}, b"")
    assert status == 500
    assert body.startswith(b"exceeded its memory limit of 2 MB")
    assert "exceeded its memory limit of 2 MB" in driver.status("hog").reason


def test_request_larger_than_memory_limit_is_refused_by_alloc(data_dir: Path) -> None:
    driver = WasmDriver(data_dir)
    driver.start(wasm_task("echo", ECHO_WAT, memory_mb=1))
    status, _, body = driver.handle_http("echo", "PUT", "/", {}, bytes(2 * 1024 * 1024))
    assert status == 503
    assert b"exceeded its memory limit of 1 MB: alloc(" in body
    assert driver.handle_http("echo", "GET", "/", {}, b"x")[0] == 200


def test_initial_memory_over_the_limit_fails_the_task(data_dir: Path) -> None:
    driver = WasmDriver(data_dir)
    with pytest.raises(ResourceLimitExceeded, match="exceeded its memory limit of 4 MB"):
        driver.start(wasm_task("big", BIG_MEMORY_WAT, memory_mb=4))
    status = driver.status("big")
    assert status.state is TaskState.FAILED
    assert "exceeded its memory limit of 4 MB" in status.reason


def test_digest_mismatch_is_refused_and_other_tasks_keep_running(data_dir: Path) -> None:
    driver = WasmDriver(data_dir)
    driver.start(wasm_task("good", COUNTER_WAT))
    wasm, _ = wasm_of(ECHO_WAT)
    bad = TaskSpec("bad", "wasm", wasm_module=wasm, digest="sha256:" + "0" * 64)
    with pytest.raises(ArtifactDigestMismatch, match="but the workload declares sha256:000"):
        driver.start(bad)
    assert driver.status("bad").state is TaskState.FAILED
    assert "module bytes hash to sha256:" in driver.status("bad").reason
    assert driver.handle_http("good", "GET", "/", {}, b"")[0] == 200


@pytest.mark.parametrize(
    ("wasm", "message"),
    [
        (b"\x00asm\x01\x00\x00\x00\xff", "not valid WebAssembly"),
        (b"hello", "not valid WebAssembly"),
        (bytes(wasm_of('(module (memory (export "memory") 1))')[0]), "must export 'alloc'"),
        (bytes(wasm_of("(module)")[0]), "does not export its linear memory"),
    ],
)
def test_invalid_module_is_refused(data_dir: Path, wasm: bytes, message: str) -> None:
    driver = WasmDriver(data_dir)
    digest = "sha256:" + hashlib.sha256(wasm).hexdigest()
    with pytest.raises(ArtifactInvalid, match=message):
        driver.start(TaskSpec("bad", "wasm", wasm_module=wasm, digest=digest))
    assert driver.status("bad").state is TaskState.FAILED
    assert message in driver.status("bad").reason


def test_compiled_module_is_cached_on_disk_and_recover_uses_it(data_dir: Path) -> None:
    first = WasmDriver(data_dir)
    handle = first.start(wasm_task("c", COUNTER_WAT))
    digest = handle.data["digest"].removeprefix("sha256:")
    assert (data_dir / "modules" / f"{digest}.cwasm").exists()
    assert (data_dir / "modules" / f"{digest}.wasm").exists()

    # An agent restart: a new engine (empty in-process cache), no bytes, only the handle.
    restarted = WasmDriver(data_dir, engine=WasmEngine())
    assert restarted.recover(handle)
    assert restarted.handle_http("c", "GET", "/", {}, b"")[2] == b"1"
    assert not WasmDriver(data_dir / "elsewhere", engine=WasmEngine()).recover(handle)


def test_stop_is_idempotent_and_requests_after_stop_answer_503(data_dir: Path) -> None:
    driver = WasmDriver(data_dir)
    driver.start(wasm_task("e", ECHO_WAT))
    driver.stop("e")
    driver.stop("e")
    driver.stop("never-started")
    assert driver.status("e").state is TaskState.EXITED
    assert driver.handle_http("e", "GET", "/", {}, b"")[0] == 503
    assert driver.handle_http("nope", "GET", "/", {}, b"")[0] == 503
