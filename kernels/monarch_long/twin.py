"""CPU twin of the long-range passes (long.cu): the plan (plan.py) executed in torch with the
kernels' rounding points, built from the on-chip twin's pieces (StageTwin, PairMap).

Rounding points, as in the kernels: inputs and outputs (and the gating products) in the problem
dtype; inside, fp16 for both fp16 and bf16 problems — every stage's result and every value
written to T; the outer twiddle and the pair map in fp32 on fp16 values. Twiddles here are exact
(rounded to fp32); the kernels use the SFU (|error| < 1e-6).
"""
from __future__ import annotations

import torch

from fftbench.inputs import torch_dtype
from fftbench.problem import Problem
from kernels.monarch_long.stage_plan import pair_coefficients
from kernels.monarch_long.stage_twin import PairMap, StageTwin, fold, round_to, run_rows, unfold
from kernels.monarch_long.plan import LongPlan

COMPUTE_DTYPE = torch.float16  # long.cu: kComputeBf16 = false


class LongTwin:
    def __init__(self, problem: Problem, k: torch.Tensor, plan: LongPlan | None = None):
        self.problem = problem
        self.plan = plan or LongPlan.for_problem(problem)
        self.dtype = torch_dtype(problem.dtype)
        self.compute = COMPUTE_DTYPE
        self.outer = StageTwin(self.plan.outer, self.compute)
        self.inner = StageTwin(self.plan.inner, self.compute)
        self.twiddle = self.plan.outer_twiddle().to(torch.complex64)  # [p1][m2]
        ks, local, rows = self.plan.slot_layout()
        n2 = self.plan.n2
        flat = rows[:, None, :].expand(-1, ks.shape[1], -1).gather(-1, local // n2) * n2 + local % n2  # T positions
        ks, pos_k, pos_mk = ks.reshape(-1), flat[..., 0].reshape(-1), flat[..., 1].reshape(-1)
        pairs, scale = self.plan.pair_spectrum(problem, k.detach().cpu())
        valid = ks >= 0
        pairs = pairs.reshape(pairs.shape[0], -1, 4)[:, valid]
        coef = pair_coefficients(pairs, scale, self.plan.m, ks[valid])
        self.pairs = PairMap(coef, pos_k[valid], pos_mk[valid], self.compute)

    def _outer_twiddle(self, re, im, conj: bool):
        """re, im: (rows, N1, N2) in [p1][m2] order; multiply by W_M^{±m2·k1} in fp32, round."""
        tr, ti = self.twiddle.real, (-self.twiddle.imag if conj else self.twiddle.imag)
        return round_to(re * tr - im * ti, self.compute), round_to(re * ti + im * tr, self.compute)

    def rows(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        n1, n2, rows = self.plan.n1, self.plan.n2, x.shape[0]
        columns = lambda t: t.reshape(rows, n1, n2).transpose(1, 2).reshape(rows * n2, n1)
        grid = lambda t: t.reshape(rows, n2, n1).transpose(1, 2)  # back to [p1][m2]
        re, im = (round_to(t, self.compute) for t in fold(x, self.plan.m))
        # pass A: the N1-point transform of every column m2, then the outer twiddle → T
        re, im = self.outer.forward(columns(re), columns(im))
        re, im = self._outer_twiddle(grid(re), grid(im), conj=False)
        # pass B: rows of T through the inner transform, the pair map and back
        re, im = self.inner.forward(re.reshape(rows * n1, n2), im.reshape(rows * n1, n2))
        re, im = self.pairs(re.reshape(rows, -1), im.reshape(rows, -1), h)
        re, im = self.inner.inverse(re.reshape(rows * n1, n2), im.reshape(rows * n1, n2))
        # pass C: conjugate twiddle, inverse N1-point transform of every column
        re, im = self._outer_twiddle(re.reshape(rows, n1, n2), im.reshape(rows, n1, n2), conj=True)
        re, im = self.outer.inverse(columns(re), columns(im))
        return unfold(grid(re).reshape(rows, -1), grid(im).reshape(rows, -1), self.problem.seqlen)

    def __call__(self, u, v=None, w=None, out=None) -> torch.Tensor:
        return run_rows(self.problem, self.dtype, self.rows, u, v, w, out)
