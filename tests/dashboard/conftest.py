"""A real server process, a simulated fleet speaking the real agent protocol, and headless
Debian Chromium driven by Playwright: what the browser tests of the dashboard run against.

The fixtures are module-scoped: starting the server, joining the fleet and launching Chromium
take a few seconds, and the tests of one module look at the same running fleet. Chromium
missing is a failure, not a skip: these tests are how we know the dashboard works at all.
"""

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from tests.e2e.conftest import ServerProcess, free_port

from edgeorch.sim.fleet import SimNode, generate_fleet
from edgeorch.sim.runner import SimConfig, Simulation

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REGIONS = ["us-west", "us-east", "eu-west", "eu-central", "ap-northeast", "au-southeast"]
NODES = 24
HEARTBEAT = 0.5
# Short enough that a killed agent is down within seconds, long enough that a loaded 2-core
# machine does not make live agents flap.
SERVER_ARGS = ["--node-suspect-after", "3", "--node-down-after", "5"]


def workload(name: str, replicas: int, users: list[dict[str, float]], **placement: Any) -> Any:
    return {
        "apiVersion": "edgeorch.io/v1",
        "kind": "Workload",
        "metadata": {"name": name},
        "spec": {
            "runtime": "process",
            "artifact": {"command": ["serve"], "port": 8080},
            "replicas": replicas,
            "resources": {"cpu": 0.5, "memory_mb": 256},
            "placement": {"users": users, **placement},
        },
    }


# Two applications with user populations at real places, one without: links on the map come
# from the first two.
WORKLOADS = [
    workload(
        "video-analytics",
        3,
        [
            {"latitude": 37.77, "longitude": -122.42, "weight": 3},
            {"latitude": 40.71, "longitude": -74.01, "weight": 2},
            {"latitude": 51.51, "longitude": -0.13, "weight": 2},
        ],
        max_latency_ms=150,
    ),
    workload(
        "game-servers",
        2,
        [{"latitude": 35.68, "longitude": 139.69, "weight": 4}],
        user_regions=["au-southeast"],
    ),
    workload("batch-reports", 2, []),
]


@dataclass
class RunningFleet:
    """The server, its admin token, the simulation and the thread its event loop runs in."""

    server: ServerProcess
    token: str
    nodes: list[SimNode]
    simulation: Simulation
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    thread: threading.Thread
    shots: Path
    killed: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def kill(self, name: str) -> None:
        """Stop one simulated agent at once, like a crashed node: no more heartbeats."""
        done = threading.Event()

        def kill() -> None:
            self.simulation.kill([name])
            done.set()

        self.loop.call_soon_threadsafe(kill)
        assert done.wait(5), f"could not stop the simulated agent of {name}"
        self.killed.append(name)

    def node_states(self) -> dict[str, str]:
        with self.api() as api:
            items = api.get("/edge/nodes", params={"limit": 1000}).json()["items"]
        return {n["metadata"]["name"]: n["status"]["state"] for n in items}


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def running_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFleet]:
    tmp = tmp_path_factory.mktemp("dashboard")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env["EDGEORCH_CONFIG"] = str(tmp / "client.yaml")
    server = ServerProcess(
        data_dir=tmp / "data",
        port=free_port(),
        env=env,
        log=tmp / "server.log",
        extra_args=SERVER_ARGS,
    )
    server.start()
    token = server.admin_token
    nodes = generate_fleet(NODES, REGIONS, seed=7)
    config = SimConfig(
        server=server.url,
        nodes=nodes,
        admin_token=token,
        heartbeat_interval=HEARTBEAT,
        watch_timeout=5,
        seed=7,
    )
    simulation = Simulation(config)
    started = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"], holder["stop"] = loop, asyncio.Event()
        started.set()
        try:
            loop.run_until_complete(simulation.run(holder["stop"]))
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="sim-fleet", daemon=True)
    thread.start()
    assert started.wait(10)
    shots = Path(os.environ.get("EDGEORCH_SCREENSHOT_DIR") or tmp / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    fleet = RunningFleet(
        server, token, nodes, simulation, holder["loop"], holder["stop"], thread, shots
    )
    try:
        wait_until(
            lambda: (s := fleet.node_states()) and len(s) == NODES and set(s.values()) == {"ready"},
            40,
            "every simulated node to be ready",
        )
        with fleet.api() as api:
            applied = api.post("/apply", json=WORKLOADS)
            assert applied.status_code < 400, applied.text
        wait_until(lambda: _running(fleet) >= 7, 30, "the sample instances to run")
        yield fleet
    finally:
        fleet.loop.call_soon_threadsafe(fleet.stop.set)
        thread.join(15)
        server.stop()


def _running(fleet: RunningFleet) -> int:
    with fleet.api() as api:
        items = api.get("/instances", params={"limit": 1000}).json()["items"]
    return sum(1 for i in items if i["status"]["state"] == "running")


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/services.sh)")
    # launch() gives Chromium a fresh temporary profile (--user-data-dir) and removes it after.
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Watched:
    """A page and what it did: console errors, requests to other hosts, page loads."""

    page: Page
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)


def watch(page: Page, base_url: str) -> Watched:
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((base_url, "data:"))
            else watched.foreign.append(request.url)
        ),
    )
    page.on("load", lambda: watched.loads.append(page.url))
    return watched
