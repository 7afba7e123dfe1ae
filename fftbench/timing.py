"""Timing that measures the device, not the launch path.

GPU (nvbench-style): each sample flushes the L2 with a 2×L2 buffer (outside the events), queues a
spin kernel long enough to cover the host's launch cost, then records start → call → end. The
call is therefore queued before the clock starts and the events bracket only device work; the
per-call host time is measured separately.

The flush is selectable (TimingOptions.flush): "write" zeroes the buffer, which leaves the L2
full of dirty lines whose write-back can land inside the timed call (and in ncu's DRAM write
count); "read" sums it (clean lines, evicted for free); "write-read" zeroes then sums, so the
write-backs happen before the clock starts. tools/flush_bias.py measures the three on a GPU;
DEFAULT_FLUSH is the one to keep. Samples are taken in batches until the median is
tight (relative half-width of its ~95% confidence interval ≤ target) with at least `min_samples`
and `min_time_s`, or until `max_time_s`.

CPU, and a call that computes on the host (a CPU twin on a GPU machine, Prepared.on_host):
time.perf_counter around each call (synchronising the device after it), same statistics.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import time
from typing import Callable

import torch

FLUSH_MODES = ("write", "read", "write-read")
# write-read: the only mode that can charge neither the flush's dirty lines nor the previous call's
# output write-backs to the timed call (both are evicted clean before the clock starts);
# tools/flush_bias.py measures all three on the lent GPU (kernels/monarch_cuda/measurements/).
DEFAULT_FLUSH = "write-read"


@dataclasses.dataclass(frozen=True)
class TimingOptions:
    min_samples: int = 10
    min_time_s: float = 0.25
    max_time_s: float = 3.0
    target_rel_spread: float = 0.005
    batch: int = 10
    flush: str = DEFAULT_FLUSH  # how the L2 is flushed before each GPU sample: one of FLUSH_MODES

    def __post_init__(self):
        if self.flush not in FLUSH_MODES:
            raise TypeError(f"flush must be one of {', '.join(FLUSH_MODES)}, not {self.flush!r}")


@dataclasses.dataclass(frozen=True)
class TimingStats:
    timer: str
    samples_us: tuple[float, ...]
    host_us: float

    def _q(self, q: float) -> float:
        xs = sorted(self.samples_us)
        pos = q * (len(xs) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_us)

    @property
    def rel_spread(self) -> float:
        return median_ci_halfwidth(self.samples_us) / self.median if self.median > 0 else math.inf

    def as_row(self) -> dict:
        q1, q3 = self._q(0.25), self._q(0.75)
        return {
            "timer": self.timer,
            "t_p50_us": self.median,
            "t_p20_us": self._q(0.2),
            "t_p80_us": self._q(0.8),
            "t_min_us": min(self.samples_us),
            "t_max_us": max(self.samples_us),
            "t_q1_us": q1,
            "t_q3_us": q3,
            "t_iqr_us": q3 - q1,
            "t_rel_spread": self.rel_spread,
            "n_samples": len(self.samples_us),
            "host_us": self.host_us,
        }


def median_ci_halfwidth(samples) -> float:
    """Half-width of a distribution-free ~95% confidence interval of the median (order statistics)."""
    xs = sorted(samples)
    n = len(xs)
    if n < 3:
        return math.inf
    half = 1.96 * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half))
    return (xs[hi] - xs[lo]) / 2


def _enough(samples: list[float], elapsed: float, opts: TimingOptions) -> bool:
    if elapsed >= opts.max_time_s:
        return True
    if len(samples) < opts.min_samples or elapsed < opts.min_time_s:
        return False
    med = statistics.median(samples)
    return med > 0 and median_ci_halfwidth(samples) / med <= opts.target_rel_spread


def host_call_us(fn: Callable[[], object], calls: int = 5) -> float:
    """Mean host-side cost of one call (launch path only; the device runs asynchronously)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    elapsed = time.perf_counter() - start
    sync()
    return elapsed / calls * 1e6


class L2Flush:
    """A buffer of twice the L2 size, and the three ways of pushing everything else out of L2."""

    def __init__(self, device: torch.device):
        props = torch.cuda.get_device_properties(device)
        l2 = getattr(props, "L2_cache_size", 50 * 2**20) or 50 * 2**20
        self.buffer = torch.zeros(2 * l2 // 4, dtype=torch.float32, device=device)
        self.sink = torch.empty((), dtype=torch.float32, device=device)

    def __call__(self, mode: str) -> None:
        if mode in ("write", "write-read"):
            self.buffer.zero_()
        if mode in ("read", "write-read"):
            torch.sum(self.buffer, dim=0, out=self.sink)


class GpuTimer:
    """Holds the L2 flush buffer for a whole sweep."""

    def __init__(self, device: torch.device):
        props = torch.cuda.get_device_properties(device)
        self.flush = L2Flush(device)
        self.cycles_per_us = props.clock_rate / 1e3 if hasattr(props, "clock_rate") else 2000.0

    def time(self, fn: Callable[[], object], opts: TimingOptions) -> TimingStats:
        host = host_call_us(fn)
        # Spin long enough for the host to queue the flush, the start event and the call.
        spin_cycles = int((2 * host + 50) * self.cycles_per_us)
        samples: list[float] = []
        begun = time.perf_counter()
        while not _enough(samples, time.perf_counter() - begun, opts):
            pairs = []
            for _ in range(opts.batch):
                self.flush(opts.flush)
                torch.cuda._sleep(spin_cycles)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                pairs.append((start, end))
            torch.cuda.synchronize()
            samples.extend(s.elapsed_time(e) * 1e3 for s, e in pairs)
        return TimingStats(timer=f"cuda_events/flush-{opts.flush}", samples_us=tuple(samples), host_us=host)


def time_cpu(fn: Callable[[], object], opts: TimingOptions) -> TimingStats:
    """CPU clock around each call; on a GPU machine the device is synchronised after each call, so
    a host computation that ends in a copy to the GPU is timed to the copy's end."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    host = host_call_us(fn, calls=1)
    samples: list[float] = []
    begun = time.perf_counter()
    while not _enough(samples, time.perf_counter() - begun, opts):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - t0) * 1e6)
    return TimingStats(timer="cpu_clock", samples_us=tuple(samples), host_us=host)
