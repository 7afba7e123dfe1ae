"""Monarch FFT convolution on tensor cores (CUDA, sm_90a), and its CPU twin.

monarch_twin: the CPU twin (twin.py) — the kernel's decomposition executed in torch.
monarch_cuda: the fused CUDA kernel (monarch.cu).
"""
from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch

from fftbench.cuda_build import COMMON_SOURCES, CudaLibrary, check_launch, nvcc_path
from fftbench.inputs import torch_dtype
from fftbench.problem import Problem
from fftbench.registry import Prepared, register_backend
from kernels.monarch_cuda.plan import Plan
from kernels.monarch_cuda.twin import Twin, size_reason, twin_prepared

LIBRARY = CudaLibrary("monarch_cuda", sources=(Path(__file__).with_name("monarch.cu"), *COMMON_SOURCES),
                      headers=(Path(__file__).with_name("stages.cuh"),))

SEQLENS = (256, 32768)
TWIN_MAX_ELEMENTS = 1 << 22


def _twin_supports(problem: Problem) -> str | None:
    return size_reason(problem, TWIN_MAX_ELEMENTS)


@register_backend(
    "monarch_twin", family="monarch", dtypes=("fp16", "bf16"), seqlens=SEQLENS, pow2_only=True,
    features={"gating", "partial", "freq_sparse"}, device="any", supports=_twin_supports,
)
def monarch_twin(problem: Problem, inputs) -> Prepared:
    """CPU twin of the Monarch CUDA kernel (same decomposition and rounding); no work is skipped."""
    return twin_prepared(Twin(problem, inputs.k), inputs)


def _requires() -> str | None:
    if nvcc_path() is None:
        return "nvcc not found (set CUDA_HOME or put nvcc on PATH)"
    if not torch.cuda.is_available():
        return "needs a CUDA GPU; none is visible"
    major, minor = torch.cuda.get_device_capability()
    if major != 9:
        return f"needs compute capability 9.x (sm_90a); this GPU is {major}.{minor}"
    return None


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
    """(sequences per block, threads): at least 8K positions (32 KB of shared memory) per block;
    4 warps for 8K positions, 16 for larger sequences (measured: dev/monarch/bench.py sweep)."""
    positions = max(m, 8192)
    return positions // m, (128 if positions <= 8192 else 512)


@functools.cache
def _library() -> ctypes.CDLL:
    lib = LIBRARY.load()
    lib.monarch_conv_launch.restype = ctypes.c_int
    lib.monarch_conv_launch.argtypes = [ctypes.c_void_p] * 8 + [ctypes.c_int] * 12 + [ctypes.c_void_p]
    return lib


def _dft_operands(plan: Plan, dtype: torch.dtype) -> torch.Tensor:
    """F16 re, F16 im, F8 re, F8 im in the dtype, flattened (640 values), as the kernel expects."""
    parts = []
    for r in (16, 8):
        f = plan.dft_matrix(r)
        parts += [f.real.to(dtype).reshape(-1), f.imag.to(dtype).reshape(-1)]
    return torch.cat(parts)


def swizzle(pos: torch.Tensor) -> torch.Tensor:
    """The kernel's shared-memory layout (monarch.cu, swz): the 16-byte chunk index's 3-bit groups
    XOR-folded into its low 3 bits."""
    c = pos >> 3
    f = (c ^ (c >> 3) ^ (c >> 6) ^ (c >> 9) ^ (c >> 12)) & 7
    return (((c & ~7) | f) << 3) | (pos & 7)


def _pair_positions(plan: Plan) -> torch.Tensor:
    """For k = 0 … M/2: swizzled positions of bins k and M-k packed in one int32 (16 bits each)."""
    k = torch.arange(plan.m // 2 + 1)
    q1 = swizzle(plan.position_of(k))
    q2 = swizzle(plan.position_of((plan.m - k) % plan.m))
    return (q1 | (q2 << 16)).to(torch.int64).to(torch.int32)


@register_backend(
    "monarch_cuda", family="monarch", dtypes=("fp16", "bf16"), seqlens=SEQLENS, pow2_only=True,
    features={"gating", "partial", "freq_sparse"}, device="cuda", requires=_requires,
    flops=executed_flops,
)
def monarch_cuda(problem: Problem, inputs, config: tuple[int, int] | None = None) -> Prepared:
    """Fused Monarch FFT convolution on tensor cores (mma.sync), one kernel, sm_90a."""
    plan = Plan.for_problem(problem)
    device = inputs.u.device
    dtype = torch_dtype(problem.dtype)
    pairs, scale = (t.to(device) for t in plan.pair_spectrum(problem, inputs.k))
    mats = _dft_operands(plan, dtype).to(device)
    pair_pos = _pair_positions(plan).to(device)
    spb, threads = config or launch_config(plan.m)
    radices = list(plan.radices) + [0] * (4 - len(plan.radices))
    lib = _library()
    u, v, w, out = inputs.u.contiguous(), inputs.v, inputs.w, inputs.out
    v, w = (None if t is None else t.contiguous() for t in (v, w))
    for name, t in (("u", u), ("v", v), ("w", w), ("out", out)):
        if t is not None and (t.data_ptr() % 16 or not t.is_contiguous()):
            raise ValueError(f"monarch_cuda: {name} must be contiguous and 16-byte aligned (16-byte vector access)")
    ptr = lambda t: None if t is None else t.data_ptr()
    args = (ptr(u), ptr(v), ptr(w), out.data_ptr(), pairs.data_ptr(), scale.data_ptr(), pair_pos.data_ptr(), mats.data_ptr(),
            problem.batch, problem.channels, problem.seqlen, int(problem.mode == "causal"),
            int(problem.dtype == "bf16"), len(plan.radices), *radices, spb, threads)
    keep = (u, v, w, pairs, scale, pair_pos, mats)  # the closure holds every buffer the kernel reads

    def run():
        code = lib.monarch_conv_launch(*args, torch.cuda.current_stream(device).cuda_stream)
        check_launch(lib, code, "monarch_conv_launch")
        return out

    run.keep = keep
    details = {"decomposition": plan.name, "seqs_per_block": spb, "threads": threads,
               "work_skipped": "causal zero half only; partial and frequency-sparse problems run dense"}
    return Prepared(run=run, details=details)
