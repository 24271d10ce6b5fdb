"""Modelled request statistics for simulated nodes (``edgeorch simulate``, ``edgeorch up``).

A simulated node serves no real requests, so its agent reports what a queueing model says its
instances would have served between two heartbeats:

- **arrivals**: Poisson with rate ``BASE_RPS`` per instance, modulated by a slow daily-like wave
  (``1 + 0.5 sin(2 pi t / DEMAND_PERIOD)``), so load varies over time;
- **response time**: each instance is an M/M/1 server whose mean service time is
  ``SERVICE_MS[runtime] * slowdown`` and whose utilization is the node's CPU utilization ``rho``
  (capped at 0.95); M/M/1 response times are exponential with mean ``s / (1 - rho)``, so each
  histogram bucket ``(a, b]`` gets probability ``exp(-a/m) - exp(-b/m)`` and the counts are one
  multinomial draw;
- **errors**: binomial with probability ``0.1 %`` plus up to 20 % more as ``rho`` goes from 0.9
  to 1 (an overloaded server sheds requests).
"""

import itertools
import math

import numpy as np

from edgeorch.telemetry.histogram import BOUNDS_MS
from edgeorch.telemetry.model import RequestStats

BASE_RPS = 10.0
DEMAND_PERIOD = 600.0
SERVICE_MS = {"wasm": 2.0, "process": 6.0, "container": 8.0, "vm": 12.0}
BASE_ERROR_RATE = 0.001
_EDGES = (0.0, *BOUNDS_MS, math.inf)


def bucket_probabilities(mean_ms: float) -> list[float]:
    """Probability of each histogram bucket for an exponential response time of ``mean_ms``."""
    cdf = [1.0 - math.exp(-edge / mean_ms) if edge != math.inf else 1.0 for edge in _EDGES]
    probabilities = [max(b - a, 0.0) for a, b in itertools.pairwise(cdf)]
    total = sum(probabilities)  # 1 up to rounding; multinomial refuses a sum above 1
    return [p / total for p in probabilities]


def modelled_stats(
    *,
    instance_id: str,
    workload: str,
    runtime: str,
    rho: float,
    seconds: float,
    at: float,
    rng: np.random.Generator,
    slowdown: float = 1.0,
) -> RequestStats:
    """What one instance served in ``seconds`` ending at time ``at`` (seconds, any origin)."""
    rho = min(max(rho, 0.0), 0.95)
    rate = BASE_RPS * (1.0 + 0.5 * math.sin(2.0 * math.pi * at / DEMAND_PERIOD))
    n = int(rng.poisson(max(rate * seconds, 0.0)))
    mean_ms = SERVICE_MS.get(runtime, 8.0) * slowdown / (1.0 - rho)
    buckets = [int(c) for c in rng.multinomial(n, bucket_probabilities(mean_ms))]
    error_rate = BASE_ERROR_RATE + 0.2 * max(rho - 0.9, 0.0) / 0.1
    errors = int(rng.binomial(n, min(error_rate, 1.0))) if n else 0
    latency_sum = float(rng.gamma(n, mean_ms)) if n else 0.0
    return RequestStats(
        instance_id=instance_id,
        workload=workload,
        requests=n,
        errors=errors,
        latency_sum_ms=round(latency_sum, 3),
        buckets=buckets,
    )
