#!/usr/bin/env python3
"""Cross-check fftbench's GPU timer against triton.testing.do_bench on one point.

Both time the same prepared closure: fftbench with a spin kernel ahead of the start event and an
L2 flush outside the events; do_bench with its own flush and events. They should agree within a
few percent; a larger gap means one of them measures something else (launch overhead, cache).

    python tools/crosscheck_timer.py --backend torch_fft --seqlen 4096 --batch 64 --channels 768
"""
import argparse

import torch
import triton.testing

from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.registry import get_backend
from fftbench.timing import GpuTimer, TimingOptions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="torch_fft")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=768)
    ap.add_argument("--seqlen", type=int, default=4096)
    ap.add_argument("--dtype", default="fp16")
    ap.add_argument("--mode", default="causal")
    args = ap.parse_args()
    problem = Problem(args.batch, args.channels, args.seqlen, dtype=args.dtype, mode=args.mode)
    inputs = make_inputs(problem, "cuda")
    run = get_backend(args.backend).prepare(problem, inputs).run
    run()
    ours = GpuTimer(torch.device("cuda")).time(run, TimingOptions(min_time_s=1.0, max_time_s=5.0))
    theirs_ms = triton.testing.do_bench(run, warmup=200, rep=1000, return_mode="median")
    gap = ours.median / (theirs_ms * 1e3) - 1
    print(f"{args.backend} {problem.label()}: fftbench median {ours.median:.1f} us "
          f"(n={len(ours.samples_us)}, host {ours.host_us:.1f} us/call); do_bench median {theirs_ms * 1e3:.1f} us; "
          f"fftbench/do_bench - 1 = {gap:+.1%}")


if __name__ == "__main__":
    main()
