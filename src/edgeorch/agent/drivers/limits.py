"""Memory and CPU limits for process tasks: cgroup v1 where we may write it, rlimits otherwise.

cgroup v1 (``cgroup-v1``): each task gets ``edgeorch/<task>`` under the agent's *own* cgroup in
the ``memory`` and ``cpu`` hierarchies, so the agent's own limits (systemd unit, container) still
bound its workloads. ``memory.limit_in_bytes`` caps resident memory, the kernel OOM-kills the task
past it and counts that in ``memory.oom_control``'s ``oom_kill``; ``cpu.cfs_quota_us`` over
``cpu.cfs_period_us`` caps the CPU rate at ``cpu`` vCPU.

rlimit (``rlimit``): ``RLIMIT_AS`` caps the address space, so allocations fail inside the task
(Python raises ``MemoryError``, C's ``malloc`` returns NULL) instead of a kill; the driver
recognises that from the exit and the stderr tail. A rate cannot be expressed as an rlimit, so CPU
is only bounded in total seconds (``RLIMIT_CPU``) when the driver is given ``cpu_seconds``.

Invariants: a task's cgroup exists only while the driver owns the task; the child joins its
cgroup *before* exec (in the forked child), so not a single allocation escapes the limit.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CGROUP_V1 = "cgroup-v1"
RLIMIT = "rlimit"
NONE = "none"

MIB = 1024 * 1024
CFS_PERIOD_US = 100_000
_MIN_QUOTA_US = 1_000  # the kernel refuses quotas below 1 ms


def _own_cgroup_path(controller: str, proc_cgroup: Path) -> str | None:
    """This process's path in the v1 hierarchy that holds ``controller``."""
    try:
        text = proc_cgroup.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and controller in parts[1].split(","):
            return parts[2]
    return None


def _writable_parent(mount: Path, controller: str, marker: str, proc_cgroup: Path) -> Path | None:
    """``<mount>/<controller>/<own path>/edgeorch`` if we can create task cgroups in it."""
    own = _own_cgroup_path(controller, proc_cgroup)
    if own is None or not (mount / controller / marker).exists():
        return None
    parent = mount / controller / own.lstrip("/") / "edgeorch"
    probe = parent / f".probe-{os.getpid()}"
    try:
        parent.mkdir(exist_ok=True)
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return None
    return parent


@dataclass(frozen=True)
class TaskCgroup:
    """One task's cgroups: the memory one is required, the cpu one is optional."""

    memory_dir: Path
    cpu_dir: Path | None

    def dirs(self) -> list[Path]:
        """Every directory the task must join."""
        return [self.memory_dir] + ([self.cpu_dir] if self.cpu_dir else [])

    def oom_kills(self) -> int:
        """How many times the kernel OOM-killed a process in this cgroup."""
        try:
            text = (self.memory_dir / "memory.oom_control").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        # Kernels before 4.13 have no oom_kill counter; hitting the limit is the best signal.
        return self.failcnt()

    def failcnt(self) -> int:
        """How many times usage hit the limit."""
        try:
            return int((self.memory_dir / "memory.failcnt").read_text())
        except (OSError, ValueError):
            return 0

    def pids(self) -> list[int]:
        """Processes still in the task's memory cgroup (including ones that left its group)."""
        try:
            return [int(p) for p in (self.memory_dir / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def remove(self, wait: float = 2.0) -> None:
        """Delete the cgroups; the kernel refuses while processes remain, so retry briefly."""
        deadline = time.monotonic() + wait
        for d in self.dirs():
            while d.exists():
                try:
                    d.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


@dataclass(frozen=True)
class Limiter:
    """Applies a task's resources with one mechanism; ``mechanism`` is reported to users."""

    mechanism: str
    memory_parent: Path | None = None
    cpu_parent: Path | None = None
    cpu_seconds: int | None = None

    @classmethod
    def detect(
        cls,
        prefer: str = "auto",
        *,
        mount: Path = Path("/sys/fs/cgroup"),
        proc_cgroup: Path = Path("/proc/self/cgroup"),
        cpu_seconds: int | None = None,
    ) -> Limiter:
        """The best mechanism that works here; ``prefer`` forces ``rlimit``/``none`` (tests, or
        nodes where the cgroup tree belongs to someone else)."""
        if prefer in (RLIMIT, NONE):
            return cls(prefer, cpu_seconds=cpu_seconds)
        memory = _writable_parent(mount, "memory", "memory.limit_in_bytes", proc_cgroup)
        if memory is None:
            if prefer == CGROUP_V1:
                raise RuntimeError(f"cgroup v1 memory controller is not writable under {mount}")
            return cls(RLIMIT, cpu_seconds=cpu_seconds)
        cpu = _writable_parent(mount, "cpu", "cpu.cfs_quota_us", proc_cgroup)
        return cls(CGROUP_V1, memory, cpu, cpu_seconds)

    def describe(self) -> str:
        """One line for fingerprints: what is enforced and how."""
        if self.mechanism == CGROUP_V1:
            cpu = "cpu.cfs_quota_us" if self.cpu_parent else "cpu not limited (no cpu controller)"
            return f"cgroup-v1 (memory.limit_in_bytes under {self.memory_parent}; {cpu})"
        if self.mechanism == RLIMIT:
            cpu = f"RLIMIT_CPU {self.cpu_seconds} s" if self.cpu_seconds else "cpu not limited"
            return f"rlimit (RLIMIT_AS for memory; {cpu})"
        return "none (limits are not enforced)"

    def cgroup_for(self, task_id: str, memory_mb: int, cpu: float) -> TaskCgroup | None:
        """Create (or reuse) the task's cgroups with its limits; None unless cgroup-v1."""
        if self.mechanism != CGROUP_V1 or self.memory_parent is None:
            return None
        mem_dir = self.memory_parent / task_id
        mem_dir.mkdir(exist_ok=True)
        limit = str(memory_mb * MIB) if memory_mb > 0 else "-1"
        (mem_dir / "memory.limit_in_bytes").write_text(limit)
        cpu_dir = None
        if self.cpu_parent is not None:
            cpu_dir = self.cpu_parent / task_id
            cpu_dir.mkdir(exist_ok=True)
            (cpu_dir / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            quota = max(_MIN_QUOTA_US, int(cpu * CFS_PERIOD_US)) if cpu > 0 else -1
            (cpu_dir / "cpu.cfs_quota_us").write_text(str(quota))
        return TaskCgroup(mem_dir, cpu_dir)

    def existing_cgroup(self, task_id: str) -> TaskCgroup | None:
        """The task's cgroups if they exist (after an agent restart)."""
        if self.mechanism != CGROUP_V1 or self.memory_parent is None:
            return None
        mem_dir = self.memory_parent / task_id
        if not mem_dir.exists():
            return None
        cpu_dir = self.cpu_parent / task_id if self.cpu_parent else None
        return TaskCgroup(mem_dir, cpu_dir if cpu_dir and cpu_dir.exists() else None)

    def preexec(self, cgroup: TaskCgroup | None, memory_mb: int) -> Callable[[], None]:
        """The function the forked child runs before exec to enter its limits."""
        cgroup_files = [str(d / "cgroup.procs") for d in cgroup.dirs()] if cgroup else []
        as_bytes = memory_mb * MIB if self.mechanism == RLIMIT and memory_mb > 0 else 0
        cpu_seconds = self.cpu_seconds if self.mechanism == RLIMIT else None

        def enter() -> None:
            # Runs in the child between fork and exec: keep it to plain syscalls.
            for name in cgroup_files:
                with open(name, "w") as f:
                    f.write(str(os.getpid()))
            if as_bytes:
                resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
            if cpu_seconds:
                with contextlib.suppress(ValueError, OSError):
                    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))

        return enter
