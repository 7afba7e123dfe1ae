"""Development check of monarch_cuda on the GPU: correctness of every size, mode, dtype and gating
against float64 (and the CPU twin), then timing of launch variants with the harness's timer.
Numbers that the repository relies on come from the suites, not from here; this is the
kernel's predict → measure loop (NOTES.md).

    python -m kernels.monarch_cuda.devcheck [--quick] [--time 1024,4096] [--variants] [--source FILE]

--source builds the v2 kernel from FILE instead of monarch.cu (a candidate edit, e.g. a copy kept
under /tmp or carried in a git-ignored folder), checked and timed the same way, so one device call
can measure the committed kernel and its candidates side by side before a candidate is committed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

import kernels.monarch_cuda as backend
from fftbench.cuda_build import COMMON_HEADERS, COMMON_SOURCES, CudaLibrary
from fftbench.inputs import make_inputs
from fftbench.problem import Problem, pow2_lengths
from fftbench.timing import GpuTimer
from kernels.devcheck import check_point, problems, time_point
from kernels.monarch_cuda import monarch_cuda
from kernels.monarch_cuda.plan import SEQLENS
from kernels.monarch_cuda.twin import Twin


def vs_twin(problem, inputs, prepared) -> str:
    """The kernel's output against its CPU twin's (same decomposition and rounding points)."""
    cpu = lambda t: None if t is None else t.cpu()
    twin = Twin(problem, inputs.k.cpu())(cpu(inputs.u), cpu(inputs.v), cpu(inputs.w)).float()
    return f"vs twin {((inputs.out.cpu().float() - twin).norm() / twin.norm()).item():.1e}"


def use_source(source: Path) -> CudaLibrary:
    """Build the backend's v2 library from `source` from now on (its includes resolve as they do
    from monarch.cu's folder)."""
    backend.LIBRARY = CudaLibrary(f"monarch_cuda_candidate_{source.stem}", sources=(source.resolve(), *COMMON_SOURCES),
                                  headers=COMMON_HEADERS, include_dirs=(str(Path(backend.__file__).parent),))
    backend._library.cache_clear()
    return backend.LIBRARY


def time_points(ns, variants: bool) -> None:
    timer = GpuTimer(torch.device("cuda"))
    cases = [(n, mode, "fp16", False) for n in ns for mode in ("causal", "circular")]
    cases += [(4096, "causal", "bf16", False), (4096, "circular", "bf16", False), (4096, "causal", "fp16", True)]
    for n, mode, dtype, gated in cases:
        problem = Problem(64, 768, n, dtype, mode, gated=gated)
        inputs = make_inputs(problem, "cuda", seed=1)
        for groups in [None] + ([4, 8, 32] if variants and n == 4096 else []):
            time_point(timer, problem, monarch_cuda(problem, inputs, groups=groups), f"groups per CTA {groups}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one small shape only")
    ap.add_argument("--time", default="256,512,1024,2048,4096")
    ap.add_argument("--variants", action="store_true")
    ap.add_argument("--source", type=Path, help="build the v2 kernel from this file instead of monarch.cu")
    ap.add_argument("--once", metavar="N,MODE", help="build and run one 64×768 fp16 call twice (for ncu / compute-sanitizer)")
    args = ap.parse_args()
    if args.source:
        print(f"kernel source: {use_source(args.source).sources[0]}")
    if args.once:
        n, mode = args.once.split(",")
        problem = Problem(64, 768, int(n), "fp16", mode)
        run = monarch_cuda(problem, make_inputs(problem, "cuda", seed=1)).run
        run(), run()
        torch.cuda.synchronize()
        return
    shapes = [(3, 5)] if args.quick else [(3, 5), (33, 4)]
    ok = all([check_point(p, monarch_cuda, vs_twin) for p in problems(shapes, pow2_lengths(*SEQLENS))])
    print("correctness:", "all within budget" if ok else "FAILURES")
    if ok and args.time:
        time_points([int(x) for x in args.time.split(",")], args.variants)


if __name__ == "__main__":
    main()
