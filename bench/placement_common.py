"""Shared helpers of the placement benchmarks: timing statistics and markdown output."""

import statistics
import time
from collections.abc import Callable

import numpy as np


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """(median, p99) of ``samples_ms``."""
    arr = np.array(samples_ms)
    return float(statistics.median(samples_ms)), float(np.percentile(arr, 99))


def time_ms(fn: Callable[[], object]) -> float:
    """Wall time of one call in ms."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0
