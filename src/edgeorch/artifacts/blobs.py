"""The blob store itself; see the package docstring for the layout and the crash guarantee.

Errors::

    ValueError
    ├── InvalidDigest     not ``sha256:<64 lowercase hex>``
    ├── DigestMismatch    the bytes hash to another digest than the one expected
    └── BlobTooLarge      more bytes than the store's limit
"""

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import IO

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
_DIGEST = re.compile(DIGEST_PATTERN)


class InvalidDigest(ValueError):
    """A digest that is not ``sha256:<64 lowercase hex>``."""


class DigestMismatch(ValueError):
    """Bytes that do not hash to the expected digest."""


class BlobTooLarge(ValueError):
    """More bytes than allowed."""


def check_digest(digest: str) -> str:
    """``digest`` if well formed; InvalidDigest naming it and the accepted form otherwise."""
    if not _DIGEST.match(digest):
        raise InvalidDigest(f"{digest!r} is not a digest; expected 'sha256:' and 64 lowercase hex")
    return digest


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Writer:
    """A temporary file being filled and hashed; ``commit`` moves it under its digest."""

    def __init__(self, store: "BlobStore", limit: int | None) -> None:
        self._store = store
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=store.directory)
        self._path = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._limit is not None and self.size > self._limit:
            raise BlobTooLarge(f"the artifact is larger than the limit of {self._limit} bytes")
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self, expected: str | None) -> str:
        digest = "sha256:" + self._hash.hexdigest()
        if expected is not None and digest != expected:
            raise DigestMismatch(f"the bytes hash to {digest}, not to the expected {expected}")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._path, self._store.path(digest))
        self._store.sync_directory()
        return digest

    def discard(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


class BlobStore:
    """Blobs under ``root``; ``limit`` bounds one blob's size in bytes (None: unbounded)."""

    def __init__(self, root: Path, *, limit: int | None = None) -> None:
        self.directory = Path(root) / "sha256"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.limit = limit

    def path(self, digest: str) -> Path:
        """Where the blob with ``digest`` lives (whether or not it exists)."""
        return self.directory / check_digest(digest).removeprefix("sha256:")

    def has(self, digest: str) -> bool:
        """True if the blob is stored."""
        return self.path(digest).is_file()

    def read(self, digest: str) -> bytes:
        """The blob's bytes; FileNotFoundError when it is not stored."""
        return self.path(digest).read_bytes()

    def put(self, chunks: Iterable[bytes], *, expected: str | None = None) -> str:
        """Store the concatenated ``chunks``; returns their digest (checked against
        ``expected`` when given, before anything becomes visible)."""
        writer = _Writer(self, self.limit)
        try:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit(expected)
        except BaseException:
            writer.discard()
            raise

    async def put_stream(self, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
        """Store an async stream of chunks; returns ``(digest, size)``."""
        writer = _Writer(self, self.limit)
        try:
            async for chunk in chunks:
                writer.write(chunk)
            return writer.commit(None), writer.size
        except BaseException:
            writer.discard()
            raise

    def sync_directory(self) -> None:
        """fsync the directory so a rename survives power loss."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
