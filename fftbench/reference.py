"""Float64 reference of any problem and the error metrics derived from it.

The reference covers a sample of rows (sequences) so that the 4M points fit in memory: the first
and the last row and others drawn at random from a seed recorded with the point, so that no
fixed set of rows is ever the only one a backend is checked on and any row can be re-checked.
The backend's full output is still scanned for non-finite values.
"""
from __future__ import annotations

import dataclasses
import math
import random

import torch

from fftbench.inputs import Inputs, kernel_spectrum
from fftbench.problem import Problem

# Default budgets on relative L2 error; suites may override them per dtype.
DEFAULT_BUDGETS = {"fp32": 1e-5, "fp16": 2e-3, "bf16": 1.5e-2}

# Rows checked: at least MIN_CHECKED_ROWS (or every row), more while they hold at most
# _REF_ELEMENT_CAP reference elements (complex128 of size F each).
MIN_CHECKED_ROWS = 64
_REF_ELEMENT_CAP = 1 << 24


def draw_seed() -> int:
    """A fresh seed for one point's row sample (recorded in its row as ref_seed)."""
    return random.SystemRandom().randrange(1 << 31)


def checked_rows(problem: Problem, seed: int = 0) -> torch.Tensor:
    """Sorted indices into the flattened (B·H) rows that the reference covers: rows 0 and B·H−1
    always, the others drawn without replacement from `seed`."""
    n = problem.rows
    count = min(n, max(MIN_CHECKED_ROWS, _REF_ELEMENT_CAP // problem.fft_size))
    if count == n:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    inner = torch.randperm(n - 2, generator=gen)[: count - 2] + 1
    return torch.cat([torch.tensor([0, n - 1]), inner]).sort().values


def reference(problem: Problem, inputs: Inputs, rows: torch.Tensor) -> torch.Tensor:
    """y in float64 for the given flattened rows: shape (len(rows), N). Computed a chunk of rows
    at a time so that the transient complex128 spectra stay within the element cap."""
    chunk = max(1, _REF_ELEMENT_CAP // problem.fft_size)
    return torch.cat([_reference_rows(problem, inputs, rows[i:i + chunk]) for i in range(0, len(rows), chunk)])


def _reference_rows(problem: Problem, inputs: Inputs, rows: torch.Tensor) -> torch.Tensor:
    n = problem.seqlen
    flat = lambda t: t.reshape(problem.rows, n)[rows.to(t.device)].to(torch.float64)
    u = flat(inputs.u)
    if problem.gated:
        u = u * flat(inputs.w)
    k = inputs.k[(rows % problem.channels).to(inputs.k.device)]
    k_f = kernel_spectrum(problem, k, dtype=torch.complex128)
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


def check_call(problem: Problem, inputs: Inputs, run, seed: int | None = None) -> ErrorReport:
    """Poison the output buffer, make one call and measure it against float64: the whole
    correctness check of a backend's closure, as the tests and benchmarks make it (rows drawn
    from `seed`, a fresh one when None)."""
    inputs.poison_output()
    out = run()
    rows = checked_rows(problem, draw_seed() if seed is None else seed)
    return measure_error(problem, out, reference(problem, inputs, rows), rows)

