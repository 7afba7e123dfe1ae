"""Development check of triton_monarch on the GPU: correctness of every size, mode, dtype and
gating against float64 (fixed default configs, so it compiles each kernel once), then autotuned
timing at 64×768 with the harness's timer. Numbers that the repository relies on come from the
suites, not from here; this is the kernel's predict → measure loop (NOTES.md).

    python -m kernels.triton_monarch.devcheck [--quick | --no-check] [--time 256,...,32768 | --time '']
                                              [--fixed] [--variants]
    python -m kernels.triton_monarch.devcheck --split [--no-check | --time '']

Compiles ~64 kernels for the checks and ~75 for autotuned timing (2–4 s each on one CPU core);
split it into `--time ''` and `--no-check` if one device call's 10 minutes are too few.
--split checks only the split plans (32K, and 16K forced split; two launch pairs or more: 34
cases, ~32 kernels to compile) and times them (18 points, ~20 compiles): 16×768×32K with its
rows-kernel configs and scratch sizes, 32×768×16K with both 16K plans (fused, autotuned; split) —
as many samples as 64×768×16K at half the batch.
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


def check_all(shapes, split_only: bool = False) -> bool:
    """Every N × mode × dtype × gating on each shape (odd B: a pair with one row), the 16K split
    plan likewise, then partial and frequency-sparse causal problems (dense work, zeroed
    spectrum); fixed default configs, so each kernel compiles once; split plans with 1 MiB of
    scratch, so that they run over several launch pairs. split_only: 32K and split 16K only."""
    sparse = [Problem(3, 5, n, dtype, "causal", kernel_len=n // 4, freq_sparsity=0.5)
              for n in ((32768,) if split_only else (1024, 16384, 32768)) for dtype in ("fp16", "bf16")]
    fused = [] if split_only else problems(shapes, pow2_lengths(SEQLENS[0], 16384))
    split_16k = problems(shapes, [16384])
    cases = [(p, None) for p in fused + problems(shapes, [32768]) + sparse] + [(p, True) for p in split_16k]
    note = lambda problem, inputs, prepared: f"{prepared.details['decomposition']}; {prepared.details['config']}"

    def prepare(split: bool | None):
        return lambda problem, inputs: triton_monarch(problem, inputs, config=default_config(problem, split),
                                                      split=split, scratch_mib=1.0)

    started = time.perf_counter()
    ok = all([check_point(p, prepare(split), note) for p, split in cases])
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


# Split plans (NOTES.md, split): rows-kernel configs (warps, pairs, register cap), and scratch per
# launch pair (MiB; None: the whole problem in one launch pair, the scratch then goes through HBM).
_SPLIT_CONFIGS = ((8, 1, 128), (8, 1, None), (16, 1, None))
_SCRATCH_MIB = (24.0, 8.0, None)


def time_split() -> None:
    """16×768×32K: every rows-kernel config at the default scratch, the default config at every
    scratch size, then circular, bf16, gated; 32×768×16K both modes: the fused plan (autotuned),
    then the split plan as at 32K."""
    timer = GpuTimer(torch.device("cuda"))
    default, default_mib = _SPLIT_CONFIGS[0], _SCRATCH_MIB[0]
    cases = []  # (problem, split, rows-kernel config, scratch MiB)
    for problem, split in [(Problem(16, 768, 32768, "fp16", "causal"), None),
                           (Problem(32, 768, 16384, "fp16", "causal"), True),
                           (Problem(32, 768, 16384, "fp16", "circular"), True)]:
        if split:
            cases.append((problem, False, None, None))
        cases += [(problem, split, config, default_mib) for config in _SPLIT_CONFIGS]
        cases += [(problem, split, default, mib) for mib in _SCRATCH_MIB[1:]]
    cases += [(Problem(16, 768, 32768, dtype, mode, gated=gated), None, default, default_mib)
              for dtype, mode, gated in (("fp16", "circular", False), ("bf16", "causal", False), ("fp16", "causal", True))]
    for problem, split, config, mib in cases:
        inputs = make_inputs(problem, "cuda", seed=1)
        prepared = triton_monarch(problem, inputs, config=config, split=split, scratch_mib=mib)
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
    ap.add_argument("--split", action="store_true", help="the split plans only: their checks, then time_split")
    args = ap.parse_args()
    if not args.no_check:
        ok = check_all([(3, 5)] if args.quick else [(3, 5), (33, 4)], args.split)
        print("correctness:", "all within budget" if ok else "FAILURES", flush=True)
    if args.split and args.time:
        time_split()
    elif args.time:
        time_points([int(x) for x in args.time.split(",")], args.fixed, args.variants)


if __name__ == "__main__":
    main()
