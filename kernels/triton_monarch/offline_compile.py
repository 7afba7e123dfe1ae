"""Compile the Triton kernel for sm_90 without a GPU (Triton's own ptxas and cuobjdump) and print
registers, stack bytes and static SASS instructions per thread: how NOTES.md (v2) compared plans
and schedules before any device time. Static counts hold the pass loop's body once; with a pass
per kind it runs twice.

    python -m kernels.triton_monarch.offline_compile causal 1024 4 [--maxnreg 128] [--radices 32x32] [--kp 1]
    python -m kernels.triton_monarch.offline_compile causal 16384 8 --split   (32K: split by default)
(a split plan's warps and register cap are its rows kernel's; its columns kernel runs 4 warps)
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from fftbench.problem import Problem
from kernels.triton_monarch.kernel import monarch_columns_kernel, monarch_conv_kernel, monarch_rows_kernel
from kernels.triton_monarch.plan import Plan

_POINTERS = ("u_ptr", "v_ptr", "w_ptr", "y_ptr", "d_ptr", "m1_ptr", "m2_ptr", "m3_ptr", "g1_ptr", "spec_ptr")


def _stats(fn, constants: dict, warps: int, maxnreg: int | None) -> dict:
    """Compile fn (fp16 operands and I/O, fp32 twiddles, i32 sizes) for sm_90; registers, stack
    bytes, shared bytes, static SASS instructions per thread."""
    signature = {name: "*fp16" if name in _POINTERS else "*fp32" if name.endswith("_ptr")
                 else "constexpr" if name in constants else "i32" for name in fn.arg_names}
    options = {"num_warps": warps, "num_stages": 1, **({"maxnreg": maxnreg} if maxnreg else {})}
    compiled = triton.compile(ASTSource(fn=fn, signature=signature, constexprs=constants),
                              target=GPUTarget("cuda", 90, 32), options=options)
    tools = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        usage = subprocess.run([os.path.join(tools, "cuobjdump"), "-res-usage", f.name],
                               capture_output=True, text=True, check=True).stdout
        sass = subprocess.run([os.path.join(tools, "cuobjdump"), "-sass", f.name],
                              capture_output=True, text=True, check=True).stdout
    regs, stack = (int(x) for x in re.search(r"REG:(\d+) STACK:(\d+)", usage).groups())
    return {"registers": regs, "stack_bytes": stack, "shared_bytes": compiled.metadata.shared,
            "sass_instructions": len(re.findall(r"/\*[0-9a-f]{4,}\*/", sass))}


def compile_stats(plan: Plan, warps: int, maxnreg: int | None, gated: bool = False, kept: int | None = None) -> dict:
    """The fused kernel, PAIRS = 1; `kept` of R2 spectral columns (a frequency-sparse problem's)."""
    constants = dict(R1=plan.r1, R2=plan.r2, R3=plan.r3, KINDS=plan.kinds, KP=plan.kinds_per_pass,
                     GATED=gated, PREC="tf32", PAIRS=1, KEPT=kept or plan.r2)
    return _stats(monarch_conv_kernel, constants, warps, maxnreg)


def split_compile_stats(plan: Plan, warps: int, maxnreg: int | None, gated: bool = False) -> dict:
    """A split plan's two kernels: {"rows": stats (warps, maxnreg), "columns": stats (4 warps)}."""
    rows = dict(R1=plan.r1, R2=plan.r2, R3=plan.r3, KINDS=plan.kinds, ROWS=plan.rows, GATED=gated, PREC="tf32")
    columns = dict(R1=plan.r1, L=plan.r2 * plan.r3, KINDS=plan.kinds, BC=plan.columns_block, GATED=gated, PREC="tf32")
    return {"rows": _stats(monarch_rows_kernel, rows, warps, maxnreg),
            "columns": _stats(monarch_columns_kernel, columns, 4, None)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("causal", "circular"))
    ap.add_argument("n", type=int)
    ap.add_argument("warps", type=int)
    ap.add_argument("--maxnreg", type=int)
    ap.add_argument("--radices", help="e.g. 32x32 (default: the plan table's)")
    ap.add_argument("--kp", type=int, help="kinds per pass (default: the plan table's)")
    ap.add_argument("--split", action="store_true", help="the split plan (the default at 32K): both kernels")
    ap.add_argument("--kept", type=int, help="two-stage fused plans: spectral columns kept (frequency-sparse)")
    args = ap.parse_args()
    radices = tuple(map(int, args.radices.split("x"))) if args.radices else None
    plan = Plan.for_problem(Problem(2, 1, args.n, "fp16", args.mode), radices, args.kp, args.split or None)
    head = f"{args.mode} {args.n} {plan.name}, {args.warps} warps, maxnreg {args.maxnreg}" + (
        f", {args.kept} of {plan.r2} spectral columns" if args.kept else "")
    if plan.split:
        for kernel, stats in split_compile_stats(plan, args.warps, args.maxnreg).items():
            print(f"{head}, {kernel} kernel: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    else:
        stats = compile_stats(plan, args.warps, args.maxnreg, kept=args.kept)
        print(f"{head}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
