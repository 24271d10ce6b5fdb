"""Fixed-bound latency histograms: what agents count, what the store sums, what percentiles read.

Every agent counts response times into the same buckets (:data:`BOUNDS_MS`, upper bounds in
milliseconds, plus one overflow bucket), so histograms from any number of agents, instances and
time buckets merge by adding counts: that is what lets the server compute fleet-wide percentiles
from a SQL ``SUM`` without ever seeing single requests.

A percentile is read like Prometheus' ``histogram_quantile``: find the bucket holding the rank
``q * count`` and interpolate linearly between its lower and upper bound (the first bucket starts
at 0 ms). A rank that falls in the overflow bucket answers the last finite bound, which is then a
lower bound of the true value (``quantile`` says so with ``overflow``).
"""

from collections.abc import Sequence
from dataclasses import dataclass

BOUNDS_MS: tuple[float, ...] = (
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
    10000.0,
)  # fmt: skip
"""Upper bounds (inclusive) of the finite buckets, in ms. 100 ms is a bound: the brochure's alert
threshold then never falls inside a bucket. Never reorder or change: stored rows depend on it."""

BUCKETS = len(BOUNDS_MS) + 1
"""Number of counts in a histogram: one per bound plus the overflow bucket (> 10 s)."""


def bucket_index(latency_ms: float) -> int:
    """The bucket a response time of ``latency_ms`` falls in (0 .. BUCKETS-1)."""
    for index, bound in enumerate(BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return BUCKETS - 1


@dataclass(frozen=True)
class Quantile:
    """A percentile read from a histogram; ``overflow`` when the rank is past the last bound."""

    value_ms: float
    overflow: bool


def quantile(counts: Sequence[int], q: float) -> Quantile | None:
    """The ``q`` quantile (0 < q <= 1) of a histogram, linearly interpolated inside its bucket;
    None for an empty histogram."""
    if not 0.0 < q <= 1.0:
        raise ValueError(f"quantile {q} is outside (0, 1]")
    if len(counts) != BUCKETS:
        raise ValueError(f"a histogram has {BUCKETS} counts, got {len(counts)}")
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count > 0 and seen + count >= rank:
            if index == BUCKETS - 1:
                return Quantile(BOUNDS_MS[-1], overflow=True)
            lower = 0.0 if index == 0 else BOUNDS_MS[index - 1]
            upper = BOUNDS_MS[index]
            return Quantile(lower + (upper - lower) * (rank - seen) / count, overflow=False)
        seen += count
    return Quantile(BOUNDS_MS[-1], overflow=True)  # unreachable: rank <= total


def merge(histograms: Sequence[Sequence[int]]) -> list[int]:
    """The bucket-wise sum of ``histograms``."""
    out = [0] * BUCKETS
    for counts in histograms:
        if len(counts) != BUCKETS:
            raise ValueError(f"a histogram has {BUCKETS} counts, got {len(counts)}")
        for index, count in enumerate(counts):
            out[index] += count
    return out
