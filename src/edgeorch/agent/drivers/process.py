"""The ``process`` driver: runs a command in its own process group, with limits and restarts.

Per task, under ``<data_dir>/tasks/<task_id>/``: ``stdout.log``, ``stderr.log`` (appended across
restarts) and ``handle.json`` (pid and create time of the current process, rewritten on each
(re)start so :meth:`ProcessDriver.recover` finds the latest one even when the agent's persisted
handle predates a restart).

Invariants:

- A task's process leads its own session and process group, so ``stop`` signals the whole group
  (and, under cgroup v1, every process left in the task's cgroup) and nothing outlives the task.
- A pid is only trusted together with its create time: pids are reused, and signalling a stranger
  after an agent restart would be far worse than losing a task.
- The environment is built from scratch (``PATH``, ``LANG``, the task's ``env``, and
  ``EDGEORCH_TASK_ID``/``PORT``) so agent credentials never leak into workloads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from edgeorch.agent.drivers._logs import tail_lines, tail_streams
from edgeorch.agent.drivers.base import (
    ArtifactInvalid,
    CommandNotFound,
    DriverError,
    DriverFingerprint,
    SnapshotUnsupported,
    TaskHandle,
    TaskNotFound,
    TaskSpec,
    TaskState,
    TaskStatus,
    check_task_id,
)
from edgeorch.agent.drivers.limits import CGROUP_V1, RLIMIT, Limiter, TaskCgroup

NAME = "process"

REASON_NOT_FOUND = "command {command!r} was not found on PATH ({path})"
REASON_NOT_EXECUTABLE = "command {command!r} is not an executable file"
REASON_NO_WORKING_DIR = "working_dir {path!r} does not exist or is not a directory"
REASON_MEMORY = "exceeded its memory limit of {mb} MB"
REASON_CPU_TIME = "exceeded its CPU time limit of {seconds} s"
REASON_STOPPED = "stopped by the agent"
REASON_RUNNING = "running (pid {pid}, limits: {limits})"
REASON_GONE = "exited while the agent was not watching it; exit code unknown"

# Markers a process prints when an allocation fails under RLIMIT_AS (Python, glibc, C++, Go).
_OOM_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
_KILL_GRACE = 5.0


@dataclass
class _Task:
    """Mutable bookkeeping for one task; guarded by ``ProcessDriver._lock``."""

    spec: TaskSpec
    task_dir: Path
    cgroup: TaskCgroup | None
    state: TaskState = TaskState.STARTING
    reason: str = ""
    exit_code: int | None = None
    restarts: int = 0
    pid: int | None = None
    create_time: float | None = None
    oom_baseline: int = 0
    proc: subprocess.Popen[bytes] | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)
    monitor: threading.Thread | None = None


class ProcessDriver:
    """Runs commands as supervised process groups. ``limits``: ``auto`` (cgroup v1 if writable,
    else rlimit), ``rlimit`` or ``none``; ``cpu_seconds`` sets ``RLIMIT_CPU`` under rlimit."""

    def __init__(
        self, data_dir: Path, *, limits: str = "auto", cpu_seconds: int | None = None
    ) -> None:
        self._data_dir = Path(data_dir)
        self._limiter = Limiter.detect(limits, cpu_seconds=cpu_seconds)
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        """The runtime name, ``process``."""
        return NAME

    @property
    def limits(self) -> str:
        """The mechanism enforcing limits: ``cgroup-v1``, ``rlimit`` or ``none``."""
        return self._limiter.mechanism

    def fingerprint(self) -> DriverFingerprint:
        """Always usable on POSIX; details say how limits are enforced."""
        return DriverFingerprint(
            name=NAME,
            healthy=os.name == "posix",
            version=f"psutil {psutil.__version__}",
            details={"limits": self._limiter.mechanism, "limits_detail": self._limiter.describe()},
        )

    # -- start ---------------------------------------------------------------------------------

    def start(self, task: TaskSpec) -> TaskHandle:
        """Start ``task``; idempotent for a task that is already running."""
        check_task_id(task.task_id)
        with self._lock:
            existing = self._tasks.get(task.task_id)
            if existing is not None and existing.state in (TaskState.RUNNING, TaskState.STARTING):
                return self._handle(existing)
            task_dir = self._data_dir / "tasks" / task.task_id
            entry = _Task(spec=task, task_dir=task_dir, cgroup=None)
            self._tasks[task.task_id] = entry
            try:
                self._check_artifact(task)
                task_dir.mkdir(parents=True, exist_ok=True)
                entry.cgroup = self._limiter.cgroup_for(task.task_id, task.memory_mb, task.cpu)
                self._spawn(entry)
            except DriverError as exc:
                self._fail(entry, exc.reason)
                raise
            except OSError as exc:
                reason = f"could not start {task.command[0]!r}: {exc.strerror or exc}"
                self._fail(entry, reason)
                raise ArtifactInvalid(reason) from exc
            entry.monitor = threading.Thread(
                target=self._watch, args=(entry,), name=f"process-{task.task_id}", daemon=True
            )
            entry.monitor.start()
            return self._handle(entry)

    def _check_artifact(self, task: TaskSpec) -> None:
        """Refuse what cannot run before forking, with a reason the user can act on."""
        if not task.command:
            raise ArtifactInvalid("a process task needs a command (a non-empty argv list)")
        if task.working_dir is not None and not Path(task.working_dir).is_dir():
            raise ArtifactInvalid(REASON_NO_WORKING_DIR.format(path=task.working_dir))
        command = task.command[0]
        if "/" in command:
            path = Path(task.working_dir or ".") / command
            if not path.exists():
                raise CommandNotFound(f"command {command!r} does not exist")
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise CommandNotFound(REASON_NOT_EXECUTABLE.format(command=command))
            return
        search = self._environment(task)["PATH"]
        if shutil.which(command, path=search) is None:
            raise CommandNotFound(REASON_NOT_FOUND.format(command=command, path=search))

    def _environment(self, task: TaskSpec) -> dict[str, str]:
        """A clean environment: no agent secrets, just what a workload needs."""
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"}
        env["EDGEORCH_TASK_ID"] = task.task_id
        if task.port is not None:
            env["PORT"] = str(task.port)
        env.update(task.env)
        return env

    def _spawn(self, entry: _Task) -> None:
        """Fork the command into its own session with limits applied before exec."""
        spec = entry.spec
        if entry.cgroup is not None:
            entry.oom_baseline = entry.cgroup.oom_kills()
        with (
            (entry.task_dir / "stdout.log").open("ab") as out,
            (entry.task_dir / "stderr.log").open("ab") as err,
        ):
            proc = subprocess.Popen(
                list(spec.command),
                cwd=spec.working_dir,
                env=self._environment(spec),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=self._limiter.preexec(entry.cgroup, spec.memory_mb),
            )
        entry.proc, entry.pid = proc, proc.pid
        entry.create_time = _create_time(proc.pid)
        entry.exited.clear()
        entry.state = TaskState.RUNNING
        entry.exit_code = None
        entry.reason = REASON_RUNNING.format(pid=proc.pid, limits=self._limiter.mechanism)
        self._persist(entry)

    def _fail(self, entry: _Task, reason: str) -> None:
        entry.state, entry.reason = TaskState.FAILED, reason
        entry.exited.set()

    # -- supervision ---------------------------------------------------------------------------

    def _watch(self, entry: _Task) -> None:
        """Wait for each run of the task to end and apply the restart policy."""
        while True:
            proc = entry.proc
            assert proc is not None
            code = proc.wait()
            with self._lock:
                entry.exit_code = code
                if entry.stopping.is_set():
                    entry.state, entry.reason = TaskState.EXITED, REASON_STOPPED
                elif code == 0:
                    entry.state, entry.reason = TaskState.EXITED, "exited with code 0"
                else:
                    entry.state, entry.reason = TaskState.FAILED, self._failure_reason(entry, code)
                entry.exited.set()
                policy = entry.spec.restart
                if (
                    entry.state is not TaskState.FAILED
                    or policy.mode != "on-failure"
                    or entry.restarts >= policy.max_restarts
                ):
                    break
                delay = policy.delay(entry.restarts)
                entry.state = TaskState.STARTING
                entry.reason = (
                    f"restarting in {delay:g} s (restart {entry.restarts + 1} of "
                    f"{policy.max_restarts}) after: {entry.reason}"
                )
            if entry.stopping.wait(delay):
                with self._lock:
                    entry.state, entry.reason = TaskState.EXITED, REASON_STOPPED
                break
            with self._lock:
                if entry.stopping.is_set():
                    break
                entry.restarts += 1
                try:
                    self._spawn(entry)
                except OSError as exc:
                    self._fail(entry, f"restart failed: {exc.strerror or exc}")
                    break
        if entry.cgroup is not None and entry.state is not TaskState.STARTING:
            entry.cgroup.remove(wait=0.5)

    def _failure_reason(self, entry: _Task, code: int) -> str:
        """Why a run ended badly, naming the limit it hit when it hit one."""
        mb = entry.spec.memory_mb
        if entry.cgroup is not None and entry.cgroup.oom_kills() > entry.oom_baseline:
            return REASON_MEMORY.format(mb=mb) + " (OOM-killed by the kernel, cgroup-v1)"
        if code == -signal.SIGXCPU:
            return REASON_CPU_TIME.format(seconds=self._limiter.cpu_seconds)
        if self._limiter.mechanism == RLIMIT and mb > 0 and code != 0:
            stderr = "\n".join(tail_lines(entry.task_dir / "stderr.log", 20))
            if any(marker in stderr for marker in _OOM_MARKERS):
                return REASON_MEMORY.format(mb=mb) + " (an allocation failed under RLIMIT_AS)"
        if code < 0:
            return f"killed by signal {signal.Signals(-code).name}"
        return f"exited with code {code}"

    # -- stop, status, logs --------------------------------------------------------------------

    def stop(self, task_id: str, timeout: float = 10.0) -> None:
        """SIGTERM the task's group, SIGKILL it after ``timeout`` s. Idempotent."""
        with self._lock:
            entry = self._tasks.get(task_id)
            if entry is None:
                return
            entry.stopping.set()
            pid, alive = entry.pid, self._alive(entry)
        if pid is not None and alive:
            self._signal_group(entry, pid, signal.SIGTERM)
            if not self._wait_exit(entry, timeout):
                self._signal_group(entry, pid, signal.SIGKILL)
                self._wait_exit(entry, _KILL_GRACE)
        if entry.monitor is not None:
            entry.monitor.join(timeout=_KILL_GRACE)
        with self._lock:
            if entry.state in (TaskState.RUNNING, TaskState.STARTING):
                entry.state, entry.reason = TaskState.EXITED, REASON_STOPPED
        if entry.cgroup is not None:
            entry.cgroup.remove()

    def _signal_group(self, entry: _Task, pid: int, sig: signal.Signals) -> None:
        """Signal the process group, and under cgroup v1 every process left in the cgroup."""
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass
        if sig is signal.SIGKILL and entry.cgroup is not None:
            for stray in entry.cgroup.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(stray, sig)

    def _wait_exit(self, entry: _Task, timeout: float) -> bool:
        """Wait for the current run to end; True if it did."""
        if entry.proc is not None:
            return entry.exited.wait(timeout)
        if entry.pid is None:
            return True
        try:
            psutil.Process(entry.pid).wait(timeout)
        except psutil.NoSuchProcess:
            return True
        except psutil.TimeoutExpired:
            return False
        return True

    def _alive(self, entry: _Task) -> bool:
        """Whether the task's current process still exists (and is the same process)."""
        if entry.proc is not None:
            return entry.proc.poll() is None and not entry.exited.is_set()
        return entry.pid is not None and _same_process(entry.pid, entry.create_time)

    def status(self, task_id: str) -> TaskStatus:
        """The task's state now."""
        with self._lock:
            entry = self._get(task_id)
            if entry.proc is None and entry.state is TaskState.RUNNING and not self._alive(entry):
                self._settle_recovered(entry)
            return TaskStatus(
                task_id=task_id,
                state=entry.state,
                reason=entry.reason,
                exit_code=entry.exit_code,
                restarts=entry.restarts,
                limits=self._limiter.mechanism,
                pid=entry.pid if entry.state is TaskState.RUNNING else None,
            )

    def _settle_recovered(self, entry: _Task) -> None:
        """A recovered process is not our child: its exit code is lost, the cgroup still knows
        whether it was OOM-killed."""
        if entry.cgroup is not None and entry.cgroup.oom_kills() > entry.oom_baseline:
            entry.state = TaskState.FAILED
            entry.reason = REASON_MEMORY.format(mb=entry.spec.memory_mb)
        else:
            entry.state, entry.reason = TaskState.EXITED, REASON_GONE
        entry.exited.set()

    def logs(self, task_id: str, tail: int = 100) -> list[str]:
        """The last ``tail`` lines of stdout then stderr, tagged ``stdout:``/``stderr:``."""
        with self._lock:
            entry = self._get(task_id)
        return tail_streams(entry.task_dir, tail)

    def _get(self, task_id: str) -> _Task:
        entry = self._tasks.get(task_id)
        if entry is None:
            raise TaskNotFound(f"no process task {task_id!r} on this node")
        return entry

    # -- handles and recovery ------------------------------------------------------------------

    def _handle(self, entry: _Task) -> TaskHandle:
        return TaskHandle(task_id=entry.spec.task_id, driver=NAME, data=self._handle_data(entry))

    def _handle_data(self, entry: _Task) -> dict[str, object]:
        spec = entry.spec
        return {
            "pid": entry.pid,
            "create_time": entry.create_time,
            "task_dir": str(entry.task_dir),
            "command": list(spec.command),
            "memory_mb": spec.memory_mb,
            "cpu": spec.cpu,
            "limits": self._limiter.mechanism,
            "oom_baseline": entry.oom_baseline,
            "restarts": entry.restarts,
        }

    def _persist(self, entry: _Task) -> None:
        """Write the current pid next to the logs, atomically, for recover()."""
        path = entry.task_dir / "handle.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._handle_data(entry)))
        tmp.replace(path)

    def recover(self, handle: TaskHandle) -> bool:
        """Re-attach to the task's process if it is still the same process (pid + create time)."""
        data = dict(handle.data)
        task_dir = Path(str(data.get("task_dir", self._data_dir / "tasks" / handle.task_id)))
        # The file is rewritten on every restart; without it, the agent's copy is all we have.
        with contextlib.suppress(OSError, ValueError):
            data.update(json.loads((task_dir / "handle.json").read_text()))
        pid, created = data.get("pid"), data.get("create_time")
        if not isinstance(pid, int) or not isinstance(created, float):
            return False
        if not _same_process(pid, created):
            return False
        spec = TaskSpec(
            task_id=handle.task_id,
            runtime=NAME,
            command=tuple(str(a) for a in data.get("command", [])),
            memory_mb=int(data.get("memory_mb", 0)),
            cpu=float(data.get("cpu", 0.0)),
        )
        entry = _Task(
            spec=spec,
            task_dir=task_dir,
            cgroup=self._limiter.existing_cgroup(handle.task_id),
            state=TaskState.RUNNING,
            reason=REASON_RUNNING.format(pid=pid, limits=self._limiter.mechanism),
            restarts=int(data.get("restarts", 0)),
            pid=pid,
            create_time=created,
            oom_baseline=int(data.get("oom_baseline", 0)),
        )
        with self._lock:
            self._tasks[handle.task_id] = entry
        return True

    # -- snapshots -----------------------------------------------------------------------------

    def snapshot(self, task_id: str) -> bytes:
        """Processes cannot be snapshotted (that needs CRIU)."""
        raise SnapshotUnsupported("the process runtime cannot snapshot a task (no CRIU support)")

    def restore(self, task: TaskSpec, snapshot: bytes) -> TaskHandle:
        """Processes cannot be restored from a snapshot."""
        raise SnapshotUnsupported("the process runtime cannot restore a task from a snapshot")


def _create_time(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _same_process(pid: int, create_time: float | None) -> bool:
    """True if ``pid`` is alive (not a zombie) and was created at ``create_time``."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is not None and abs(proc.create_time() - create_time) < 0.01
    except psutil.Error:
        return False


__all__ = ["CGROUP_V1", "NAME", "RLIMIT", "ProcessDriver"]
