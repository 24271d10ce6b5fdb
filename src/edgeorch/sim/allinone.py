"""``edgeorch up``: the control plane, a simulated fleet, one real agent and the sample apps.

Layout of the data directory::

    <data-dir>/              the server's (SQLite store, admin-token, artifacts)
    <data-dir>/agent/        the real agent's local state (its node credential lives here)
    <data-dir>/agent.log     the real agent's log
    <data-dir>/sim/          the simulated nodes' credentials (credentials.json)
    <data-dir>/www/          what the content-delivery sample serves

The server runs in a thread of this process, the simulated fleet on an event loop in another
thread, the real agent as a child ``python -m edgeorch.agent`` process. SIGINT/SIGTERM stop them
in reverse order: fleet, agent (SIGTERM, then SIGKILL after a grace period), server. Running
``up`` again over the same data directory resumes: the agent and the simulated nodes reuse their
stored credentials (no new nodes), and applying the sample manifests again changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
import yaml
from rich.console import Console
from rich.panel import Panel

from edgeorch.agent.localstate import LocalState
from edgeorch.api import create_app
from edgeorch.cli.serve import ApiServer, Prepared, share_the_gil
from edgeorch.config import HTTP_IDLE_SECONDS, tune_garbage_collector
from edgeorch.controllers import ControllerSettings, controllers_enabled
from edgeorch.sim.apps import analytics_wasm
from edgeorch.sim.fleet import generate_fleet
from edgeorch.sim.runner import SimConfig, Simulation, new_event_loop

REGIONS = ("us-west", "us-east", "eu-west")
AGENT_NAME = "local-agent"
# Where the real agent says it is: up runs on a laptop whose location we do not know, so it
# registers in its own region "local" (the brochure's us-west coordinates stand in).
AGENT_FACTS = {
    "--region": "local",
    "--latitude": "37.7749",
    "--longitude": "-122.4194",
    "--country": "US",
    "--edge-type": "onprem",
}
AGENT_STOP_SECONDS = 15.0
READY_TIMEOUT = 90.0
INDEX_HTML = "<!doctype html><title>edgeorch content-delivery</title><h1>Served at the edge</h1>\n"


class UpError(Exception):
    """A part of ``up`` did not come up; the message says which and where its log is."""


@dataclass(frozen=True)
class UpOptions:
    """What ``edgeorch up`` was asked for."""

    nodes: int = 12
    seed: int = 0
    heartbeat_interval: float = 2.0


def sample_manifests(digest: str, www: Path) -> list[dict[str, Any]]:
    """The brochure's two application templates, plus one copy of each pinned to the real agent
    (region ``local``) so that real Wasm and a real process run on this machine."""
    cdn_cmd = [sys.executable, "-m", "edgeorch.sim.apps.cdn", "--directory", str(www)]
    analytics = {
        "runtime": "wasm",
        "artifact": {"digest": digest},
        "resources": {"cpu": 0.25, "memory_mb": 64},
        "health_check": {"http_path": "/"},
    }
    cdn = {
        "runtime": "process",
        "artifact": {"command": cdn_cmd},
        "resources": {"cpu": 0.5, "memory_mb": 256, "storage_gb": 1},
        "health_check": {"http_path": "/"},
    }

    def workload(name: str, spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
        labels = {"app.edgeorch.io/template": name.removeprefix("local-")}
        return {
            "apiVersion": "edgeorch.io/v1",
            "kind": "Workload",
            "metadata": {"name": name, "labels": labels},
            "spec": {**spec, **extra},
        }

    local = {"placement": {"regions": ["local"]}, "replicas": 1}
    return [
        workload(
            "real-time-analytics",
            analytics,
            scaling={"min": 1, "max": 10, "target_cpu_utilization": 70},
        ),
        workload("content-delivery", cdn, replicas=3),
        workload("local-real-time-analytics", analytics, **local),
        workload("local-content-delivery", cdn, **local),
    ]


class AllInOne:
    """Start, watch and stop everything ``up`` runs; see the module docstring."""

    def __init__(self, prepared: Prepared, options: UpOptions, console: Console) -> None:
        self.prepared = prepared
        self.options = options
        self.console = console
        self.data_dir = prepared.settings.data_dir
        self.url = prepared.url
        self.stop = threading.Event()
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self._fleet_loop: asyncio.AbstractEventLoop | None = None
        self._fleet_stop: asyncio.Event | None = None
        self._fleet_thread: threading.Thread | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self.token = ""

    # -- server --------------------------------------------------------------------------------

    def start_server(self) -> None:
        """Serve the API from a thread (uvicorn installs no signal handlers off the main one)."""
        # The controllers place the sample replicas; EDGEORCH_CONTROLLERS=0 turns them off,
        # as for 'edgeorch server'.
        controllers = ControllerSettings.from_env() if controllers_enabled() else None
        share_the_gil()
        app = create_app(self.prepared.database, self.prepared.settings, controllers=controllers)
        tune_garbage_collector()
        config = uvicorn.Config(
            app,
            host=self.prepared.host,
            port=self.prepared.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=int(HTTP_IDLE_SECONDS),
        )
        self._server = ApiServer(config)
        self._server_thread = threading.Thread(target=self._server.run, name="server", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise UpError(f"the server did not start on {self.url} (is the port in use?)")
            time.sleep(0.05)

    def _api(self) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)

    # -- fleet ---------------------------------------------------------------------------------

    def start_fleet(self) -> None:
        """Run the simulated nodes on their own event loop in a thread."""
        nodes = generate_fleet(self.options.nodes, REGIONS, seed=self.options.seed)
        config = SimConfig(
            server=self.url,
            nodes=nodes,
            admin_token=self.token,
            heartbeat_interval=self.options.heartbeat_interval,
            seed=self.options.seed,
            state_file=self.data_dir / "sim" / "credentials.json",
        )
        ready = threading.Event()

        def run() -> None:
            loop = new_event_loop()
            self._fleet_loop = loop
            self._fleet_stop = asyncio.Event()
            ready.set()
            try:
                loop.run_until_complete(Simulation(config).run(self._fleet_stop))
            finally:
                loop.close()

        self._fleet_thread = threading.Thread(target=run, name="fleet", daemon=True)
        self._fleet_thread.start()
        ready.wait(10)

    def stop_fleet(self) -> None:
        """Ask the fleet to stop and wait for it."""
        loop, flag = self._fleet_loop, self._fleet_stop
        if loop is not None and flag is not None and not loop.is_closed():
            loop.call_soon_threadsafe(flag.set)
        if self._fleet_thread is not None:
            self._fleet_thread.join(15)

    # -- the real agent ------------------------------------------------------------------------

    def start_agent(self) -> None:
        """Start the real agent; mint a join token only when it holds no credential yet."""
        agent_dir = self.data_dir / "agent"
        agent_dir.mkdir(parents=True, exist_ok=True)
        state = LocalState(agent_dir)
        try:
            joined = state.identity() is not None
        finally:
            state.close()
        cmd = [
            sys.executable, "-m", "edgeorch.agent",
            "--server", self.url, "--data-dir", str(agent_dir), "--name", AGENT_NAME,
            "--heartbeat-interval", str(self.options.heartbeat_interval), "--watch-timeout", "20",
            *(x for pair in AGENT_FACTS.items() for x in pair),
        ]  # fmt: skip
        if not joined:
            with self._api() as api:
                response = api.post("/tokens", json={"role": "join", "name": "up local agent"})
                response.raise_for_status()
                cmd += ["--join-token", response.json()["secret"]]
        log = (self.data_dir / "agent.log").open("ab")
        with log:
            self.agent = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def stop_agent(self) -> None:
        """SIGTERM the agent (it stops its workloads), SIGKILL it if it does not exit."""
        agent = self.agent
        if agent is None or agent.poll() is not None:
            return
        agent.terminate()
        try:
            agent.wait(AGENT_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(5)

    # -- sample applications -------------------------------------------------------------------

    def deploy_samples(self) -> list[str]:
        """Upload the analytics module and apply the sample workloads; answers the actions."""
        www = self.data_dir / "www"
        www.mkdir(parents=True, exist_ok=True)
        index = www / "index.html"
        if not index.exists():
            index.write_text(INDEX_HTML)
        with self._api() as api:
            uploaded = api.post("/artifacts", content=analytics_wasm())
            uploaded.raise_for_status()
            manifests = sample_manifests(uploaded.json()["digest"], www)
            text = yaml.safe_dump_all(manifests, sort_keys=False)
            applied = api.post("/apply", content=text, headers={"content-type": "application/yaml"})
            if applied.status_code >= 400:
                raise UpError(f"applying the sample workloads failed: {applied.text[:500]}")
            return [f"{i['name']} {i['action']}" for i in applied.json()["items"]]

    def ready_nodes(self) -> int:
        """How many nodes are ready now."""
        with self._api() as api:
            response = api.get("/edge/nodes", params={"limit": 1000})
            response.raise_for_status()
            body = response.json()
            items = body["items"] if isinstance(body, dict) else body
            return sum(1 for n in items if n["status"]["state"] == "ready")

    # -- lifecycle -----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop in reverse order of start; safe to call more than once."""
        self.stop_fleet()
        self.stop_agent()
        if self._server is not None:
            # Long-polls whose clients are already gone are cancelled at shutdown; uvicorn logs
            # each as an error with a traceback, which is noise after a clean stop.
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
            self._server.should_exit = True
        if self._server_thread is not None:
            self._server_thread.join(10)
        self.prepared.database.dispose()


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` yet."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def run_up(prepared: Prepared, options: UpOptions, console: Console, token: str) -> None:
    """Start everything, report progress, wait for Ctrl-C or SIGTERM, stop everything."""
    if not port_free(prepared.host, prepared.port):
        raise UpError(f"{prepared.host}:{prepared.port} is in use; pick another with --listen")
    up = AllInOne(prepared, options, console)
    up.token = token

    def on_signal(signum: int, frame: FrameType | None) -> None:
        up.stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        _start(up, options, console)
        up.stop.wait()
        console.print("stopping: fleet, agent, server…")
    finally:
        up.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("[green]stopped cleanly[/]")


def _start(up: AllInOne, options: UpOptions, console: Console) -> None:
    want = options.nodes + 1
    with console.status("starting the control plane…") as status:
        up.start_server()
        console.print(f"[green]✓[/] control plane on {up.url}")
        status.update(f"joining {options.nodes} simulated nodes and the local agent…")
        up.start_fleet()
        up.start_agent()
        status.update("deploying the sample applications…")
        for line in up.deploy_samples():
            console.print(f"[green]✓[/] workload {line}")
        deadline = time.monotonic() + READY_TIMEOUT
        ready = 0
        while not up.stop.is_set() and time.monotonic() < deadline:
            ready = up.ready_nodes()
            status.update(f"nodes ready: {ready}/{want}")
            if ready >= want:
                break
            if up.agent is not None and up.agent.poll() is not None:
                raise UpError(f"the local agent exited; see {up.data_dir / 'agent.log'}")
            up.stop.wait(0.5)
        console.print(f"[green]✓[/] nodes ready: {ready}/{want}")
    lines = [
        f"[bold green]edgeorch is up[/] on {up.url}",
        f"  API docs     {up.url}/api/docs",
        f"  dashboard    {up.url}/ (signed-in link below)",
        f"  admin token  {up.token}",
        f"  data dir     {up.data_dir}",
        f"  agent log    {up.data_dir / 'agent.log'}",
        "",
        "Try: edgeorch node ls · edgeorch workload ls · Ctrl-C stops everything",
    ]
    console.print(Panel("\n".join(lines), border_style="green"))
    # The token rides in the URL fragment, which browsers never send: no server log sees it.
    # soft_wrap: one unbroken line, so the link stays clickable and copyable.
    console.print(f"dashboard: {up.url}/#token={up.token}", soft_wrap=True, highlight=False)
