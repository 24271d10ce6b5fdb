"""The agent's artifact cache: fetch by digest from the control plane, verify, keep.

A cached blob is only ever stored under the digest its bytes hash to (``edgeorch.artifacts``),
so a cache hit needs no network and a corrupt or substituted download never becomes runnable.
"""

from collections.abc import Callable
from pathlib import Path

from edgeorch.agent.drivers import ArtifactDigestMismatch, ArtifactInvalid
from edgeorch.artifacts import BlobStore, DigestMismatch, InvalidDigest

Fetch = Callable[[str], bytes]


class ArtifactCache:
    """Blobs under ``<data dir>/artifacts``; ``fetch(digest)`` downloads a missing one."""

    def __init__(self, data_dir: Path, fetch: Fetch) -> None:
        self._blobs = BlobStore(data_dir / "artifacts")
        self._fetch = fetch

    def path(self, digest: str) -> Path:
        """The local file holding ``digest``, fetched and verified first if missing.

        Raises ArtifactInvalid (bad digest), ArtifactDigestMismatch (the bytes hash to something
        else); the fetch's own errors (control plane unreachable or refusing) pass through.
        """
        try:
            if self._blobs.has(digest):
                return self._blobs.path(digest)
        except InvalidDigest as exc:
            raise ArtifactInvalid(str(exc)) from exc
        data = self._fetch(digest)
        try:
            self._blobs.put([data], expected=digest)
        except DigestMismatch as exc:
            raise ArtifactDigestMismatch(f"downloaded artifact rejected: {exc}") from exc
        return self._blobs.path(digest)
