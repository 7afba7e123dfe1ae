"""triton_monarch: the Monarch FFT convolution written in Triton (kernel.py), one fused program per
pair of rows, autotuned over warps, pairs per program and a register cap (NOTES.md: measurements);
at 32K, where no program holds a pair's transform, a split plan: a rows kernel and a columns
kernel through a scratch buffer sized for L2, launched over slices of the pairs (fixed configs).

Runs compiled on a GPU with compute capability ≥ 8.0, or on CPU tensors under the Triton
interpreter (TRITON_INTERPRET=1), which is how CI tests it. Triton is imported only when a kernel
is prepared, so a machine without it lists the backend as unavailable instead of failing.
"""
from __future__ import annotations

import functools
import importlib.util
import math
import os

import torch

from fftbench.inputs import Inputs
from fftbench.problem import Problem
from fftbench.registry import Prepared, register_backend
from kernels.triton_monarch.plan import Plan

SEQLENS = (256, 32768)
# Split plans: the scratch of one launch pair (rows kernel, then columns kernel), so that what the
# rows kernel writes is still in L2 (50 MB on the H100/H200) when the columns kernel reads it.
SCRATCH_MIB = 24.0
_OPERAND_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
# (num_warps, pairs per program, register cap) tried by the autotuner, by the points a program
# transforms per pair, T·KINDS (the FFT size: causal runs two T-point kinds).
# One program holds a whole pass's complex tile (and, with a pass per kind, the fp32 output tile
# across passes), so registers, not shared memory, bound the blocks per SM (v1 ncu, 4K causal, 8 warps: 177
# registers, 1 block, 12.5% occupancy, issue slots 32% busy); a register cap (maxnreg=128) trades a
# few spills for a second resident block: v1 4K causal 1.47 → 1.15 ms on the H100. 16 warps and
# maxnreg=168 never won in v1 (NOTES.md); 16 warps are tried at causal 16K, which holds a
# 16K-point working tile and a 16K-point output tile (a pass per kind), and 2 warps for the
# smallest tiles, where a pass per kind compiled to the fewest instructions (NOTES.md, v2).
_CONFIGS = {
    "small": ((2, 1, None), (4, 1, None), (4, 2, None), (4, 1, 128), (8, 1, None)),
    "medium": ((4, 1, None), (4, 1, 128), (8, 1, None), (8, 1, 128)),
    "large": ((8, 1, None), (8, 1, 128)),
    "huge": ((8, 1, None), (16, 1, None)),
}


def _config_set(points: int) -> str:
    if points <= 4096:
        return "small" if points <= 2048 else "medium"
    return "large" if points <= 16384 else "huge"


def interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def unavailable_reason() -> str | None:
    if importlib.util.find_spec("triton") is None:
        return "needs the triton package"
    if interpreted():
        return None
    if not torch.cuda.is_available():
        return "needs a CUDA GPU (compute capability >= 8.0); on the CPU it runs under Triton's interpreter: set TRITON_INTERPRET=1"
    major, minor = torch.cuda.get_device_capability()
    if major < 8:
        return f"needs compute capability >= 8.0 (tensor-core tl.dot); this GPU is {major}.{minor}"
    return None


def unsupported_reason(problem: Problem) -> str | None:
    try:
        Plan.for_problem(problem)
    except ValueError:
        return (f"N = {problem.seqlen} has no plan (powers of two 256..32K, both modes: one program per "
                "pair up to 16K, split into a rows and a columns kernel at 32K)")
    if problem.dtype == "bf16" and interpreted():
        return "the Triton interpreter's tl.dot mishandles bf16 on CPU; bf16 runs compiled on a GPU only"
    return None


def executed_flops(problem: Problem) -> float:
    """Tensor-core FLOPs of the plan (Plan.flops_per_row) plus the fp32 elementwise work per
    complex point, kind and two rows: 6 per twiddle (stage-1 twiddle twice, the 3-stage product
    and stage-2 twiddle twice more), 6 for the spectrum product, and the gating products. A split
    plan executes the same count: its rows kernel's K loop and its columns kernel's gather are the
    fused plan's stage-1 dots, regrouped."""
    plan = Plan.for_problem(problem)
    kept = plan.kept_columns(problem)
    spectrum_share = 1.0 if kept is None else len(kept) / plan.r2
    elementwise = 6 * (2 + (4 if plan.r3 > 1 else 0) + spectrum_share) * plan.size * plan.kinds / 2
    gating = 2 * problem.seqlen if problem.gated else 0
    return problem.rows * (plan.flops_per_row(None if kept is None else len(kept)) + elementwise + gating)


def _prune(configs, named_args, **kwargs):
    meta = {**named_args, **kwargs}  # constexprs arrive as keyword arguments
    wanted = _CONFIGS[_config_set(meta["R1"] * meta["R2"] * meta["R3"] * meta["KINDS"])]
    return [c for c in configs if (c.num_warps, c.kwargs["PAIRS"], c.maxnreg) in wanted]


def default_config(problem: Problem, split: bool | None = None) -> tuple[int, int, int | None]:
    """(num_warps, pairs per program, register cap) used without autotuning (interpreter, checks):
    4 warps while a pair's transforms have at most 4K points in all (T·KINDS, the FFT size), else
    8, and 16 at causal 16K (the output tile lives beside the working tile: 8 warps would need
    256 registers for the two). Split plans (never autotuned): the rows kernel's, by its (16, L)
    tile — from 4K points 8 warps capped at 128 registers, the fused plans' winner at 4K causal
    and 8K circular (ptxas sm_90, the 8K-point tile of 16K and 32K: 176 registers uncapped, one
    block per SM; 128 and 32 B of stack capped, two; NOTES.md, split)."""
    plan = Plan.for_problem(problem, split=split)
    if plan.split:
        return (8, 1, 128) if plan.rows * plan.r2 * plan.r3 >= 4096 else (4, 1, None)
    points = problem.fft_size
    return (4, 1, None) if points <= 4096 else (8, 1, None) if points <= 16384 else (16, 1, None)


@functools.cache
def _split_kernels():
    """(rows kernel, columns kernel), imported on first use."""
    from kernels.triton_monarch.kernel import monarch_columns_kernel, monarch_rows_kernel

    return monarch_rows_kernel, monarch_columns_kernel


@functools.cache
def _kernels():
    """(jit kernel, autotuned kernel), imported on first use."""
    import triton

    from kernels.triton_monarch.kernel import monarch_conv_kernel

    every = sorted({c for cs in _CONFIGS.values() for c in cs}, key=str)
    configs = [triton.Config({"PAIRS": p}, num_warps=w, num_stages=1, maxnreg=r) for w, p, r in every]
    tuned = triton.autotune(configs, key=["R1", "R2", "R3", "KINDS", "KP", "GATED", "PREC", "KEPT", "n_pairs"],
                            prune_configs_by={"early_config_prune": _prune})(monarch_conv_kernel)
    return monarch_conv_kernel, tuned


@register_backend(
    "triton_monarch", family="triton", dtypes=("fp16", "bf16", "fp32"), seqlens=SEQLENS, pow2_only=True,
    features={"gating", "partial", "freq_sparse"}, device="any", requires=unavailable_reason,
    supports=unsupported_reason, flops=executed_flops,
)
def triton_monarch(problem: Problem, inputs: Inputs, config: tuple[int, int, int | None] | None = None,
                   radices: tuple[int, ...] | None = None, kinds_per_pass: int | None = None,
                   split: bool | None = None, scratch_mib: float | None = SCRATCH_MIB) -> Prepared:
    """Monarch FFT convolution in Triton (tl.dot stages; fused and autotuned up to 16K, split at 32K).

    config=(num_warps, pairs per program, register cap or None) skips autotuning (always skipped
    under the interpreter; split plans are never autotuned, config sets their rows kernel's);
    radices, kinds_per_pass and split override the plan's (for exploring others); scratch_mib
    bounds a split plan's scratch per launch pair (None: the whole problem in one launch pair)."""
    plan = Plan.for_problem(problem, radices, kinds_per_pass, split)
    device = inputs.u.device
    op = _OPERAND_DTYPES[problem.dtype]
    kept = plan.kept_columns(problem)
    mats = [plan.stage1_matrices(op).to(device)] + [plan.dft_matrix(r, op).to(device) for r in plan.radices[1:]]
    if len(mats) == 2:  # two stages: stage 2 forward F2[:, kept] and inverse F2[kept, :] (m2, m3)
        f2 = mats[1]
        mats[1:] = [f2, f2] if kept is None else [f2[:, :, kept].contiguous(), f2[:, kept, :].contiguous()]
    tables = (*mats, *(t.to(device) for t in plan.twiddles()),
              plan.spectrum(problem, inputs.k, torch.float32 if op == torch.float32 else torch.float16).to(device))
    skipped = (f"frequency-sparse: stage 2 computes {len(kept)} of {plan.r2} spectral columns (the rest hold "
               "only zero bins)" if kept else "partial and frequency-sparse problems otherwise multiply by the "
               "dense (zeroed) spectrum (NOTES.md: v2)")
    details = {"decomposition": plan.name, "pairing": "rows b, b+1 of a channel as one complex sequence",
               "skips_work": "causal: the zero padding is never transformed (two N-point kinds); " + skipped}
    u = inputs.u.contiguous()
    v = inputs.v.contiguous() if problem.gated else u
    w = inputs.w.contiguous() if problem.gated else u
    out = inputs.out
    n_pairs = math.ceil(problem.batch / 2)
    if plan.split:
        return _split(problem, plan, (u, v, w, out), tables, config or default_config(problem, True), scratch_mib, details)
    args = (u, v, w, out, *tables, problem.batch, problem.channels, problem.seqlen, n_pairs)
    # input_precision matters only for fp32 operands (exact "ieee", not TF32); fp16/bf16 ignore it
    meta = dict(R1=plan.r1, R2=plan.r2, R3=plan.r3, KINDS=plan.kinds, KP=plan.kinds_per_pass,
                GATED=problem.gated, PREC="ieee" if op == torch.float32 else "tf32",
                KEPT=plan.r2 if kept is None else len(kept))
    kernel, tuned = _kernels()

    if config is not None or interpreted():  # a fixed configuration, no autotuning
        warps, pairs, maxnreg = config or default_config(problem)
        grid = (problem.channels * math.ceil(n_pairs / pairs),)
        cap = {} if maxnreg is None else {"maxnreg": maxnreg}

        def run():
            kernel[grid](*args, **meta, PAIRS=pairs, num_warps=warps, num_stages=1, **cap)
            return out

        details["config"] = f"PAIRS={pairs}, num_warps={warps}, num_stages=1, maxnreg={maxnreg} (fixed)"
        return Prepared(run=run, details=details)

    import triton

    def run():
        grid = lambda m: (problem.channels * triton.cdiv(n_pairs, m["PAIRS"]),)
        tuned[grid](*args, **meta)
        return out

    run()  # compiles and autotunes outside the timed region; the chosen config goes into details
    best = tuned.best_config
    details["config"] = (f"PAIRS={best.kwargs['PAIRS']}, num_warps={best.num_warps}, "
                         f"num_stages={best.num_stages}, maxnreg={best.maxnreg}")
    return Prepared(run=run, details=details)


def _split(problem: Problem, plan: Plan, io: tuple, tables: tuple, config: tuple[int, int, int | None],
           scratch_mib: float | None, details: dict) -> Prepared:
    """A split plan's launches: per slice of the (channel, pair) slots, the rows kernel (PASSES
    programs a pair) writes the slice's scratch, then the columns kernel (L/BC programs a pair)
    reads it back — from L2 while the scratch fits there."""
    warps, pairs, maxnreg = config
    if pairs != 1:
        raise ValueError("a split plan runs one pair per program")
    u, v, w, out = io
    op = tables[0].dtype
    length, bc = plan.r2 * plan.r3, plan.columns_block
    n_pairs = math.ceil(problem.batch / 2)
    slots = problem.channels * n_pairs
    slot_bytes = 2 * plan.kinds * plan.size * op.itemsize  # (2, KINDS·R1, L)
    per_launch = slots if scratch_mib is None else max(1, min(slots, int(scratch_mib * 2**20) // slot_bytes))
    scratch = torch.empty(per_launch, 2, plan.kinds * plan.r1, length, dtype=op, device=u.device)
    g1 = plan.gather_matrix(op).to(u.device)
    sizes = (problem.batch, problem.channels, problem.seqlen, n_pairs)
    prec = "ieee" if op == torch.float32 else "tf32"
    rows_meta = dict(R1=plan.r1, R2=plan.r2, R3=plan.r3, KINDS=plan.kinds, ROWS=plan.rows, GATED=problem.gated,
                     PREC=prec, num_warps=warps, num_stages=1, **({} if maxnreg is None else {"maxnreg": maxnreg}))
    columns_meta = dict(R1=plan.r1, L=length, KINDS=plan.kinds, BC=bc, GATED=problem.gated, PREC=prec,
                        num_warps=4, num_stages=1)
    rows_kernel, columns_kernel = _split_kernels()

    def run():
        for first in range(0, slots, per_launch):
            n = min(per_launch, slots - first)
            rows_kernel[(n * plan.passes,)](u, w, scratch, *tables, *sizes, first, **rows_meta)
            columns_kernel[(n * (length // bc),)](v, out, scratch, g1, *sizes, first, **columns_meta)
        return out

    details["config"] = (f"rows: num_warps={warps}, num_stages=1, maxnreg={maxnreg}; columns: num_warps=4, "
                         f"BC={bc}; {per_launch} pairs per launch pair, scratch {scratch.nbytes / 2**20:.3g} MiB (fixed)")
    return Prepared(run=run, details=details)
