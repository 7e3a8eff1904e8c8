"""Timing shared by the benchmark scripts."""

import gc
import statistics
import time


def median_times(fns, reps, sync=lambda: None):
    """Median seconds of each function, run interleaved (one of each per round), with
    Python's garbage collector paused so that no collection lands inside a timing. sync is
    called around each timed call (a device synchronise for GPU work)."""
    for f in fns:
        # Warm-up: at least one call and 0.2 s, so that thread pools left spinning by the
        # previous workload have gone idle and caches and pools reflect this one.
        t_end = time.perf_counter() + 0.2
        f()
        while time.perf_counter() < t_end:
            f()
    times = [[] for _ in fns]
    gc.collect()
    gc.disable()
    try:
        for _ in range(reps):
            for i, f in enumerate(fns):
                sync()
                t0 = time.perf_counter()
                f()
                sync()
                times[i].append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return [statistics.median(t) for t in times]
