#!/usr/bin/env python3
"""Does the L2 flush bias the timed call? Times points with each flush mode of the harness's own
GPU timer (fftbench.timing: write = zero the 2×L2 buffer, read = sum it, write-read = both) and
prints one table.

Zeroing leaves the L2 full of dirty lines whose write-back can be charged to the timed call; a
read leaves clean lines. A mode that reads slower than the others on the same point is biased.
Modes are interleaved round by round, so a drift of the machine falls on all of them alike.

    python tools/flush_bias.py                                   # 64x768x1K and 4K fp16 causal
    python tools/flush_bias.py --backends torch_fft,triton_monarch --rounds 5
"""
from __future__ import annotations

import argparse
import statistics
import sys

import torch

from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.registry import get_backend
from fftbench.suites import parse_seqlen
from fftbench.timing import FLUSH_MODES, GpuTimer, TimingOptions


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="torch_fft,monarch_cuda", help="comma-separated (torch_fft,monarch_cuda)")
    ap.add_argument("--seqlens", default="1K,4K", help="comma-separated (1K,4K)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=768)
    ap.add_argument("--dtype", default="fp16")
    ap.add_argument("--mode", default="causal")
    ap.add_argument("--rounds", type=int, default=3, help="timings per mode, interleaved (3)")
    return ap.parse_args(argv)


def time_modes(timer: GpuTimer, run, rounds: int) -> dict[str, list[float]]:
    """Median device time of each flush mode, once per round, modes interleaved."""
    medians = {mode: [] for mode in FLUSH_MODES}
    for _ in range(rounds):
        for mode in FLUSH_MODES:
            medians[mode].append(timer.time(run, TimingOptions(flush=mode)).median)
    return medians


def main(argv=None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print("flush_bias: needs a CUDA GPU; none is visible", file=sys.stderr)
        return 2
    try:
        backends = [get_backend(b) for b in args.backends.split(",")]
        problems = [Problem(args.batch, args.channels, parse_seqlen(n), args.dtype, args.mode)
                    for n in args.seqlens.split(",")]
    except (KeyError, ValueError) as err:
        print(f"flush_bias: {err}", file=sys.stderr)
        return 2
    timer = GpuTimer(torch.device("cuda"))
    print(f"{'backend':<16} {'point':<28} {'flush':<11} {'p50 us (median of rounds)':>26} {'range of rounds':>20} {'vs write':>9}")
    for backend in backends:
        unavailable = backend.unavailable_reason(True)
        for problem in problems:
            why = unavailable or backend.unsupported_reason(problem)
            if why:
                print(f"{backend.name:<16} {problem.label():<28} skipped: {why}")
                continue
            run = backend.prepare(problem, make_inputs(problem, "cuda")).run
            run()
            medians = time_modes(timer, run, args.rounds)
            write = statistics.median(medians["write"])
            for mode, values in medians.items():
                mid = statistics.median(values)
                print(f"{backend.name:<16} {problem.label():<28} {mode:<11} {mid:>26.1f} "
                      f"{min(values):>9.1f}–{max(values):<10.1f} {mid / write - 1:>+9.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
