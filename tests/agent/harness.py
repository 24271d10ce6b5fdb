"""Real agent processes against a real server: start, kill, assign work through the store.

Agents poll for assignments with ``--watch-timeout 1``: a server stopping waits for the watch
requests in flight (uvicorn's graceful shutdown, up to 5 s), even those of agents already gone,
so a 5 s watch cost up to 5 s at every teardown. Changes still arrive at once; only an idle
poll ends sooner.
"""

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import ServerProcess, free_port, running_server, user_env

from edgeorch.schemas.instance import InstanceSpec
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Database,
    create_instance,
    create_workload,
    default_sqlite_url,
    list_events,
    read_instance,
)

WATCH_TIMEOUT = "1"  # seconds; see the module docstring
FACTS = [
    "--region", "eu-central", "--latitude", "50.1", "--longitude", "8.7",
    "--country", "DE", "--edge-type", "mec",
]  # fmt: skip


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.TransportError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@dataclass
class AgentProcess:
    """One ``edgeorch agent`` subprocess."""

    server: ServerProcess
    data_dir: Path
    name: str
    join_token: str | None
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    entry: tuple[str, ...] = ("-m", "edgeorch", "agent")

    @property
    def ingress(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        """Start the agent and wait until its ingress answers."""
        self.spawn(*extra)
        self.wait_ready()

    def spawn(self, *extra: str) -> None:
        """Start the agent without waiting for it (``wait_ready`` waits)."""
        cmd = [
            sys.executable, *self.entry,
            "--server", self.server.url, "--data-dir", str(self.data_dir),
            "--name", self.name, "--listen", f"127.0.0.1:{self.port}",
            "--heartbeat-interval", "0.5", "--watch-timeout", WATCH_TIMEOUT, *FACTS, *extra,
        ]  # fmt: skip
        if self.join_token:
            cmd += ["--join-token", self.join_token]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(cmd, env=self.server.env, stdout=log, stderr=log)

    def wait_ready(self) -> None:
        wait_for(self._ready, 20, f"agent {self.name} ingress")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"agent exited: {self.log.read_text()[-3000:]}")
        return httpx.get(f"{self.ingress}/healthz", timeout=1).status_code == 200

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped()

    def terminate(self) -> None:
        """Ask the agent to stop (SIGTERM); ``wait_stopped`` waits for it."""
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def wait_stopped(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def node_id(self) -> str:
        return str(
            wait_for(lambda: _meta(self.data_dir).get("node_id"), 20, f"{self.name} to join")
        )

    def credential(self) -> str:
        return _meta(self.data_dir)["credential"]


def start_all(*agents: AgentProcess) -> None:
    """Start agents side by side: each spends a second or more importing before it listens."""
    for agent in agents:
        agent.spawn()
    for agent in agents:
        agent.wait_ready()


def stop_all(agents: list[AgentProcess]) -> None:
    """Stop agents side by side (each stops its workloads first)."""
    for agent in agents:
        agent.terminate()
    for agent in agents:
        agent.wait_stopped()


def _meta(data_dir: Path) -> dict[str, str]:
    import sqlite3

    path = data_dir / "agent.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        try:
            return dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError:
            return {}


class Fleet:
    """The server, its store opened from the test process, and agents."""

    def __init__(self, server: ServerProcess, tmp: Path) -> None:
        self.server = server
        self.tmp = tmp
        self.db = Database(default_sqlite_url(server.data_dir))
        self.agents: list[AgentProcess] = []
        self.api = httpx.Client(
            base_url=server.url + "/api/v1",
            headers={"authorization": f"Bearer {server.admin_token}"},
            timeout=10,
        )

    def join_token(self, ttl: float = 600) -> str:
        body = {"role": "join", "ttl_seconds": ttl}
        answer = self.api.post("/tokens", json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["secret"])

    def agent(self, name: str) -> AgentProcess:
        agent = AgentProcess(
            self.server, self.tmp / name, name, self.join_token(), free_port(),
            self.tmp / f"{name}.log",
        )  # fmt: skip
        self.agents.append(agent)
        return agent

    def upload(self, data: bytes) -> str:
        answer = self.api.post("/artifacts", content=bytes(data))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["digest"])

    def assign(self, node_id: str, name: str, spec: dict[str, Any]) -> str:
        """Create a workload and one instance bound to ``node_id``; returns the instance id."""
        workload = WorkloadCreate.model_validate({"metadata": {"name": name}, "spec": spec})
        with self.db.write() as session:
            created = create_workload(session=session, workload=workload)
            instance = create_instance(
                session=session,
                spec=InstanceSpec(workload_id=created.metadata.id, node_id=node_id, replica=0),
            )
        return instance.metadata.id

    def instance(self, instance_id: str) -> Any:
        with self.db.session() as session:
            return read_instance(session=session, ref=instance_id)

    def events(self, reason: str) -> list[Any]:
        with self.db.session() as session:
            page = list_events(session=session, limit=1000)
        return [e for e in page.items if e.reason == reason]

    def stop_agents(self) -> None:
        """Stop every agent started so far; the fleet can start new ones."""
        stop_all(self.agents)
        self.agents.clear()

    def close(self) -> None:
        self.stop_agents()
        self.api.close()
        self.db.engine.dispose()


def server_env(tmp: Path, **settings: str) -> dict[str, str]:
    """This user's environment without EDGEORCH_ settings, plus ``settings`` (``EDGEORCH_``
    added to each name) and a client config of its own in ``tmp``."""
    return user_env(tmp) | {f"EDGEORCH_{name}": value for name, value in settings.items()}


@contextlib.contextmanager
def running_fleet(tmp: Path, **settings: str) -> Iterator[Fleet]:
    """A server with ``settings`` (see ``server_env``) and no agents yet; everything started
    is stopped on exit."""
    with running_server(tmp, server_env(tmp, **settings), "server") as server:
        fleet = Fleet(server, tmp)
        try:
            yield fleet
        finally:
            fleet.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """A fleet of this test's own: a new server and store."""
    with running_fleet(tmp_path) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def module_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One server for the tests of a module that do not need a store of their own."""
    with running_fleet(tmp_path_factory.mktemp("fleet")) as fleet:
        yield fleet


@pytest.fixture
def shared_fleet(module_fleet: Fleet) -> Iterator[Fleet]:
    """The module's server; the agents a test starts are stopped after it."""
    yield module_fleet
    module_fleet.stop_agents()
