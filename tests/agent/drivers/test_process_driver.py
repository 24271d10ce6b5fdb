"""The process driver with real processes: serving, stopping, limits, restarts and recovery."""

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgeorch.agent.drivers import (
    CommandNotFound,
    RestartPolicy,
    SnapshotUnsupported,
    TaskSpec,
    TaskState,
    TaskStatus,
)
from edgeorch.agent.drivers.limits import CGROUP_V1, RLIMIT, Limiter
from edgeorch.agent.drivers.process import ProcessDriver

CGROUP_WORKS = Limiter.detect().mechanism == CGROUP_V1
LIMIT_MODES = [
    pytest.param("auto", marks=pytest.mark.skipif(not CGROUP_WORKS, reason="no writable cgroup")),
    "rlimit",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(driver: ProcessDriver, task_id: str, *states: TaskState) -> TaskStatus:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = driver.status(task_id)
        if status.state in states:
            return status
        time.sleep(0.02)
    raise AssertionError(f"{task_id} never reached {states}: {driver.status(task_id)}")


def python(task_id: str, code: str, **extra: object) -> TaskSpec:
    return TaskSpec(task_id, "process", command=(sys.executable, "-c", code), **extra)  # type: ignore[arg-type]


@pytest.fixture
def driver(data_dir: Path) -> Iterator[ProcessDriver]:
    d = ProcessDriver(data_dir)
    yield d
    for task_id in list(d._tasks):
        d.stop(task_id, timeout=1)


def test_http_server_task_serves_and_stops_idempotently(driver: ProcessDriver) -> None:
    port = free_port()
    task = TaskSpec(
        "web",
        "process",
        command=(sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"),
        port=port,
        memory_mb=128,
        cpu=0.5,
    )
    handle = driver.start(task)
    assert handle.data["pid"] == driver.status("web").pid
    deadline = time.monotonic() + 10
    while True:
        try:
            assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    driver.stop("web", timeout=2)
    driver.stop("web", timeout=2)
    status = driver.status("web")
    assert status.state is TaskState.EXITED and status.reason == "stopped by the agent"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
    assert any('"GET / HTTP/1.1" 200' in line for line in driver.logs("web"))


def test_stop_kills_a_group_that_ignores_sigterm(driver: ProcessDriver) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    driver.start(python("stubborn", code))
    time.sleep(0.3)  # let it install the handler
    started = time.monotonic()
    driver.stop("stubborn", timeout=0.3)
    assert time.monotonic() - started < 5
    assert driver.status("stubborn").exit_code == -9


def test_missing_command_fails_with_a_clear_reason(driver: ProcessDriver) -> None:
    with pytest.raises(CommandNotFound, match="'no-such-binary' was not found on PATH"):
        driver.start(TaskSpec("missing", "process", command=("no-such-binary", "--x")))
    status = driver.status("missing")
    assert status.state is TaskState.FAILED
    assert "command 'no-such-binary' was not found" in status.reason


@pytest.mark.parametrize("limits", LIMIT_MODES)
def test_memory_hog_is_reported_as_exceeding_its_limit(data_dir: Path, limits: str) -> None:
    driver = ProcessDriver(data_dir, limits=limits)
    assert driver.fingerprint().details["limits"] == (CGROUP_V1 if limits == "auto" else RLIMIT)
    driver.start(
        python("hog", "b = bytearray(400 << 20); b[::4096] = b'x' * len(b[::4096])", memory_mb=64)
    )
    driver.start(python("calm", "import time; time.sleep(30)", memory_mb=64))
    status = wait_for(driver, "hog", TaskState.FAILED)
    assert status.reason.startswith("exceeded its memory limit of 64 MB")
    assert status.limits == driver.limits
    assert driver.status("calm").state is TaskState.RUNNING  # other tasks are unaffected
    driver.stop("calm", timeout=1)


def test_on_failure_restarts_with_backoff_then_gives_up(driver: ProcessDriver) -> None:
    policy = RestartPolicy("on-failure", max_restarts=2, backoff_seconds=0.05)
    driver.start(python("flaky", "print('boom'); raise SystemExit(3)", restart=policy))
    time.sleep(0.5)
    status = wait_for(driver, "flaky", TaskState.FAILED)
    assert (status.exit_code, status.restarts, status.reason) == (3, 2, "exited with code 3")
    assert driver.logs("flaky").count("stdout: boom") == 3


def test_recover_reattaches_after_agent_restart(data_dir: Path) -> None:
    first = ProcessDriver(data_dir)
    handle = first.start(python("long", "import time; print('up', flush=True); time.sleep(60)"))
    saved = handle.to_dict()  # what the agent persists

    second = ProcessDriver(data_dir)  # the restarted agent
    assert second.recover(type(handle).from_dict(saved))
    status = second.status("long")
    assert status.state is TaskState.RUNNING and status.pid == handle.data["pid"]
    second.stop("long", timeout=2)
    assert second.status("long").state is TaskState.EXITED
    assert not ProcessDriver(data_dir).recover(handle)  # the pid is gone now


def test_recover_refuses_a_reused_pid(data_dir: Path) -> None:
    driver = ProcessDriver(data_dir)
    handle = driver.start(python("p", "import time; time.sleep(60)"))
    forged = type(handle)(handle.task_id, "process", {**handle.data, "create_time": 1.0})
    (data_dir / "tasks" / "p" / "handle.json").unlink()
    assert not ProcessDriver(data_dir).recover(forged)
    driver.stop("p", timeout=1)


def test_process_snapshots_are_unsupported(driver: ProcessDriver) -> None:
    with pytest.raises(SnapshotUnsupported, match="CRIU"):
        driver.snapshot("any")
