"""The store-driven controllers in a process of their own, supervised by the API server.

Why: Python runs one thread at a time per process. In one process a reconcile pass over 10,000
nodes and workloads (about 0.2 s) holds the GIL that the API's requests need, and on a 2-core
machine the second core sat idle while requests waited (docs/benchmarks.md: the controllers
took 63 % of the server's samples during registrations and most of the list latency tail). In a
child process they run on the other core; the API only shares the store with them.

What stays in the server: the node-lifecycle controller, because it reads the in-memory
presence of the heartbeats this process receives (``agent/presence.py``).

How the two processes cooperate: only through the store. The child follows the change feed
(``FeedWaiter`` wakes within 10 ms of a commit of the server on SQLite, ``store/commits.py``);
the server's assignment watch notices the child's commits the same way (``agent/watch.py``).
The child's Prometheus counters and histograms (placement decisions, migrations) are written
to files in a directory of the server's (prometheus-client's multiprocess mode) and merged into
the server's ``/metrics`` (``observability/collector.py``).

Supervision: the child is restarted when it exits while the server runs (backoff from 1 s,
doubling up to 30 s, back to 1 s after a minute of uptime); it exits on its own when the server
goes away without stopping it (``kill -9`` of the server: it checks its parent every second).
On stop the server sends SIGTERM, waits, then kills.
"""

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from edgeorch.config import tune_garbage_collector
from edgeorch.controllers.settings import ControllerSettings
from edgeorch.store import Database

log = logging.getLogger("edgeorch.controllers")

RESTART_BACKOFF_MIN = 1.0
RESTART_BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # seconds of uptime after which a crash restarts with the shortest backoff
# A child exits 0 only when told to stop: a Ctrl-C reaches the server's whole process group, so
# the child often stops before the server (which first waits for its connections) stops it.
# It is restarted after this grace unless the server stops meanwhile, so one signalled alone by
# an operator still comes back.
CLEAN_EXIT_GRACE = 15.0
PARENT_ENV = "EDGEORCH_CONTROLLER_PARENT"  # the server's pid, for the child's orphan check
SETTINGS_ENV = "EDGEORCH_CONTROLLER_SETTINGS"  # the ControllerSettings as JSON


def shareable(database: Database) -> bool:
    """Whether another process can open the same store (not an in-memory SQLite)."""
    if not database.is_sqlite:
        return True
    path = database.url.database
    return bool(path) and path != ":memory:" and "mode=memory" not in str(database.url)


def encode_settings(settings: ControllerSettings) -> str:
    """The settings as the child reads them back (:func:`decode_settings`)."""
    return json.dumps(dataclasses.asdict(settings))


def decode_settings(text: str) -> ControllerSettings:
    """Settings written by :func:`encode_settings`; an unknown field is an error."""
    fields = {f.name for f in dataclasses.fields(ControllerSettings)}
    raw = json.loads(text)
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ValueError(f"unknown controller settings {unknown}; known: {sorted(fields)}")
    return ControllerSettings(**raw)


class ControllerProcess:
    """Starts, restarts and stops the child process that runs :class:`ControllerManager`."""

    clean_exit_grace = CLEAN_EXIT_GRACE

    def __init__(self, database: Database, settings: ControllerSettings) -> None:
        self._url = database.url.render_as_string(hide_password=False)
        self._settings = settings
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        # prometheus-client's multiprocess files of the child (counters survive its restarts)
        self.metrics_dir = Path(tempfile.mkdtemp(prefix="edgeorch-controller-metrics-"))

    @property
    def pid(self) -> int | None:
        """The running child's pid, if any."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def start(self) -> None:
        """Start the child and the thread that restarts it."""
        self._spawn()
        self._thread = threading.Thread(
            target=self._supervise, name="edgeorch-controller-process", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child (SIGTERM, then SIGKILL after ``timeout``) and stop restarting it."""
        self._stop.set()
        with self._lock:
            child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "controller process %d did not stop in %g s; killing it", child.pid, timeout
                )
                child.kill()
                child.wait()
        if self._thread is not None:
            self._thread.join(timeout)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _spawn(self) -> None:
        env = dict(os.environ)
        env["EDGEORCH_DATABASE_URL"] = self._url  # not on the command line: ps shows that
        env[SETTINGS_ENV] = encode_settings(self._settings)
        env[PARENT_ENV] = str(os.getpid())
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir)
        with self._lock:
            if self._stop.is_set():
                return
            self._child = subprocess.Popen(
                [sys.executable, "-m", "edgeorch.controllers"], env=env, stdin=subprocess.DEVNULL
            )
        log.info("controller process started (pid %d)", self._child.pid)

    def _supervise(self) -> None:
        backoff = RESTART_BACKOFF_MIN
        while not self._stop.is_set():
            child = self._child
            if child is None:
                return
            started = time.monotonic()
            code = child.wait()
            if self._stop.is_set():
                return
            if time.monotonic() - started >= STABLE_AFTER:
                backoff = RESTART_BACKOFF_MIN
            if code == 0:
                delay = self.clean_exit_grace
                log.info(
                    "controller process %d stopped (asked to); restarting it in %g s unless the "
                    "server stops too",
                    child.pid,
                    delay,
                )
            else:
                delay, backoff = backoff, min(RESTART_BACKOFF_MAX, backoff * 2)
                log.error(
                    "controller process %d exited with code %s; restarting it in %g s",
                    child.pid,
                    code,
                    delay,
                )
            if self._stop.wait(delay):
                return
            try:
                self._spawn()
            except OSError:
                log.exception("could not restart the controller process")


def serve_child() -> int:
    """The child's main: run the store-driven controllers until SIGTERM, or until the server
    that started it is gone."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[controllers] %(message)s"
    )
    from edgeorch.controllers.manager import ControllerManager
    from edgeorch.placement.live import LiveFleet

    url = os.environ.get("EDGEORCH_DATABASE_URL")
    raw = os.environ.get(SETTINGS_ENV)
    if not url or raw is None:
        print(
            "edgeorch controller process: started without EDGEORCH_DATABASE_URL and "
            f"{SETTINGS_ENV}; 'edgeorch server' starts it, it is not a command of its own",
            file=sys.stderr,
        )
        return 2
    settings = decode_settings(raw)
    parent = int(os.environ.get(PARENT_ENV, "0"))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    database = Database(url)
    manager = ControllerManager(database, LiveFleet(database), None, settings)
    tune_garbage_collector()  # the server's EDGEORCH_GC_THRESHOLDS, inherited
    manager.start()
    try:
        while not stop.wait(1.0):
            if parent and os.getppid() != parent:
                log.warning("the server (pid %d) is gone; the controller process exits", parent)
                break
    finally:
        manager.stop()
        database.dispose()
    return 0
