"""What the kernels' development checks (kernels/*/devcheck.py) share: the budgets, one checked
point printed as a line, the correctness grid, and one timed point printed as a line. Numbers the
repository relies on come from the suites; these serve a kernel's predict → measure loop."""
from __future__ import annotations

import itertools
from typing import Callable

import torch

from fftbench.cost import floor_us
from fftbench.inputs import Inputs, make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call
from fftbench.registry import Prepared
from fftbench.timing import GpuTimer, TimingOptions

BUDGET = {"fp16": 1e-3, "bf16": 8e-3}
HBM_GBPS = 4130.0  # the harness's calibrated copy bandwidth on the lent H200
TIMING = TimingOptions(min_time_s=0.3, max_time_s=2.0)


def problems(shapes, seqlens) -> list[Problem]:
    """Every N × mode × dtype × gating on each (B, H) shape."""
    return [Problem(b, h, n, dtype, mode, gated=gated)
            for (b, h), n, mode, dtype, gated in itertools.product(
                shapes, seqlens, ("causal", "circular"), ("fp16", "bf16"), (False, True))]


def check_point(problem: Problem, prepare: Callable[[Problem, Inputs], Prepared],
                note: Callable[[Problem, Inputs, Prepared], str] = lambda *_: "", device: str = "cuda") -> bool:
    """Check one point against float64 and print one line (ok / BAD / ERR); an exception is
    reported and counted, so one bad case does not hide the others."""
    inputs = make_inputs(problem, device, seed=problem.seqlen + problem.batch)
    try:
        prepared = prepare(problem, inputs)
        err = check_call(problem, inputs, prepared.run)
        good = err.within(BUDGET[problem.dtype])
        print(f"{'ok ' if good else 'BAD'} {problem.label():46s} rel {err.rel_l2_err:.2e} max {err.max_abs_err:.2e} "
              f"nonfinite {err.nonfinite}  {note(problem, inputs, prepared)}", flush=True)
        return good
    except Exception as e:  # noqa: BLE001 — report and continue
        print(f"ERR {problem.label():46s} {type(e).__name__}: {e}", flush=True)
        return False


def time_point(timer: GpuTimer, problem: Problem, prepared: Prepared, note: str) -> None:
    """Time one prepared point (after a warm-up call) and print median, p20–p80 and floor fraction."""
    prepared.run()
    torch.cuda.synchronize()
    s = timer.time(prepared.run, TIMING)
    print(f"{problem.label():40s} {note:36s} {s.median:10.1f} {s._q(0.2):8.1f}-{s._q(0.8):8.1f} "
          f"{floor_us(problem, HBM_GBPS) / s.median:8.3f}", flush=True)
