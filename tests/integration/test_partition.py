"""A network cut between one agent and the server, through a fault proxy, with real processes.

The cut-off agent keeps running (unlike kill -9 or SIGSTOP): its node goes suspect, then down,
and its replica is replaced elsewhere; a singleton is stopped by the agent's own fence before the
server may start its replacement, so two copies never run at once. After the cut heals, the agent
reconnects and the duplicate is resolved.
"""

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from tests.agent.harness import AgentProcess, Fleet, running_fleet, wait_for
from tests.e2e.conftest import free_port
from tests.integration.test_fault_agents import node_state, running, workload


class FaultProxy:
    """A TCP proxy on 127.0.0.1 in front of ``upstream``. ``cut()`` closes every connection
    and refuses new ones until ``heal()``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            self._close(sock)

    def heal(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self.cut()
        self._listener.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with running_fleet(tmp_path, NODE_SUSPECT_AFTER="1", NODE_DOWN_AFTER="2") as fleet:
        yield fleet


def _sleepers(agent: AgentProcess, marker: str) -> int:
    """How many copies of the workload the agent runs: its descendant processes that run the
    workload's command, counted by session (the process driver starts each instance in a
    session of its own). Counting processes would count one copy several times while a
    launcher forks on its way to the command (pyenv's ``python3`` shim is a bash script that
    forks subshells with the same arguments)."""
    assert agent.process is not None
    try:
        children = psutil.Process(agent.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    sessions = set()
    for child in children:
        try:
            if marker in " ".join(child.cmdline()):
                sessions.add(os.getsid(child.pid))
        except (psutil.Error, ProcessLookupError):
            continue
    return len(sessions)


def test_a_cut_off_agent_is_replaced_and_a_singleton_never_runs_twice(fleet: Fleet) -> None:
    proxy = FaultProxy(fleet.server.port)
    try:
        behind = dataclasses.replace(fleet.server, port=proxy.port, process=None)
        cut_off = AgentProcess(
            behind, fleet.tmp / "edge-a", "edge-a", fleet.join_token(), free_port(),
            fleet.tmp / "edge-a.log",
        )  # fmt: skip
        fleet.agents.append(cut_off)
        other = fleet.agent("edge-b")
        cut_off.start()
        cut_off_id = cut_off.node_id()
        wait_for(lambda: node_state(fleet, cut_off_id) == "ready", what="edge-a ready")
        # Only edge-a is up: the singleton lands there.
        marker = "import time; time.sleep(301)"
        wid = workload(
            fleet,
            "leader",
            singleton=True,
            artifact={"command": ["python3", "-c", marker]},
        )
        (inst,) = wait_for(lambda: running(fleet, wid), 20, "the singleton to run")
        assert inst["spec"]["node_id"] == cut_off_id
        other.start()
        wait_for(lambda: node_state(fleet, other.node_id()) == "ready", what="edge-b ready")

        proxy.cut()
        cut_at = time.monotonic()
        most = 0
        deadline = cut_at + 25
        moved = False
        while time.monotonic() < deadline:
            most = max(most, _sleepers(cut_off, marker) + _sleepers(other, marker))
            if _sleepers(other, marker) == 1 and _sleepers(cut_off, marker) == 0:
                moved = True
                break
            time.sleep(0.05)
        assert moved, f"the singleton did not move to edge-b within 25 s (most at once: {most})"
        assert most <= 1, "two copies of the singleton ran at the same time"
        assert node_state(fleet, cut_off_id) in ("suspect", "down")
        assert cut_off.process is not None and cut_off.process.poll() is None  # still alive

        proxy.heal()
        wait_for(lambda: node_state(fleet, cut_off_id) == "ready", 20, "edge-a back")
        for _ in range(40):  # after healing, still one copy, on edge-b
            assert _sleepers(cut_off, marker) + _sleepers(other, marker) <= 1
            time.sleep(0.05)
        (live,) = wait_for(lambda: running(fleet, wid), 20, "one running replica")
        assert live["spec"]["node_id"] == other.node_id()
        assert fleet.events("NodeRecovered")
    finally:
        proxy.close()
