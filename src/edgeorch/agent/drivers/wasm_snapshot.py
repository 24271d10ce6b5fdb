"""The binary format of a wasm instance snapshot: linear memories and exported mutable globals.

Layout (big-endian)::

    header   magic "EOWASNAP" | version u16 | flags u16 (0) | module sha256 (32 raw bytes)
             | global count u32 | memory count u32
    global   name length u16 | name (UTF-8) | kind u8 (0 i32, 1 i64, 2 f32, 3 f64) | value 8 bytes
             (i32/i64 as a signed 64-bit integer, f32/f64 as a 64-bit float)
    memory   name length u16 | name | pages u32 | zlib length u64 | zlib(contents)
    trailer  sha256 of every byte before it (32 bytes)

The module digest lets a restore refuse a snapshot of another module; the trailer catches
truncation and corruption in transit. Memories are zlib-compressed at level 1 because linear memory
is mostly zeros and a migration sends these bytes over the network.

Only what an instance *exports* is reachable through wasmtime's public API, so non-exported
globals (for example a toolchain's ``__stack_pointer``) are not captured. Snapshots are only taken
between requests, when a stack pointer is back at its initial value anyway.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field

from edgeorch.agent.drivers.base import SnapshotInvalid

MAGIC = b"EOWASNAP"
VERSION = 1
KINDS = ("i32", "i64", "f32", "f64")
_HEADER = struct.Struct(">8sHH32sII")


@dataclass(frozen=True)
class InstanceState:
    """What a snapshot holds.

    ``globals``: (name, kind, value); ``memories``: (name, pages, data).
    """

    digest: str
    globals: list[tuple[str, str, int | float]] = field(default_factory=list)
    memories: list[tuple[str, int, bytes]] = field(default_factory=list)


def _name(name: str) -> bytes:
    raw = name.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def encode(state: InstanceState) -> bytes:
    """The snapshot bytes for ``state``."""
    digest = bytes.fromhex(state.digest.removeprefix("sha256:"))
    parts = [_HEADER.pack(MAGIC, VERSION, 0, digest, len(state.globals), len(state.memories))]
    for name, kind, value in state.globals:
        packed = (
            struct.pack(">q", int(value)) if kind in ("i32", "i64") else struct.pack(">d", value)
        )
        parts += [_name(name), struct.pack(">B", KINDS.index(kind)), packed]
    for name, pages, data in state.memories:
        compressed = zlib.compress(data, 1)
        parts += [_name(name), struct.pack(">IQ", pages, len(compressed)), compressed]
    body = b"".join(parts)
    return body + hashlib.sha256(body).digest()


class _Reader:
    """A cursor that turns any overrun into SnapshotInvalid."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SnapshotInvalid("snapshot is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[int, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def name(self) -> str:
        (length,) = self.unpack(">H")
        return self.take(length).decode("utf-8", errors="replace")


def decode(data: bytes) -> InstanceState:
    """The state in ``data``; :class:`SnapshotInvalid` if it is not a valid snapshot."""
    if len(data) < _HEADER.size + 32:
        raise SnapshotInvalid(f"snapshot is too short ({len(data)} bytes)")
    body, trailer = data[:-32], data[-32:]
    magic, version, _flags, digest, n_globals, n_memories = _HEADER.unpack_from(body)
    if magic != MAGIC:
        raise SnapshotInvalid("not an edgeorch wasm snapshot (bad magic)")
    if version != VERSION:
        raise SnapshotInvalid(f"snapshot format version {version} is not supported ({VERSION} is)")
    if hashlib.sha256(body).digest() != trailer:
        raise SnapshotInvalid("snapshot checksum does not match: it is corrupt or truncated")
    reader = _Reader(body)
    reader.pos = _HEADER.size
    state = InstanceState(digest="sha256:" + digest.hex())
    for _ in range(n_globals):
        name = reader.name()
        (kind_index,) = reader.unpack(">B")
        if kind_index >= len(KINDS):
            raise SnapshotInvalid(f"global {name!r} has unknown kind {kind_index}")
        kind = KINDS[kind_index]
        fmt = ">q" if kind in ("i32", "i64") else ">d"
        state.globals.append((name, kind, reader.unpack(fmt)[0]))
    for _ in range(n_memories):
        name = reader.name()
        pages, length = reader.unpack(">IQ")
        try:
            contents = zlib.decompress(reader.take(length))
        except zlib.error as exc:
            raise SnapshotInvalid(f"memory {name!r} does not decompress: {exc}") from exc
        state.memories.append((name, pages, contents))
    return state
