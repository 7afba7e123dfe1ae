"""monarch_cuda's path for N = 8K … 32K: the v4 kernel (monarch_v4.cu) on the shared-memory stage
engine that monarch_long also uses (kernels/monarch_long/stages.cuh). v2 (monarch.cu) covers
N ≤ 4K; this path stays until v2 has a second shared-memory stage (NOTES.md)."""
from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch

from fftbench.cuda_build import COMMON_HEADERS, COMMON_SOURCES, CudaLibrary, check_launch
from fftbench.inputs import torch_dtype
from fftbench.problem import Problem
from fftbench.registry import Prepared
from kernels.monarch_long.stage_plan import Plan, dft_operands, swizzle

HERE = Path(__file__).parent
LIBRARY = CudaLibrary("monarch_cuda_v4", sources=(HERE / "monarch_v4.cu", *COMMON_SOURCES),
                      headers=(HERE.parent / "monarch_long" / "stages.cuh", *COMMON_HEADERS))


def executed_flops(problem: Problem) -> float:
    """Tensor-core FLOPs (8·r per complex point per radix-r stage, halved for the causal first
    forward and last inverse stages) plus the fp32 twiddles (6 per point per twiddled stage),
    the pointwise pair map (16 per point) and the gating products."""
    plan = Plan.for_problem(problem)
    m, per_row = plan.m, 0.0
    for j, r in enumerate(plan.radices):
        half = problem.mode == "causal" and j == 0 and r == 16
        per_row += 2 * (4 if half else 8) * r * m
    per_row += 2 * 6 * m * (len(plan.radices) - 1) + 16 * m
    if problem.gated:
        per_row += 2 * problem.seqlen
    return problem.rows * per_row


def launch_config(m: int) -> tuple[int, int]:
    """(sequences per block, threads): at least 8K positions per block; 4 warps for 8K positions,
    16 for larger sequences (measured on the H100, NOTES.md v4)."""
    positions = max(m, 8192)
    return positions // m, (128 if positions <= 8192 else 512)


@functools.cache
def _library() -> ctypes.CDLL:
    lib = LIBRARY.load()
    lib.monarch_conv_launch.restype = ctypes.c_int
    lib.monarch_conv_launch.argtypes = [ctypes.c_void_p] * 8 + [ctypes.c_int] * 12 + [ctypes.c_void_p]
    return lib


def _pair_positions(plan: Plan) -> torch.Tensor:
    """For k = 0 … M/2: swizzled positions of bins k and M-k packed in one int32 (16 bits each)."""
    k = torch.arange(plan.m // 2 + 1)
    q1 = swizzle(plan.position_of(k))
    q2 = swizzle(plan.position_of((plan.m - k) % plan.m))
    return (q1 | (q2 << 16)).to(torch.int64).to(torch.int32)


def prepare(problem: Problem, inputs) -> Prepared:
    plan = Plan.for_problem(problem)
    device = inputs.u.device
    pairs, scale = (t.to(device) for t in plan.pair_spectrum(problem, inputs.k))
    mats = dft_operands(plan, torch_dtype(problem.dtype)).to(device)
    pair_pos = _pair_positions(plan).to(device)
    spb, threads = launch_config(plan.m)
    radices = list(plan.radices) + [0] * (4 - len(plan.radices))
    lib = _library()
    u, v, w, out = inputs.u.contiguous(), inputs.v, inputs.w, inputs.out
    v, w = (None if t is None else t.contiguous() for t in (v, w))
    ptr = lambda t: None if t is None else t.data_ptr()
    args = (ptr(u), ptr(v), ptr(w), out.data_ptr(), pairs.data_ptr(), scale.data_ptr(), pair_pos.data_ptr(), mats.data_ptr(),
            problem.batch, problem.channels, problem.seqlen, int(problem.mode == "causal"),
            int(problem.dtype == "bf16"), len(plan.radices), *radices, spb, threads)

    def run():
        code = lib.monarch_conv_launch(*args, torch.cuda.current_stream(device).cuda_stream)
        check_launch(lib, code, "monarch_conv_launch")
        return out

    run.keep = (u, v, w, pairs, scale, pair_pos, mats)  # the closure holds every buffer the kernel reads
    details = {"decomposition": f"v4 {plan.name}", "seqs_per_block": spb, "threads": threads,
               "work_skipped": "causal zero half only; partial and frequency-sparse problems run dense"}
    return Prepared(run=run, details=details)
