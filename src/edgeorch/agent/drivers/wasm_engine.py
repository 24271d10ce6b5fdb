"""The process-wide wasmtime engine, its epoch ticker and the compiled-module caches.

One :class:`wasmtime.Engine` serves every wasm task in the agent: compiled modules and
``InstancePre`` objects belong to an engine, so sharing it is what lets a second task of the same
module start without compiling. Modules are cached twice:

- in process, ``digest -> (Module, InstancePre)``, so a start is one instantiation;
- on disk, ``<data_dir>/modules/<hex>.cwasm`` (``Module.serialize``) next to the original
  ``<hex>.wasm``, so an agent restart deserialises (milliseconds) instead of recompiling
  (seconds for a large module). A ``.cwasm`` from another wasmtime version fails to deserialise
  and is recompiled from the ``.wasm``.

Only this module writes ``.cwasm`` files, and ``Module.deserialize`` is only ever pointed at them:
deserialising untrusted bytes would run arbitrary machine code.

Time limits use epoch interruption: a ticker thread bumps the engine's epoch every ``TICK``
seconds while at least one call is in flight (it sleeps otherwise, so an idle agent costs nothing),
and each call sets its store's deadline in ticks.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import wasmtime

TICK = 0.002


def _engine_config() -> wasmtime.Config:
    config = wasmtime.Config()
    config.consume_fuel = True  # deterministic per-request CPU budget
    config.epoch_interruption = True  # wall-clock deadline per request
    return config


class WasmEngine:
    """An engine, a WASI linker, module caches and the epoch ticker."""

    def __init__(self) -> None:
        self.engine = wasmtime.Engine(_engine_config())
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self._modules: dict[str, tuple[wasmtime.Module, wasmtime.InstancePre]] = {}
        self._lock = threading.Lock()
        self._busy = 0
        self._wake = threading.Condition()
        self._ticker: threading.Thread | None = None

    # -- modules -------------------------------------------------------------------------------

    def cached(self, digest: str) -> tuple[wasmtime.Module, wasmtime.InstancePre] | None:
        """The compiled module for ``digest`` if this process already has it."""
        with self._lock:
            return self._modules.get(digest)

    def load(
        self, digest: str, wasm: bytes | None, cache_dir: Path
    ) -> tuple[wasmtime.Module, wasmtime.InstancePre]:
        """Compile or deserialise the module. Raises ``WasmtimeError`` for invalid bytes and
        ``FileNotFoundError`` when neither bytes nor a cached copy exist. ``wasm`` must already
        be verified against ``digest``."""
        hexdigest = digest.removeprefix("sha256:")
        compiled = cache_dir / f"{hexdigest}.cwasm"
        source = cache_dir / f"{hexdigest}.wasm"
        hit = self.cached(digest)
        if hit is not None:
            # Another driver (data dir) of this process compiled it; this data dir still needs
            # its own copy to survive an agent restart.
            if wasm is not None and not source.exists():
                self._store(hit[0], wasm, compiled, source)
            return hit
        module = self._deserialize(compiled)
        if module is None:
            if wasm is None:
                wasm = source.read_bytes()
            module = wasmtime.Module(self.engine, wasm)
            self._store(module, wasm, compiled, source)
        entry = (module, self.linker.instantiate_pre(module))
        with self._lock:
            self._modules.setdefault(digest, entry)
            return self._modules[digest]

    def _store(self, module: wasmtime.Module, wasm: bytes, compiled: Path, source: Path) -> None:
        compiled.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(compiled, bytes(module.serialize()))
        _atomic_write(source, wasm)

    def _deserialize(self, path: Path) -> wasmtime.Module | None:
        if not path.exists():
            return None
        try:
            return wasmtime.Module.deserialize_file(self.engine, str(path))
        except wasmtime.WasmtimeError:
            # Written by another wasmtime version or engine configuration: recompile.
            return None

    # -- deadlines -----------------------------------------------------------------------------

    def deadline_ticks(self, seconds: float) -> int:
        """Epoch ticks that cover ``seconds``; one extra because the first tick may come early."""
        return max(1, math.ceil(seconds / TICK)) + 1

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Keep the epoch ticking for the duration of a guest call."""
        with self._wake:
            self._busy += 1
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="wasm-epoch", daemon=True)
                self._ticker.start()
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._busy -= 1

    def _tick(self) -> None:
        while True:
            with self._wake:
                while self._busy == 0:
                    self._wake.wait()
            time.sleep(TICK)
            self.engine.increment_epoch()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file so a crash never leaves a half-written cache entry."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


_SHARED: WasmEngine | None = None
_SHARED_LOCK = threading.Lock()


def shared_engine() -> WasmEngine:
    """The agent's one engine, created on first use."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = WasmEngine()
        return _SHARED
