"""Long-range Monarch FFT convolution (N = 64K … 4M): three tensor-core passes meeting in HBM.

monarch_long_twin: the CPU twin (twin.py) — the passes' decomposition executed in torch.
monarch_long: the CUDA passes (long.cu), all rows per pass or per group of rows (LaunchConfig).
"""
from __future__ import annotations

import ctypes
import dataclasses
import functools
from pathlib import Path

import torch

from fftbench.cuda_build import COMMON_SOURCES, CudaLibrary, check_launch, hopper_reason
from fftbench.problem import Problem
from fftbench.registry import Prepared, register_backend
from kernels.monarch_long.stage_plan import dft_operands, swizzle
from kernels.twins import size_reason, twin_prepared
from kernels.monarch_long.plan import LongPlan
from kernels.monarch_long.twin import COMPUTE_DTYPE, LongTwin

HERE = Path(__file__).parent
LIBRARY = CudaLibrary("monarch_long", sources=(HERE / "long.cu", *COMMON_SOURCES),
                      headers=(HERE / "stages.cuh",))

SEQLENS = (65536, 4194304)
TWIN_SEQLENS = (16384, 4194304)  # the twin also runs the decomposition below the CUDA range (N1 = N2 = 128 at 16K causal)
TWIN_MAX_ELEMENTS = 1 << 23


def _plan_reason(problem: Problem) -> str | None:
    try:
        LongPlan.for_problem(problem)
    except ValueError as e:
        return str(e)
    return None


def _twin_supports(problem: Problem) -> str | None:
    return size_reason(problem, TWIN_MAX_ELEMENTS) or _plan_reason(problem)


@register_backend(
    "monarch_long_twin", family="monarch", dtypes=("fp16", "bf16"), seqlens=TWIN_SEQLENS, pow2_only=True,
    features={"gating", "partial", "freq_sparse"}, device="any", supports=_twin_supports,
)
def monarch_long_twin(problem: Problem, inputs) -> Prepared:
    """CPU twin of the long-range passes (same decomposition and rounding); no work is skipped."""
    return twin_prepared(LongTwin(problem, inputs.k), inputs)


@dataclasses.dataclass(frozen=True)
class LaunchConfig:
    """cols: columns per outer block; slots: pair slots per inner block; threads per block (≤ 256);
    group_bytes: T per group of rows, the three passes launched per group (0: all rows at once).
    Groups small enough for T to stay in L2 (24 MB) were measured slower on the H100 — 1M causal
    19.2 ms against 15.5 ms with all rows — because the passes are bound by instruction issue,
    not HBM, and small grids leave SMs idle at each pass boundary (NOTES.md)."""
    cols: int = 0
    slots: int = 0
    group_bytes: int = 0
    threads: int = 256

    def resolve(self, plan: LongPlan, rows: int) -> tuple[int, int, int, int]:
        """(cols, slots, group_rows, threads); defaults give blocks of ≥ 8K points (32 KB of smem)."""
        cols = self.cols or max(8, 8192 // plan.n1)
        slots = self.slots or max(1, min(plan.n1 // 2, 8192 // (2 * plan.n2)))
        t_row = 4 * plan.m
        group = rows if self.group_bytes == 0 else max(1, min(rows, self.group_bytes // t_row))
        return cols, slots, group, self.threads


def executed_flops(problem: Problem) -> float:
    """Tensor-core FLOPs of both transforms' stages (8·r per complex point per radix-r stage, the
    causal first forward and last inverse outer stages halved), the fp32 twiddles (6 per point
    per twiddled stage, two outer twiddle passes), the pair map (16 per point) and gating."""
    plan = LongPlan.for_problem(problem)
    per_row = 0.0
    for sub, zero_half in ((plan.outer, problem.mode == "causal"), (plan.inner, False)):
        for j, r in enumerate(sub.radices):
            half = zero_half and j == 0 and r == 16
            per_row += 2 * (4 if half else 8) * r * plan.m
        per_row += 2 * 6 * plan.m * (len(sub.radices) - 1)
    per_row += 2 * 6 * plan.m + 16 * plan.m
    if problem.gated:
        per_row += 2 * problem.seqlen
    return problem.rows * per_row


@functools.cache
def _library() -> ctypes.CDLL:
    lib = LIBRARY.load()
    lib.monarch_long_launch.restype = ctypes.c_int
    radices = [ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    lib.monarch_long_launch.argtypes = ([ctypes.c_void_p] * 11 + [ctypes.c_int] * 7 + radices * 2 + [ctypes.c_int] * 4
                                        + [ctypes.c_void_p])
    return lib


def _kernel_tables(plan: LongPlan, device) -> dict[str, torch.Tensor]:
    """pair_pos (2, N2+1) packed swizzled slot-local positions (slots b ≥ 1, then slot 0),
    slot_rows (N1/2, 2) and outer_k (N1), int32 on the device."""
    _, local, rows = plan.slot_layout()
    sw = swizzle(local[[1, 0]])  # slot 1 stands for every slot b ≥ 1; slot 0 is special
    pair_pos = (sw[..., 0] | (sw[..., 1] << 16)).to(torch.int64).to(torch.int32)
    return {"pair_pos": pair_pos.contiguous().to(device), "slot_rows": rows.to(torch.int32).contiguous().to(device),
            "outer_k": plan.outer_k().to(device)}


@register_backend(
    "monarch_long", family="monarch", dtypes=("fp16", "bf16"), seqlens=SEQLENS, pow2_only=True,
    features={"gating", "partial", "freq_sparse"}, device="cuda", requires=hopper_reason, supports=_plan_reason,
    flops=executed_flops,
)
def monarch_long(problem: Problem, inputs, config: LaunchConfig | None = None) -> Prepared:
    """Long-range Monarch FFT convolution: outer forward, inner fused, outer inverse passes (sm_90a)."""
    plan = LongPlan.for_problem(problem)
    device = inputs.u.device
    cols, slots, group_rows, threads = (config or LaunchConfig()).resolve(plan, problem.rows)
    pairs, scale = plan.pair_spectrum(problem, inputs.k.to(device))
    tables = _kernel_tables(plan, device)
    mats = dft_operands(plan.outer, COMPUTE_DTYPE).to(device)
    T = torch.empty(group_rows, plan.m, dtype=torch.int32, device=device)
    u, v, w, out = inputs.u.contiguous(), inputs.v, inputs.w, inputs.out
    v, w = (None if t is None else t.contiguous() for t in (v, w))
    for name, t in (("u", u), ("v", v), ("w", w), ("out", out)):
        if t is not None and (t.data_ptr() % 16 or not t.is_contiguous()):
            raise ValueError(f"monarch_long: {name} must be contiguous and 16-byte aligned")
    radices = lambda sub: (ctypes.c_int * 4)(*sub.radices, *[0] * (4 - len(sub.radices)))
    outer_r, inner_r = radices(plan.outer), radices(plan.inner)
    ptr = lambda t: None if t is None else t.data_ptr()
    args = (ptr(u), ptr(v), ptr(w), out.data_ptr(), T.data_ptr(), pairs.data_ptr(), scale.data_ptr(),
            tables["pair_pos"].data_ptr(), tables["slot_rows"].data_ptr(), tables["outer_k"].data_ptr(), mats.data_ptr(),
            problem.batch, problem.channels, problem.seqlen, int(problem.mode == "causal"), int(problem.dtype == "bf16"),
            plan.n1, plan.n2, outer_r, len(plan.outer.radices), inner_r, len(plan.inner.radices),
            cols, slots, group_rows, threads)
    lib = _library()

    def run():
        code = lib.monarch_long_launch(*args, torch.cuda.current_stream(device).cuda_stream)
        check_launch(lib, code, "monarch_long_launch")
        return out

    run.keep = (u, v, w, T, pairs, scale, tables, mats, outer_r, inner_r)
    details = {"decomposition": plan.name, "cols": cols, "slots": slots, "group_rows": group_rows,
               "threads": threads, "work_skipped": "causal zero half only; partial and frequency-sparse problems run dense"}
    return Prepared(run=run, details=details)
