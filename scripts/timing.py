"""Shared by the benchmark scripts (not part of the package): one way to time a call, and the
package's one way to name the machine."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from tf_stylefusion.machine import machine_line

__all__ = ["machine_line", "median_seconds"]


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` after one warm-up call (tracing,
    allocation, XNNPACK weight packing)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
