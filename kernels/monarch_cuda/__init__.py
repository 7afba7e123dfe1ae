"""Monarch FFT convolution on tensor cores (CUDA, sm_90a), v2, and its CPU twin.

monarch_twin: the CPU twin — plan.py's decomposition executed in torch (twin.py), or for N > 4K
              the v4 engine's (kernels/monarch_long/stage_twin.py).
monarch_cuda: the fused CUDA kernel: v2 (monarch.cu, stages held in MMA fragments) for N ≤ 4K,
              v4 (large.py) for 8K … 32K.
Both run the bwd and fwd_bwd passes as calls of their forward engine (backward.py).
"""
from __future__ import annotations

import ctypes
import dataclasses
import functools
from pathlib import Path

import torch

from fftbench.cuda_build import COMMON_HEADERS, COMMON_SOURCES, CudaLibrary, check_launch, hopper_reason
from fftbench.inputs import torch_dtype
from fftbench.problem import PASSES, Problem
from fftbench.registry import Prepared, register_backend
from kernels.monarch_cuda import backward, large
from kernels.monarch_cuda.plan import SEQLENS as V2_SEQLENS, SLICE, TILE_ROWS, Plan, tables
from kernels.monarch_cuda.twin import Twin
from kernels.twins import size_reason, twin_prepared
from kernels.monarch_long.stage_twin import Twin as V4Twin

LIBRARY = CudaLibrary("monarch_cuda", sources=(Path(__file__).with_name("monarch.cu"), *COMMON_SOURCES),
                      headers=COMMON_HEADERS)

SEQLENS = (V2_SEQLENS[0], 32768)
TWIN_MAX_ELEMENTS = 1 << 22
FEATURES = {"gating", "partial", "freq_sparse"}


def _twin_supports(problem: Problem) -> str | None:
    return size_reason(problem, TWIN_MAX_ELEMENTS)


@register_backend(
    "monarch_twin", family="monarch", dtypes=("fp16", "bf16"), seqlens=SEQLENS, pow2_only=True,
    features=FEATURES, passes=PASSES, device="any", supports=_twin_supports,
)
def monarch_twin(problem: Problem, inputs, adjoint: bool = False) -> Prepared:
    """CPU twin of the Monarch CUDA kernel (same decomposition and rounding); no work is skipped.
    adjoint (v2 sizes): the transposed convolution, as monarch_cuda's."""
    if problem.pass_ != "fwd":
        return backward.prepare(monarch_twin, problem, inputs)
    if problem.seqlen > V2_SEQLENS[1]:
        if adjoint:
            raise ValueError("monarch_twin: the transposed convolution runs on the v2 sizes (N ≤ 4K)")
        return twin_prepared(V4Twin(problem, inputs.k), inputs)
    return twin_prepared(Twin(problem, inputs.k, adjoint), inputs)


def tiles_per_channel(problem: Problem) -> int:
    """v2's 16-row tiles of one channel: ⌈B/2⌉ row pairs, 16/R1 of them per tile."""
    pairs = (problem.batch + 1) // 2
    per_tile = TILE_ROWS // (problem.seqlen // SLICE)
    return -(-pairs // per_tile)


def executed_flops(problem: Problem) -> float:
    """v2: tensor-core FLOPs the kernel issues (each complex 16×16·16×16 product is 8 m16n8k16 MMAs of
    4096 FLOPs, zero blocks of the block-diagonal stage A included; per tile and kind: 16 chunks of
    stage A, 16 of A⁻¹, 16 slices of 4 products — 768 MMAs, as the SASS has) plus the fp32 twiddle
    and spectrum products (6 FLOPs per complex multiply, five per point per kind) and the gating products.
    bwd, fwd_bwd: backward.executed_flops from one forward call's."""
    if problem.pass_ != "fwd":
        return backward.executed_flops(problem, executed_flops(dataclasses.replace(problem, pass_="fwd")))
    if problem.seqlen > V2_SEQLENS[1]:
        return large.executed_flops(problem)
    kinds = 2 if problem.mode == "causal" else 1
    per_tile_kind = (16 + 16 + 16 * 4) * 8 * 4096 + 5 * 6 * 4096
    flops = tiles_per_channel(problem) * problem.channels * kinds * per_tile_kind
    if problem.gated:
        flops += 2 * problem.rows * problem.seqlen
    return float(flops)


def groups_per_cta(problem: Problem) -> int:
    """Tiles per CTA: a CTA owns one channel and loads its tables once, so it takes all of the
    channel's tiles (measured at 64×768×4K: 4 / 8 / 16 / 32 tiles per CTA → 934 / 865 / 814 /
    784 µs causal), up to 64."""
    return max(1, min(tiles_per_channel(problem), 64))


@functools.cache
def _library() -> ctypes.CDLL:
    lib = LIBRARY.load()
    lib.monarch_v2_launch.restype = ctypes.c_int
    lib.monarch_v2_launch.argtypes = ([ctypes.c_void_p] * 9 + [ctypes.c_longlong] * 2 + [ctypes.c_int] * 4
                                      + [ctypes.c_void_p])
    return lib


MAX_CHANNELS = 65535  # v2 launches one grid row per channel (gridDim.y)


def _supports(problem: Problem) -> str | None:
    if problem.seqlen <= V2_SEQLENS[1] and problem.channels > MAX_CHANNELS:
        return f"H = {problem.channels}: the v2 kernel takes at most {MAX_CHANNELS} channels (one grid row each)"
    return None


@register_backend(
    "monarch_cuda", family="monarch", dtypes=("fp16", "bf16"), seqlens=SEQLENS, pow2_only=True,
    features=FEATURES, passes=PASSES, device="cuda", requires=hopper_reason, supports=_supports,
    flops=executed_flops,
)
def monarch_cuda(problem: Problem, inputs, groups: int | None = None, adjoint: bool = False) -> Prepared:
    """Fused Monarch FFT convolution on tensor cores (mma.sync, stages in registers), sm_90a.
    adjoint (v2 sizes): the transposed convolution, y = v ⊙ convᵀ(u ⊙ w, k) — with u = dy,
    w = v_fwd, v = w_fwd this is the input gradient du of the forward call."""
    if problem.pass_ != "fwd":
        return backward.prepare(monarch_cuda, problem, inputs)
    if problem.seqlen > V2_SEQLENS[1]:
        if adjoint:
            raise ValueError("monarch_cuda: the transposed convolution runs on the v2 sizes (N ≤ 4K)")
        return large.prepare(problem, inputs)
    device = inputs.u.device
    plan = Plan.for_problem(problem, torch_dtype(problem.dtype))
    tabs = {name: t.to(device).contiguous() for name, t in tables(plan, problem, inputs.k, adjoint).items()}
    lib = _library()
    u, v, w, out = inputs.u.contiguous(), inputs.v, inputs.w, inputs.out
    v, w = (None if t is None else t.contiguous() for t in (v, w))
    for name, t in (("u", u), ("v", v), ("w", w), ("out", out)):
        if t is not None and (t.data_ptr() % 16 or not t.is_contiguous()):
            raise ValueError(f"monarch_cuda: {name} must be contiguous and 16-byte aligned (16-byte vector access)")
    gpc = groups or groups_per_cta(problem)
    ptr = lambda t: None if t is None else t.data_ptr()
    args = (ptr(u), ptr(v), ptr(w), out.data_ptr(), *(tabs[n].data_ptr() for n in ("mats", "tw_a", "tw_bc", "spec", "scale")),
            problem.batch, problem.channels, problem.seqlen, int(problem.mode == "causal"),
            int(problem.dtype == "bf16"), gpc)

    def run():
        code = lib.monarch_v2_launch(*args, torch.cuda.current_stream(device).cuda_stream)
        check_launch(lib, code, "monarch_v2_launch")
        return out

    run.keep = (u, v, w, tabs)  # the closure holds every buffer the kernel reads
    details = {"decomposition": plan.name, "groups_per_cta": gpc,
               "work_skipped": "causal zero half never transformed (cyclic + negacyclic split); partial and frequency-sparse run dense"}
    return Prepared(run=run, details=details)
