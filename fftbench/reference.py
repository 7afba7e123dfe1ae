"""Float64 reference of any problem and the error metrics derived from it.

The reference is computed for a subset of rows (sequences) so that the 4M points fit in memory;
the rows checked are spread over the whole batch, and the backend's full output is still checked
for non-finite values.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from fftbench.inputs import Inputs, kernel_spectrum
from fftbench.problem import Problem

# Default budgets on relative L2 error; suites may override them per dtype.
DEFAULT_BUDGETS = {"fp32": 1e-5, "fp16": 2e-3, "bf16": 1.5e-2}

# Rows checked against float64: at most this many reference elements (complex128 of size F each).
_REF_ELEMENT_CAP = 1 << 24


def checked_rows(problem: Problem) -> torch.Tensor:
    """Indices into the flattened (B·H) rows that the reference covers, spread evenly."""
    n_rows = max(1, min(problem.rows, _REF_ELEMENT_CAP // problem.fft_size))
    return torch.linspace(0, problem.rows - 1, n_rows).round().long().unique()


def reference(problem: Problem, inputs: Inputs, rows: torch.Tensor) -> torch.Tensor:
    """y in float64 for the given flattened rows: shape (len(rows), N)."""
    n, h = problem.seqlen, problem.channels
    flat = lambda t: t.reshape(problem.rows, n)[rows.to(t.device)].to(torch.float64)
    u = flat(inputs.u)
    if problem.gated:
        u = u * flat(inputs.w)
    k_f = kernel_spectrum(problem, inputs.k, dtype=torch.complex128)[(rows % h).to(inputs.k.device)]
    y = torch.fft.irfft(torch.fft.rfft(u, n=problem.fft_size) * k_f, n=problem.fft_size)[:, :n]
    if problem.gated:
        y = y * flat(inputs.v)
    return y


@dataclasses.dataclass
class ErrorReport:
    rel_l2_err: float
    max_abs_err: float
    nonfinite: int

    def within(self, budget: float) -> bool:
        return self.nonfinite == 0 and math.isfinite(self.rel_l2_err) and self.rel_l2_err <= budget


def measure_error(problem: Problem, out: torch.Tensor, ref: torch.Tensor, rows: torch.Tensor) -> ErrorReport:
    if tuple(out.shape) != (problem.batch, problem.channels, problem.seqlen):
        raise ValueError(f"output shape {tuple(out.shape)} != {(problem.batch, problem.channels, problem.seqlen)}")
    nonfinite = int((~torch.isfinite(out)).sum().item())
    got = out.reshape(problem.rows, problem.seqlen)[rows.to(out.device)].to(torch.float64).to(ref.device)
    diff = got - ref
    rel = (torch.linalg.vector_norm(diff) / torch.linalg.vector_norm(ref)).item()
    max_abs = diff.abs().max().item()
    return ErrorReport(rel_l2_err=rel, max_abs_err=max_abs, nonfinite=nonfinite)


def check_call(problem: Problem, inputs: Inputs, run) -> ErrorReport:
    """Poison the output buffer, make one call and measure it against float64: the whole
    correctness check of a backend's closure, as the tests and benchmarks make it."""
    inputs.poison_output()
    out = run()
    rows = checked_rows(problem)
    return measure_error(problem, out, reference(problem, inputs, rows), rows)

