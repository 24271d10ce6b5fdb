"""Continue tokens: round trips, and refusal of anything this list did not hand out."""

import base64
import json

import pytest

from edgeorch.store import InvalidContinueToken
from edgeorch.store.pagination import decode_token, encode_token


@pytest.mark.parametrize(
    ("kind", "key", "types"),
    [("Node", ("edge-1", "ab" * 16), (str, str)), ("Event", (42, "cd" * 16), (int, str))],
)
def test_round_trip(kind: str, key: tuple[str | int, ...], types: tuple[type, ...]) -> None:
    token = encode_token(kind, key)
    assert "=" not in token and "/" not in token and "+" not in token
    assert decode_token(token, kind, types) == key


def _b64(doc: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


BAD = [
    "%%%",
    "bm90IGpzb24",  # "not json"
    _b64([1, 2]),
    _b64({"k": "Workload", "a": ["x", "y"]}),
    _b64({"k": "Node", "a": ["x"]}),
    _b64({"k": "Node", "a": ["x", 1]}),
    _b64({"k": "Node", "a": "x"}),
]


@pytest.mark.parametrize("token", BAD)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidContinueToken, match="continue token") as err:
        decode_token(token, "Node", (str, str))
    assert isinstance(err.value, ValueError)
