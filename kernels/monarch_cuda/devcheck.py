"""Development check of monarch_cuda on the GPU: correctness of every size, mode, dtype and gating
against float64 (and the CPU twin), then timing of launch variants with the harness's timer.
Numbers that the repository relies on come from the suites, not from here; this is the
kernel's predict → measure loop (NOTES.md).

    python -m kernels.monarch_cuda.devcheck [--quick] [--time 1024,4096] [--variants]
"""
from __future__ import annotations

import argparse
import itertools

import torch

from fftbench.cost import floor_us
from fftbench.inputs import make_inputs
from fftbench.problem import Problem, pow2_lengths
from fftbench.reference import check_call
from fftbench.timing import GpuTimer, TimingOptions
from kernels.monarch_cuda import monarch_cuda
from kernels.monarch_cuda.plan import SEQLENS
from kernels.monarch_cuda.twin import Twin

BUDGET = {"fp16": 1e-3, "bf16": 8e-3}
HBM_GBPS = 4130.0  # the harness's calibrated copy bandwidth on the lent H200


def check_all(shapes) -> bool:
    ok = True
    for (b, h), n, mode, dtype, gated in itertools.product(shapes, pow2_lengths(*SEQLENS), ("circular", "causal"), ("fp16", "bf16"), (False, True)):
        problem = Problem(b, h, n, dtype, mode, gated=gated)
        inputs = make_inputs(problem, "cuda", seed=n + b)
        try:
            err = check_call(problem, inputs, monarch_cuda(problem, inputs).run)
            twin = Twin(problem, inputs.k.cpu())(*(t.cpu() if t is not None else None for t in (inputs.u, inputs.v, inputs.w)))
            vs_twin = ((inputs.out.cpu().float() - twin.float()).norm() / twin.float().norm()).item()
            good = err.within(BUDGET[dtype])
            print(f"{'ok ' if good else 'BAD'} {problem.label():38s} rel {err.rel_l2_err:.2e} max {err.max_abs_err:.2e} "
                  f"nonfinite {err.nonfinite} vs twin {vs_twin:.1e}")
        except Exception as e:  # report and continue: one bad case must not hide the others
            good = False
            print(f"ERR {problem.label():38s} {type(e).__name__}: {e}")
        ok &= good
    return ok


def time_points(ns, variants: bool) -> None:
    timer, opts = GpuTimer(torch.device("cuda")), TimingOptions(min_time_s=0.3, max_time_s=2.0)
    print(f"{'problem':40s} {'variant':14s} {'median us':>10s} {'p20-p80':>16s} {'of floor':>8s}")
    cases = [(n, mode, dtype, gated) for n in ns for mode in ("causal", "circular") for dtype in ("fp16",) for gated in (False,)]
    cases += [(4096, "causal", "bf16", False), (4096, "circular", "bf16", False), (4096, "causal", "fp16", True)]
    for n, mode, dtype, gated in cases:
        problem = Problem(64, 768, n, dtype, mode, gated=gated)
        inputs = make_inputs(problem, "cuda", seed=1)
        floor = floor_us(problem, HBM_GBPS)
        configs = [None] + ([4, 8, 32] if variants and n == 4096 else [])
        for groups in configs:
            run = monarch_cuda(problem, inputs, groups=groups).run
            run()
            torch.cuda.synchronize()
            s = timer.time(run, opts)
            print(f"{problem.label():40s} g={groups!s:12s} {s.median:10.1f} {s._q(0.2):7.1f}-{s._q(0.8):7.1f} "
                  f"{floor / s.median:8.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one small shape only")
    ap.add_argument("--time", default="256,512,1024,2048,4096")
    ap.add_argument("--variants", action="store_true")
    ap.add_argument("--once", metavar="N,MODE", help="build and run one 64×768 fp16 call twice (for ncu / compute-sanitizer)")
    args = ap.parse_args()
    if args.once:
        n, mode = args.once.split(",")
        problem = Problem(64 if int(n) >= 256 else 4, 768, int(n), "fp16", mode)
        inputs = make_inputs(problem, "cuda", seed=1)
        run = monarch_cuda(problem, inputs).run
        run(), run()
        torch.cuda.synchronize()
        return
    shapes = [(3, 5)] if args.quick else [(3, 5), (33, 4)]
    ok = check_all(shapes)
    print("correctness:", "all within budget" if ok else "FAILURES")
    if ok and args.time:
        time_points([int(x) for x in args.time.split(",")], args.variants)


if __name__ == "__main__":
    main()
