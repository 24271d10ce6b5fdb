"""Content-addressed blob store: artifacts are named by the sha256 of their bytes.

Layout: ``<root>/sha256/<64 hex>``. A blob is written to a temporary file in the same directory,
fsynced, then renamed into place (and the directory fsynced), so a blob either exists whole under
its digest or not at all; a crash mid-upload leaves only a ``.tmp-*`` file, never a wrong blob.
Both the server (``/api/v1/artifacts``) and the agent's cache use this.
"""

from edgeorch.artifacts.blobs import (
    DIGEST_PATTERN,
    BlobStore,
    BlobTooLarge,
    DigestMismatch,
    InvalidDigest,
    check_digest,
    digest_of,
)

__all__ = [
    "DIGEST_PATTERN",
    "BlobStore",
    "BlobTooLarge",
    "DigestMismatch",
    "InvalidDigest",
    "check_digest",
    "digest_of",
]
