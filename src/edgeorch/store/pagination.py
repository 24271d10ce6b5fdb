"""Pages of a list and their opaque continue tokens (keyset cursors).

A token is URL-safe base64 of a small JSON document naming the kind listed and the sort key of
the last item returned. Keyset rather than offset pagination, so a page costs the same wherever it
is and objects created meanwhile neither shift nor duplicate the items already seen.
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from edgeorch.store.errors import InvalidContinueToken

T = TypeVar("T")

SortKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: the items, the token for the next page (None on the last page), and
    the store revision the list was read at (a watch started from it misses nothing)."""

    items: list[T]
    continue_token: str | None
    revision: int


@dataclass(frozen=True, slots=True)
class DocumentPage:
    """A page of a list as JSON, for answering it without parsing it: ``documents`` is the
    items' JSON texts in order, joined by commas (the inside of a JSON array)."""

    documents: str
    count: int
    continue_token: str | None
    revision: int


def encode_token(kind: str, key: SortKey) -> str:
    """The continue token that resumes a ``kind`` list after the item with sort key ``key``."""
    raw = json.dumps({"k": kind, "a": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, kind: str, types: Sequence[type]) -> SortKey:
    """The sort key inside ``token``; ``types`` are the expected types of its parts."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidContinueToken(token, kind) from exc
    if not isinstance(doc, dict) or doc.get("k") != kind:
        raise InvalidContinueToken(token, kind)
    key = doc.get("a")
    if (
        not isinstance(key, list)
        or len(key) != len(types)
        or not all(type(part) is t for part, t in zip(key, types, strict=True))
    ):
        raise InvalidContinueToken(token, kind)
    return tuple(key)
