"""The byte formats of the wasm HTTP handler ABI (docs/wasm-abi.md is the full description).

Request, as the host writes it into guest memory::

    METHOD " " PATH "\\n" *( NAME ": " VALUE "\\n" ) "\\n" BODY

Response, as the guest returns it::

    STATUS [ " " REASON ] "\\n" *( NAME ": " VALUE "\\n" ) "\\n" BODY

Lines end with a single LF; there is no HTTP version and no Content-Length (the length is known
from the ABI). A response without any LF is a status line with an empty body, so a minimal module
can answer just ``b"204"``.
"""

from __future__ import annotations

from collections.abc import Mapping


class MalformedResponse(ValueError):
    """The guest's response bytes do not follow the ABI."""


def _clean(text: str) -> str:
    # A newline inside a header would let a client inject headers into the guest's view.
    return text.replace("\r", " ").replace("\n", " ")


def encode_request(method: str, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """The request bytes the guest's ``handle`` receives."""
    lines = [f"{_clean(method).upper()} {_clean(path)}"]
    lines += [f"{_clean(k).lower()}: {_clean(v)}" for k, v in headers.items()]
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body


def decode_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` from the guest's response bytes."""
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, _, body = raw.partition(b"\n")
    lines = head.decode("utf-8", errors="replace").split("\n")
    status_word = lines[0].split(" ", 1)[0]
    if not (status_word.isdigit() and len(status_word) == 3 and 100 <= int(status_word) <= 599):
        raise MalformedResponse(f"status line {lines[0][:40]!r} does not start with a 3-digit code")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise MalformedResponse(f"header line {line[:40]!r} is not 'name: value'")
        headers[name.strip().lower()] = value.strip()
    return int(status_word), headers, body


def pack(ptr: int, length: int) -> int:
    """The i64 ``handle`` returns: pointer in the high 32 bits, length in the low 32 bits."""
    return (ptr << 32) | length


def unpack(value: int) -> tuple[int, int]:
    """The inverse of :func:`pack`; accepts the signed i64 wasmtime hands back."""
    value &= 0xFFFF_FFFF_FFFF_FFFF
    return value >> 32, value & 0xFFFF_FFFF
