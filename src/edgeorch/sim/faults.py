"""Fault specifications for the simulator: parsed from ``--fault`` words, applied by the runner.

Grammar (times in seconds since the simulation started; ``s``/``m`` suffixes allowed)::

    kill:SHARE@T            SHARE of the live nodes die at T (process gone, no more heartbeats)
    hang:SHARE@T[+D]        SHARE of the live nodes hang at T (silent, instances "running"),
                            for D seconds when given, else until the end
    partition:REGION@T+D    every node of REGION stops heartbeating at T for D seconds, its
                            instances keep "running" (a network cut)
    churn:N/min             N nodes leave per minute and N new nodes join, evenly spaced

``SHARE`` is a percentage (``10%``) or a count (``25``). ``--fail-rate P`` is separate: each live
node dies with probability ``P`` per minute, checked every second.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["kill", "hang", "partition", "churn"]
KINDS: tuple[str, ...] = ("kill", "hang", "partition", "churn")
_DURATION = r"(\d+(?:\.\d+)?)(s|m)?"
_SHARE_RE = re.compile(rf"^(\d+(?:\.\d+)?)(%?)@{_DURATION}(?:\+{_DURATION})?$")
_PARTITION_RE = re.compile(rf"^([a-z0-9-]+)@{_DURATION}\+{_DURATION}$")
_CHURN_RE = re.compile(r"^(\d+(?:\.\d+)?)/(s|sec|min|m|h|hour)$")
_EXAMPLES = "kill:10%@60s, hang:5@30s+20s, partition:eu-west@120s+30s, churn:5/min"


class FaultError(ValueError):
    """A fault spec that does not parse; the message shows the accepted forms."""


@dataclass(frozen=True)
class Fault:
    """One parsed fault. ``share`` is a fraction when ``percent`` else a node count."""

    kind: FaultKind
    at: float = 0.0
    duration: float | None = None
    share: float = 0.0
    percent: bool = False
    region: str = ""
    per_minute: float = 0.0
    text: str = ""

    def count_of(self, live: int) -> int:
        """How many of ``live`` nodes this fault hits (at least one when the share is > 0)."""
        if not self.percent:
            return min(int(self.share), live)
        wanted = math.ceil(live * self.share / 100) if self.share > 0 else 0
        return min(wanted, live)


def _seconds(number: str, unit: str | None) -> float:
    return float(number) * (60.0 if unit == "m" else 1.0)


def parse_fault(text: str) -> Fault:
    """Parse one ``--fault`` value; FaultError names it and lists the accepted forms."""
    kind, sep, rest = text.strip().partition(":")
    if not sep or kind not in KINDS:
        raise FaultError(
            f"fault {text!r}: unknown kind {kind!r}; use one of {', '.join(KINDS)} "
            f"(for example {_EXAMPLES})"
        )
    if kind in ("kill", "hang"):
        m = _SHARE_RE.match(rest)
        if m is None:
            raise FaultError(f"fault {text!r}: expected {kind}:SHARE@T[+D], e.g. {kind}:10%@60s")
        share, pct = float(m.group(1)), m.group(2) == "%"
        if pct and share > 100:
            raise FaultError(f"fault {text!r}: share {share}% is above 100%")
        duration = _seconds(m.group(5), m.group(6)) if m.group(5) else None
        if kind == "kill" and duration is not None:
            raise FaultError(f"fault {text!r}: a kill has no duration; use hang:…+D for that")
        return Fault(kind, _seconds(m.group(3), m.group(4)), duration, share, pct, text=text)  # type: ignore[arg-type]
    if kind == "partition":
        m = _PARTITION_RE.match(rest)
        if m is None:
            raise FaultError(
                f"fault {text!r}: expected partition:REGION@T+D, e.g. partition:eu-west@120s+30s"
            )
        return Fault(
            "partition",
            _seconds(m.group(2), m.group(3)),
            _seconds(m.group(4), m.group(5)),
            region=m.group(1),
            text=text,
        )
    m = _CHURN_RE.match(rest)
    if m is None:
        raise FaultError(f"fault {text!r}: expected churn:N/min, e.g. churn:5/min")
    per = {"s": 60.0, "sec": 60.0, "min": 1.0, "m": 1.0, "h": 1 / 60, "hour": 1 / 60}[m.group(2)]
    return Fault("churn", per_minute=float(m.group(1)) * per, text=text)


def per_second_probability(per_minute: float) -> float:
    """The per-second death probability equivalent to ``per_minute`` (independent seconds)."""
    if not 0 <= per_minute <= 1:
        raise FaultError(f"--fail-rate {per_minute} is not a probability; give 0 to 1 per minute")
    return float(1.0 - (1.0 - per_minute) ** (1.0 / 60.0))
