"""Time windows as users write them: ``90s``, ``15m``, ``1h``, ``7d``."""

import re
from datetime import timedelta

MAX_WINDOW = timedelta(days=31)
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
ACCEPTED = "a positive number with a unit s, m, h or d (for example 90s, 15m, 1h, 7d), at most 31d"


class InvalidWindow(ValueError):
    """A window that is not a duration we accept; the message says what is."""


def parse_window(text: str) -> timedelta:
    """The duration ``text`` names; :class:`InvalidWindow` says what would be accepted."""
    match = _WINDOW.match(text)
    if match is None:
        raise InvalidWindow(f"window {text!r} is not a duration: use {ACCEPTED}")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    window = timedelta(seconds=seconds)
    if seconds <= 0 or window > MAX_WINDOW:
        raise InvalidWindow(f"window {text!r} is out of range: use {ACCEPTED}")
    return window
