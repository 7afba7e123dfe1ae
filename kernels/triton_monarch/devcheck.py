"""Development check of triton_monarch on the GPU: correctness of every size, mode, dtype and
gating against float64 (fixed default configs, so it compiles each kernel once), then autotuned
timing at 64×768 with the harness's timer. Numbers that the repository relies on come from the
suites, not from here; this is the kernel's predict → measure loop (NOTES.md).

    python -m kernels.triton_monarch.devcheck [--quick | --no-check] [--time 256,...,16384 | --time '']
                                              [--fixed] [--variants]

Compiles ~56 kernels for the checks and ~70 for autotuned timing (2–4 s each on one CPU core);
split it into `--time ''` and `--no-check` if one device call's 10 minutes are too few.
"""
from __future__ import annotations

import argparse
import time

import torch

from fftbench.inputs import make_inputs
from fftbench.problem import Problem, pow2_lengths
from fftbench.timing import GpuTimer
from kernels.devcheck import check_point, problems, time_point
from kernels.triton_monarch import SEQLENS, default_config, triton_monarch, unsupported_reason


def check_all(shapes) -> bool:
    """Every N × mode × dtype × gating on each shape (odd B: a pair with one row), then partial
    and frequency-sparse causal problems (dense work, zeroed spectrum); fixed default configs,
    so each kernel compiles once."""
    cases = problems(shapes, pow2_lengths(*SEQLENS))
    cases += [Problem(3, 5, n, dtype, "causal", kernel_len=n // 4, freq_sparsity=0.5)
              for n in (1024, 16384) for dtype in ("fp16", "bf16")]
    prepare = lambda problem, inputs: triton_monarch(problem, inputs, config=default_config(problem))
    plan = lambda problem, inputs, prepared: prepared.details["decomposition"]
    started = time.perf_counter()
    ok = all([check_point(p, prepare, plan) for p in cases])
    print(f"{len(cases)} cases in {time.perf_counter() - started:.0f} s", flush=True)
    return ok


# The causal plans were chosen from offline compiles (plan.py, NOTES.md v2); --variants times the
# other choice of kinds per pass (a pass per kind up to 8K, the smaller tiles of the brief).


def time_points(ns: list[int], fixed: bool, variants: bool) -> None:
    timer = GpuTimer(torch.device("cuda"))
    cases = [(n, mode, "fp16", False, None) for n in ns for mode in ("causal", "circular")]
    cases += [(4096, "causal", "bf16", False, None), (4096, "circular", "bf16", False, None),
              (4096, "causal", "fp16", True, None)]
    if variants:
        cases += [(n, "causal", "fp16", False, 1) for n in ns if n < 16384]
    for n, mode, dtype, gated, kinds_per_pass in cases:
        problem = Problem(64, 768, n, dtype, mode, gated=gated)
        if unsupported_reason(problem):
            print(f"{problem.label():40s} unsupported: {unsupported_reason(problem)}")
            continue
        inputs = make_inputs(problem, "cuda", seed=1)
        prepared = triton_monarch(problem, inputs, config=default_config(problem) if fixed else None,
                                  kinds_per_pass=kinds_per_pass)
        time_point(timer, problem, prepared, f"{prepared.details['decomposition']} {prepared.details['config']}")
        del inputs, prepared
        torch.cuda.empty_cache()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one small shape only")
    ap.add_argument("--time", default=",".join(map(str, pow2_lengths(*SEQLENS))), help="N to time at 64x768 ('' for none)")
    ap.add_argument("--fixed", action="store_true", help="time the default configs instead of autotuning")
    ap.add_argument("--no-check", action="store_true", help="timing only")
    ap.add_argument("--variants", action="store_true", help="also time causal N < 16K with a pass per kind")
    args = ap.parse_args()
    if not args.no_check:
        ok = check_all([(3, 5)] if args.quick else [(3, 5), (33, 4)])
        print("correctness:", "all within budget" if ok else "FAILURES", flush=True)
    if args.time:
        time_points([int(x) for x in args.time.split(",")], args.fixed, args.variants)


if __name__ == "__main__":
    main()
