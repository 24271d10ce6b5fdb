"""The ``wasm`` driver: content-addressed modules served in wasmtime with memory and time limits.

A task is one long-lived instance of a module that follows the HTTP handler ABI
(docs/wasm-abi.md); the agent's ingress calls :meth:`WasmDriver.handle_http`. Each request runs
with a fuel budget (deterministic CPU) and an epoch deadline (wall clock); the store's limiter caps
linear memory at the task's ``memory_mb``.

Invariants:

- The bytes a task runs always hash to its declared digest; the check happens before compilation.
- A guest fault (trap, fuel or deadline exhaustion, malformed response) answers a 5xx and never
  raises out of ``handle_http``. The faulted instance is replaced by a fresh one, because a trap
  can leave the guest's own data structures half-updated.
- Requests to one task are serialised (a store is single-threaded); different tasks run in
  parallel on the shared engine.

wasmtime itself (its native library, the engine and the WASI linker: about 9 MB of the agent's
memory) is loaded when the first task starts, not when the agent starts: an agent with no wasm
workload does not pay for it. Every function that touches wasmtime at run time imports it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from edgeorch.agent.drivers import wasm_snapshot
from edgeorch.agent.drivers._logs import tail_streams
from edgeorch.agent.drivers.base import (
    ArtifactDigestMismatch,
    ArtifactInvalid,
    DriverError,
    DriverFingerprint,
    ResourceLimitExceeded,
    SnapshotInvalid,
    TaskHandle,
    TaskNotFound,
    TaskSpec,
    TaskState,
    TaskStatus,
    check_task_id,
)
from edgeorch.agent.drivers.wasm_abi import MalformedResponse, decode_response, encode_request
from edgeorch.agent.drivers.wasm_abi import unpack as unpack_result

if TYPE_CHECKING:
    import wasmtime

    from edgeorch.agent.drivers.wasm_engine import WasmEngine

NAME = "wasm"
LIMITS = "wasmtime"
MIB = 1024 * 1024
PAGE = 65536
DEFAULT_TIMEOUT = 2.0
DEFAULT_FUEL = 500_000_000

REASON_BAD_DIGEST = "a wasm task needs digest 'sha256:<64 lowercase hex>', got {digest!r}"
REASON_MISMATCH = "module bytes hash to {actual}, but the workload declares {declared}"
REASON_INVALID = "module is not valid WebAssembly: {error}"
REASON_MEMORY = "exceeded its memory limit of {mb} MB"
REASON_FUEL = "exceeded its CPU budget of {fuel} fuel units for one request"
REASON_DEADLINE = "exceeded its request deadline of {ms:g} ms"
REASON_STOPPED = "stopped by the agent"
REASON_NOT_RUNNING = "wasm task {task_id!r} is not running"

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass
class _Instance:
    """One live instance and the exports the ABI uses."""

    store: wasmtime.Store
    instance: wasmtime.Instance
    memory: wasmtime.Memory
    alloc: wasmtime.Func
    handle: wasmtime.Func


@dataclass
class _WasmTask:
    """Bookkeeping for one task; ``lock`` serialises every use of its store."""

    spec: TaskSpec
    task_dir: Path
    state: TaskState = TaskState.STARTING
    reason: str = ""
    exit_code: int | None = None
    restarts: int = 0
    requests: int = 0
    last_error: str = ""
    pre: wasmtime.InstancePre | None = None
    live: _Instance | None = None
    stdout: IO[bytes] | None = None
    stderr: IO[bytes] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class WasmDriver:
    """Runs wasm HTTP handlers. Compiled modules are cached under ``<data_dir>/modules``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        engine: WasmEngine | None = None,
        request_timeout: float = DEFAULT_TIMEOUT,
        fuel_per_request: int = DEFAULT_FUEL,
    ) -> None:
        self._data_dir = Path(data_dir)
        self._given_engine = engine
        self._timeout = request_timeout
        self._fuel = fuel_per_request
        self._tasks: dict[str, _WasmTask] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The runtime name, ``wasm``."""
        return NAME

    @property
    def _engine(self) -> WasmEngine:
        """The engine given, or the process's shared one, created (and wasmtime loaded) on the
        first use. DriverError when wasmtime cannot run on this machine."""
        if self._given_engine is None:
            try:
                from edgeorch.agent.drivers.wasm_engine import shared_engine

                self._given_engine = shared_engine()
            except Exception as exc:  # ImportError, OSError, WasmtimeError: all mean the same
                raise DriverError(f"wasmtime cannot run on this node: {exc!r}") from exc
        return self._given_engine

    def fingerprint(self) -> DriverFingerprint:
        """Healthy when the wasmtime package is installed; it is loaded with the first task (a
        failure to load it then fails that task with the reason)."""
        if importlib.util.find_spec("wasmtime") is None:
            return DriverFingerprint(
                name=NAME, healthy=False, version="", details={"error": "wasmtime not installed"}
            )
        try:
            version = importlib.metadata.version("wasmtime")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        return DriverFingerprint(
            name=NAME,
            healthy=True,
            version=f"wasmtime-py {version}",
            details={
                "limits": LIMITS,
                "limits_detail": "store memory limiter, fuel and epoch deadline per request",
                "abi": "edgeorch-http-v1",
                "snapshot": "linear memory + exported mutable globals",
            },
        )

    # -- start ---------------------------------------------------------------------------------

    def start(self, task: TaskSpec) -> TaskHandle:
        """Verify, compile (or fetch from cache) and instantiate; idempotent while running."""
        check_task_id(task.task_id)
        with self._lock:
            existing = self._tasks.get(task.task_id)
            if existing is not None and existing.state is TaskState.RUNNING:
                return self._handle(existing)
            entry = _WasmTask(spec=task, task_dir=self._data_dir / "tasks" / task.task_id)
            self._tasks[task.task_id] = entry
        try:
            wasm = self._artifact_bytes(task)
            entry.pre = self._load(task, wasm)
            entry.task_dir.mkdir(parents=True, exist_ok=True)
            entry.stdout = (entry.task_dir / "stdout.log").open("ab", buffering=0)
            entry.stderr = (entry.task_dir / "stderr.log").open("ab", buffering=0)
            with entry.lock:
                entry.live = self._instantiate(entry)
                entry.state, entry.reason = TaskState.RUNNING, "running"
        except DriverError as exc:
            entry.state, entry.reason = TaskState.FAILED, exc.reason
            self._close_logs(entry)
            raise
        return self._handle(entry)

    def _artifact_bytes(self, task: TaskSpec) -> bytes | None:
        """The module bytes, verified against the digest; None to use the local cache."""
        if task.digest is None or not _DIGEST.match(task.digest):
            raise ArtifactInvalid(REASON_BAD_DIGEST.format(digest=task.digest))
        if task.wasm_module is not None:
            wasm = task.wasm_module
        elif task.wasm_path is not None:
            try:
                wasm = Path(task.wasm_path).read_bytes()
            except OSError as exc:
                raise ArtifactInvalid(f"cannot read module {task.wasm_path!r}: {exc}") from exc
        else:
            return None
        actual = "sha256:" + hashlib.sha256(wasm).hexdigest()
        if actual != task.digest:
            raise ArtifactDigestMismatch(
                REASON_MISMATCH.format(actual=actual, declared=task.digest)
            )
        return wasm

    def _load(self, task: TaskSpec, wasm: bytes | None) -> wasmtime.InstancePre:
        assert task.digest is not None
        engine = self._engine  # loads wasmtime on the first task
        import wasmtime

        try:
            module, pre = engine.load(task.digest, wasm, self._data_dir / "modules")
        except wasmtime.WasmtimeError as exc:
            raise ArtifactInvalid(REASON_INVALID.format(error=str(exc).strip())) from exc
        except FileNotFoundError as exc:
            raise ArtifactInvalid(
                f"module {task.digest} is not in this node's cache and no bytes were given"
            ) from exc
        _check_exports(module)
        return pre

    def _instantiate(self, entry: _WasmTask) -> _Instance:
        """A fresh store and instance with the task's limits. Caller holds ``entry.lock``."""
        import wasmtime

        assert entry.pre is not None
        spec = entry.spec
        store = wasmtime.Store(self._engine.engine)
        if spec.memory_mb > 0:
            store.set_limits(memory_size=spec.memory_mb * MIB)
        self._arm(store, spec)
        wasi = wasmtime.WasiConfig()
        wasi.argv = [spec.task_id]
        wasi.env = [[k, v] for k, v in spec.env.items()]
        out, err = entry.stdout, entry.stderr
        if out is not None and err is not None:
            wasi.stdout_custom = out.write
            wasi.stderr_custom = err.write
        store.set_wasi(wasi)
        try:
            with self._engine.running():
                instance = entry.pre.instantiate(store)
                exports = instance.exports(store)
                init = exports.get("_initialize")
                if isinstance(init, wasmtime.Func):
                    init(store)
        except wasmtime.Trap as trap:
            raise ArtifactInvalid(f"trapped while starting: {trap.message}") from trap
        except wasmtime.WasmtimeError as exc:
            message = str(exc).strip()
            if "memory" in message and ("limit" in message or "exceed" in message):
                raise ResourceLimitExceeded(
                    REASON_MEMORY.format(mb=spec.memory_mb)
                    + f": its initial linear memory does not fit ({message})"
                ) from exc
            raise ArtifactInvalid(f"could not instantiate module: {message}") from exc
        memory, alloc, handle = exports["memory"], exports["alloc"], exports["handle"]
        assert isinstance(memory, wasmtime.Memory)
        assert isinstance(alloc, wasmtime.Func) and isinstance(handle, wasmtime.Func)
        return _Instance(store, instance, memory, alloc, handle)

    def _arm(self, store: wasmtime.Store, spec: TaskSpec) -> None:
        """Give the store a fresh fuel budget and deadline for the next call."""
        store.set_fuel(spec.fuel_per_request or self._fuel)
        timeout = spec.request_timeout or self._timeout
        store.set_epoch_deadline(self._engine.deadline_ticks(timeout))

    # -- requests ------------------------------------------------------------------------------

    def handle_http(
        self,
        task_id: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request through the guest. Never raises: guest faults answer 5xx."""
        import wasmtime

        entry = self._tasks.get(task_id)
        if entry is None or entry.state is not TaskState.RUNNING:
            return _error(503, REASON_NOT_RUNNING.format(task_id=task_id))
        request = encode_request(method, path, headers, body)
        with entry.lock:
            live = entry.live
            if live is None or entry.state is not TaskState.RUNNING:
                return _error(503, REASON_NOT_RUNNING.format(task_id=task_id))
            entry.requests += 1
            try:
                return self._call(entry, live, request)
            except wasmtime.Trap as trap:
                status, reason = self._trap_reason(entry, live, trap)
            except (wasmtime.WasmtimeError, IndexError) as exc:
                status, reason = 500, f"failed: {str(exc).strip()}"
            self._replace_instance(entry, reason)
            return _error(status, reason)

    def _call(
        self, entry: _WasmTask, live: _Instance, request: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """alloc, copy the request in, handle, copy the response out."""
        store, spec = live.store, entry.spec
        self._arm(store, spec)
        with self._engine.running():
            ptr = live.alloc(store, len(request))
            if not isinstance(ptr, int) or ptr <= 0:
                reason = (
                    REASON_MEMORY.format(mb=spec.memory_mb)
                    + f": alloc({len(request)}) for the request failed"
                )
                entry.last_error = reason
                return _error(503, reason)
            live.memory.write(store, request, ptr)
            result = live.handle(store, ptr, len(request))
        rptr, rlen = unpack_result(int(result))
        if rptr + rlen > live.memory.data_len(store):
            entry.last_error = f"handle returned a response outside memory ({rptr}+{rlen})"
            return _error(502, entry.last_error)
        try:
            return decode_response(bytes(live.memory.read(store, rptr, rptr + rlen)))
        except MalformedResponse as exc:
            entry.last_error = f"module returned a malformed response: {exc}"
            return _error(502, entry.last_error)

    def _trap_reason(
        self, entry: _WasmTask, live: _Instance, trap: wasmtime.Trap
    ) -> tuple[int, str]:
        """A status and a sentence for a trap, naming the limit that caused it if one did."""
        import wasmtime

        spec, code = entry.spec, trap.trap_code
        if code is wasmtime.TrapCode.OUT_OF_FUEL:
            return 504, REASON_FUEL.format(fuel=spec.fuel_per_request or self._fuel)
        if code is wasmtime.TrapCode.INTERRUPT:
            timeout = spec.request_timeout or self._timeout
            return 504, REASON_DEADLINE.format(ms=timeout * 1000)
        message = trap.message.strip().splitlines()[0] if trap.message else str(code)
        limit = spec.memory_mb * MIB
        if limit and live.memory.data_len(live.store) + PAGE > limit:
            # memory.grow returns -1 at the limit; the guest usually traps right after.
            return 500, REASON_MEMORY.format(mb=spec.memory_mb) + f" (then trapped: {message})"
        return 500, f"trapped: {message}"

    def _replace_instance(self, entry: _WasmTask, reason: str) -> None:
        """Swap a faulted instance for a fresh one; the task fails only if that is impossible."""
        entry.last_error = reason
        entry.restarts += 1
        try:
            entry.live = self._instantiate(entry)
        except DriverError as exc:
            entry.live = None
            entry.state, entry.reason = TaskState.FAILED, f"{reason}; restart failed: {exc.reason}"

    # -- stop, status, logs --------------------------------------------------------------------

    def stop(self, task_id: str, timeout: float = 10.0) -> None:
        """Drop the instance once the in-flight request (bounded by its deadline) finishes."""
        entry = self._tasks.get(task_id)
        if entry is None:
            return
        with entry.lock:
            if entry.state in (TaskState.RUNNING, TaskState.STARTING):
                entry.state, entry.reason, entry.exit_code = TaskState.EXITED, REASON_STOPPED, 0
            entry.live = None
            self._close_logs(entry)

    def status(self, task_id: str) -> TaskStatus:
        """The task's state; a running task's reason counts requests and instance restarts."""
        entry = self._tasks.get(task_id)
        if entry is None:
            raise TaskNotFound(f"no wasm task {task_id!r} on this node")
        reason = entry.reason
        if entry.state is TaskState.RUNNING:
            reason = f"running ({entry.requests} requests, {entry.restarts} instance restarts)"
            if entry.last_error:
                reason += f"; last error: {entry.last_error}"
        return TaskStatus(
            task_id=task_id,
            state=entry.state,
            reason=reason,
            exit_code=entry.exit_code,
            restarts=entry.restarts,
            limits=LIMITS,
        )

    def logs(self, task_id: str, tail: int = 100) -> list[str]:
        """The last lines the guest wrote to WASI stdout then stderr."""
        entry = self._tasks.get(task_id)
        if entry is None:
            raise TaskNotFound(f"no wasm task {task_id!r} on this node")
        return tail_streams(entry.task_dir, tail)

    def _close_logs(self, entry: _WasmTask) -> None:
        for f in (entry.stdout, entry.stderr):
            if f is not None:
                f.close()
        entry.stdout = entry.stderr = None

    # -- recovery ------------------------------------------------------------------------------

    def _handle(self, entry: _WasmTask) -> TaskHandle:
        spec = entry.spec
        data = {
            "digest": spec.digest,
            "env": dict(spec.env),
            "memory_mb": spec.memory_mb,
            "cpu": spec.cpu,
            "port": spec.port,
            "request_timeout": spec.request_timeout,
            "fuel_per_request": spec.fuel_per_request,
        }
        return TaskHandle(task_id=spec.task_id, driver=NAME, data=data)

    def recover(self, handle: TaskHandle) -> bool:
        """Instances live inside the agent, so after a restart the task is started again from the
        cached module: its memory starts fresh unless the agent restores a snapshot."""
        data = handle.data
        spec = TaskSpec(
            task_id=handle.task_id,
            runtime=NAME,
            digest=data.get("digest"),
            env=dict(data.get("env") or {}),
            memory_mb=int(data.get("memory_mb") or 0),
            cpu=float(data.get("cpu") or 0.0),
            port=data.get("port"),
            request_timeout=data.get("request_timeout"),
            fuel_per_request=data.get("fuel_per_request"),
        )
        try:
            self.start(spec)
        except DriverError:
            return False
        return True

    # -- snapshots -----------------------------------------------------------------------------

    def snapshot(self, task_id: str) -> bytes:
        """Linear memories and exported mutable globals, between two requests."""
        entry = self._tasks.get(task_id)
        if entry is None:
            raise TaskNotFound(f"no wasm task {task_id!r} on this node")
        with entry.lock:
            live = entry.live
            if live is None or entry.spec.digest is None:
                raise DriverError(REASON_NOT_RUNNING.format(task_id=task_id))
            return wasm_snapshot.encode(_capture(entry.spec.digest, live))

    @contextlib.contextmanager
    def exclusive_state(self, task_id: str) -> Iterator[StateAccess]:
        """Hold the task between two requests and give raw access to its exported memories and
        mutable globals (live migration, ``agent/migrate.py``); its requests wait meanwhile."""
        entry = self._tasks.get(task_id)
        if entry is None:
            raise TaskNotFound(f"no wasm task {task_id!r} on this node")
        with entry.lock:
            live = entry.live
            if live is None or entry.spec.digest is None:
                raise DriverError(REASON_NOT_RUNNING.format(task_id=task_id))
            yield StateAccess(live, entry.spec.digest, entry.spec.memory_mb)

    def restore(self, task: TaskSpec, snapshot: bytes) -> TaskHandle:
        """Start ``task`` (a fresh instance) and load the snapshot's state into it."""
        state = wasm_snapshot.decode(snapshot)
        if state.digest != task.digest:
            raise SnapshotInvalid(
                f"snapshot was taken of module {state.digest}, not of {task.digest}"
            )
        handle = self.start(task)
        entry = self._tasks[task.task_id]
        with entry.lock:
            assert entry.live is not None
            try:
                _apply(entry.live, state, task.memory_mb)
            except DriverError as exc:
                entry.live = None
                entry.state, entry.reason = TaskState.FAILED, f"restore failed: {exc.reason}"
                raise
        return handle


class StateAccess:
    """Raw access to one held instance's state; valid only inside ``exclusive_state``.

    ``memories()`` are zero-copy views of linear memory (no guest runs while the task is held,
    so they cannot move); a migration compares and copies only the parts that changed.
    """

    def __init__(self, live: _Instance, digest: str, memory_mb: int) -> None:
        self._live = live
        self.digest = digest
        self._memory_mb = memory_mb

    def _exports(self) -> dict[str, wasmtime.Memory | wasmtime.Global]:
        import wasmtime

        exports = self._live.instance.exports(self._live.store)
        return {
            name: item
            for name in exports
            if isinstance(item := exports[name], wasmtime.Memory | wasmtime.Global)
        }

    def memories(self) -> dict[str, memoryview]:
        """Every exported linear memory as a writable view of its bytes."""
        import ctypes

        import wasmtime

        store, out = self._live.store, {}
        for name, item in self._exports().items():
            if isinstance(item, wasmtime.Memory):
                size = item.data_len(store)
                address = ctypes.cast(item.data_ptr(store), ctypes.c_void_p).value or 0
                out[name] = memoryview((ctypes.c_ubyte * size).from_address(address)).cast("B")
        return out

    def grow(self, name: str, pages: int) -> None:
        """Grow memory ``name`` to at least ``pages`` pages (views taken before are stale)."""
        import wasmtime

        memory = self._exports().get(name)
        if not isinstance(memory, wasmtime.Memory):
            raise SnapshotInvalid(f"the state has memory {name!r} the module does not export")
        current = memory.size(self._live.store)
        if pages > current:
            try:
                memory.grow(self._live.store, pages - current)
            except wasmtime.WasmtimeError as exc:
                raise ResourceLimitExceeded(
                    REASON_MEMORY.format(mb=self._memory_mb) + f": the state needs {pages} pages"
                ) from exc

    def globals(self) -> list[tuple[str, str, int | float]]:
        """Exported mutable globals as (name, kind, value)."""
        import wasmtime

        store, out = self._live.store, []
        for name, item in self._exports().items():
            if isinstance(item, wasmtime.Global):
                ty = item.type(store)
                kind = str(ty.content)
                if ty.mutable and kind in wasm_snapshot.KINDS:
                    out.append((name, kind, item.value(store)))
        return out

    def set_globals(self, values: list[tuple[str, str, int | float]]) -> None:
        """Set exported mutable globals; ``SnapshotInvalid`` for one the module lacks."""
        _apply(self._live, wasm_snapshot.InstanceState(self.digest, values, []), self._memory_mb)


def _check_exports(module: wasmtime.Module) -> None:
    """Refuse a module that does not implement the ABI, naming what is missing."""
    import wasmtime

    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    required = {"alloc": ([i32], [i32]), "handle": ([i32, i32], [i64])}
    exports = {e.name: e.type for e in module.exports}
    if not isinstance(exports.get("memory"), wasmtime.MemoryType):
        raise ArtifactInvalid("module does not export its linear memory as 'memory' (ABI v1)")
    for name, (params, results) in required.items():
        ty = exports.get(name)
        if not (
            isinstance(ty, wasmtime.FuncType) and ty.params == params and ty.results == results
        ):
            want = f"(func (param {' '.join(map(str, params))}) (result {results[0]}))"
            raise ArtifactInvalid(f"module must export {name!r} as {want} (see docs/wasm-abi.md)")


def _capture(digest: str, live: _Instance) -> wasm_snapshot.InstanceState:
    import wasmtime

    state = wasm_snapshot.InstanceState(digest=digest)
    exports = live.instance.exports(live.store)
    for name in exports:
        item = exports[name]
        if isinstance(item, wasmtime.Global):
            ty = item.type(live.store)
            kind = str(ty.content)
            if ty.mutable and kind in wasm_snapshot.KINDS:
                state.globals.append((name, kind, item.value(live.store)))
        elif isinstance(item, wasmtime.Memory):
            pages = item.size(live.store)
            state.memories.append((name, pages, bytes(item.read(live.store))))
    return state


def _apply(live: _Instance, state: wasm_snapshot.InstanceState, memory_mb: int) -> None:
    import wasmtime

    exports = live.instance.exports(live.store)
    store = live.store
    for name, pages, data in state.memories:
        memory = exports.get(name)
        if not isinstance(memory, wasmtime.Memory):
            raise SnapshotInvalid(f"snapshot has memory {name!r} the module does not export")
        current = memory.size(store)
        if pages > current:
            try:
                memory.grow(store, pages - current)
            except wasmtime.WasmtimeError as exc:
                raise ResourceLimitExceeded(
                    REASON_MEMORY.format(mb=memory_mb) + f": the snapshot needs {pages} pages"
                ) from exc
        memory.write(store, data, 0)
        rest = memory.data_len(store) - len(data)
        if rest > 0:
            memory.write(store, bytes(rest), len(data))
    for name, kind, value in state.globals:
        glob = exports.get(name)
        if not isinstance(glob, wasmtime.Global) or str(glob.type(store).content) != kind:
            raise SnapshotInvalid(f"snapshot has {kind} global {name!r} the module does not export")
        glob.set_value(store, value)


def _error(status: int, reason: str) -> tuple[int, dict[str, str], bytes]:
    """A driver-made answer: the reason as plain text and in a header for the ingress's logs."""
    headers = {"content-type": "text/plain; charset=utf-8", "x-edgeorch-reason": reason}
    return status, headers, reason.encode("utf-8") + b"\n"


__all__ = ["NAME", "WasmDriver"]
