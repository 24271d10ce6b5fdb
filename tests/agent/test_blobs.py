"""The content-addressed blob store: atomic, verified, bounded."""

from pathlib import Path

import pytest

from edgeorch.artifacts import BlobStore, BlobTooLarge, DigestMismatch, InvalidDigest, digest_of


def test_put_read_and_verify(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, limit=10)
    digest = store.put([b"hello", b"!"])
    assert digest == digest_of(b"hello!")
    assert store.read(digest) == b"hello!"
    with pytest.raises(DigestMismatch, match="not to the expected"):
        store.put([b"other"], expected=digest_of(b"nope"))
    with pytest.raises(BlobTooLarge, match="limit of 10 bytes"):
        store.put([b"x" * 11])
    with pytest.raises(InvalidDigest, match="'sha256:XYZ' is not a digest"):
        store.path("sha256:XYZ")
    assert sorted(p.name for p in store.directory.iterdir()) == [digest.removeprefix("sha256:")]
