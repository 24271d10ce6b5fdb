"""Real agent processes against a real server: start, kill, assign work through the store."""

import os
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
from tests.e2e.conftest import ServerProcess, free_port

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
        cmd = [
            sys.executable, *self.entry,
            "--server", self.server.url, "--data-dir", str(self.data_dir),
            "--name", self.name, "--listen", f"127.0.0.1:{self.port}",
            "--heartbeat-interval", "0.5", "--watch-timeout", "5", *FACTS, *extra,
        ]  # fmt: skip
        if self.join_token:
            cmd += ["--join-token", self.join_token]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(cmd, env=self.server.env, stdout=log, stderr=log)
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
        if self.process and self.process.poll() is None:
            self.process.terminate()
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

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        self.api.close()
        self.db.engine.dispose()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env["EDGEORCH_CONFIG"] = str(tmp_path / "client.yaml")
    server = ServerProcess(
        data_dir=tmp_path / "server", port=free_port(), env=env, log=tmp_path / "server.log"
    )
    server.start()
    fleet = Fleet(server, tmp_path)
    yield fleet
    fleet.close()
    server.stop()
