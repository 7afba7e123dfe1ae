"""The v1 stage engine's CPU twin (stages.cuh; monarch_cuda v1, now monarch_long's engine): the same plan (stage_plan.py), executed in
torch with the kernel's rounding points, so the algorithm is tested without a GPU and the kernel
can be compared against it.

Rounding points, as in the kernel: operands (data, DFT matrices) in the problem dtype (fp16 or
bf16); each stage's matrix product, twiddle multiply and the pointwise map in fp32; the result of
every stage rounded back to the dtype (the kernel stores it so in shared memory). Gated inputs:
u·w computed in fp32 and rounded; the output y·v likewise.
The kernel's spectrum pairs are fp16 here too (plan.pair_spectrum) and A, B are formed from them
in fp32 (plan.pair_coefficients). The one deliberate difference: the kernel computes twiddles
with the SFU (|error| < 1e-6) where the twin uses exact ones rounded to fp32, and its MMA
accumulation order differs. Differences that small still flip an fp16 rounding now and then, and
the flips cascade through the later rounding points: monarch_long's kernel and the twin measure
4.9e-4 apart at 64K fp16 causal (twin vs float64 8.9e-4), and a twin given the kernel's kind of
sub-fp16 differences lands as far (tools/twin_agreement.py; tests/test_monarch_long.py's
TWIN_AGREEMENT says why that bound).
"""
from __future__ import annotations

import torch

from fftbench.inputs import torch_dtype
from fftbench.problem import Problem
from kernels.monarch_long.stage_plan import Plan, pair_coefficients

_ROWS_PER_CHUNK = 256


def round_to(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """x rounded to dtype, held in fp32: a rounding point of the kernels."""
    return x.to(dtype).float()


class StageTwin:
    """The stage engine on (rows, M) re/im planes: the plan's stages in fp32 with the operands
    and every stage's result in the dtype (the kernel keeps them so in shared memory)."""

    def __init__(self, plan: Plan, dtype: torch.dtype):
        self.plan, self.dtype = plan, dtype
        self.mats = {r: (round_to(plan.dft_matrix(r).real, dtype), round_to(plan.dft_matrix(r).imag, dtype))
                     for r in set(plan.radices)}
        self.twiddles = [plan.twiddles(j).to(torch.complex64) for j in range(len(plan.radices) - 1)]

    def _dft(self, re, im, j: int, inverse: bool):
        """Contract digit j of (rows, M) planes with the (conjugate) scaled DFT matrix, in fp32."""
        r, s = self.plan.radices[j], self.plan.strides[j]
        fr, fi = self.mats[r]
        if inverse:
            fi = -fi
        xr, xi = re.reshape(re.shape[0], -1, r, s), im.reshape(im.shape[0], -1, r, s)
        mm = lambda x, f: torch.einsum("bhns,nk->bhks", x, f)
        cr = mm(xr, fr) - mm(xi, fi)
        ci = mm(xr, fi) + mm(xi, fr)
        return cr.reshape(re.shape), ci.reshape(im.shape)

    def _twiddle(self, re, im, j: int, conj: bool):
        t = self.twiddles[j]
        tr, ti = t.real, (-t.imag if conj else t.imag)
        shape = re.shape
        re, im = re.reshape(shape[0], -1, t.numel()), im.reshape(shape[0], -1, t.numel())
        return (re * tr - im * ti).reshape(shape), (re * ti + im * tr).reshape(shape)

    def forward(self, re, im):
        stages = len(self.plan.radices)
        for j in range(stages):
            re, im = self._dft(re, im, j, inverse=False)
            if j < stages - 1:
                re, im = self._twiddle(re, im, j, conj=False)
            re, im = round_to(re, self.dtype), round_to(im, self.dtype)
        return re, im

    def inverse(self, re, im):
        for j in reversed(range(len(self.plan.radices))):
            re, im = self._dft(re, im, j, inverse=True)
            if j > 0:
                re, im = self._twiddle(re, im, j - 1, conj=True)
            re, im = round_to(re, self.dtype), round_to(im, self.dtype)
        return re, im


class PairMap:
    """The pointwise map on bin pairs: coefficients (H, P, 8) from plan.pair_coefficients, and the
    flat positions of each pair's bins k and M-k; the result is rounded to the dtype."""

    def __init__(self, coef: torch.Tensor, pos_k: torch.Tensor, pos_mk: torch.Tensor, dtype: torch.dtype):
        self.coef, self.pos_k, self.pos_mk, self.dtype = coef, pos_k, pos_mk, dtype

    def __call__(self, re, im, h: torch.Tensor):
        c = self.coef[h]  # (rows, P, 8)
        z1r, z1i = re[:, self.pos_k], im[:, self.pos_k]
        z2r, z2i = re[:, self.pos_mk], im[:, self.pos_mk]
        cmul_conj = lambda ar, ai, zr, zi: (ar * zr + ai * zi, ai * zr - ar * zi)  # a·conj(z)
        yr = c[..., 0] * z1r - c[..., 1] * z1i
        yi = c[..., 0] * z1i + c[..., 1] * z1r
        br, bi = cmul_conj(c[..., 2], c[..., 3], z2r, z2i)
        pr = c[..., 4] * z2r - c[..., 5] * z2i
        pi = c[..., 4] * z2i + c[..., 5] * z2r
        qr, qi = cmul_conj(c[..., 6], c[..., 7], z1r, z1i)
        out_r, out_i = torch.empty_like(re), torch.empty_like(im)
        out_r[:, self.pos_k], out_i[:, self.pos_k] = yr + br, yi + bi
        out_r[:, self.pos_mk], out_i[:, self.pos_mk] = pr + qr, pi + qi
        return round_to(out_r, self.dtype), round_to(out_i, self.dtype)


def fold(x: torch.Tensor, m: int):
    """Real rows (rows, N) → re/im planes of z[n] = x[2n] + i·x[2n+1], zero-padded to M points."""
    re, im = torch.zeros(x.shape[0], m), torch.zeros(x.shape[0], m)
    re[:, : x.shape[1] // 2], im[:, : x.shape[1] // 2] = x[:, 0::2], x[:, 1::2]
    return re, im


def unfold(re: torch.Tensor, im: torch.Tensor, n: int) -> torch.Tensor:
    y = torch.empty(re.shape[0], n)
    y[:, 0::2], y[:, 1::2] = re[:, : n // 2], im[:, : n // 2]
    return y


def run_rows(problem: Problem, dtype: torch.dtype, rows_fn, u, v=None, w=None, out=None) -> torch.Tensor:
    """Gate, convolve (rows_fn(x, channels) on fp32 rows holding dtype values) and gate again, a
    chunk of rows at a time, with the kernels' rounding points."""
    flat = lambda t: t.reshape(problem.rows, problem.seqlen)
    y = torch.empty(problem.rows, problem.seqlen, dtype=dtype) if out is None else flat(out)
    for start in range(0, problem.rows, _ROWS_PER_CHUNK):
        sl = slice(start, min(start + _ROWS_PER_CHUNK, problem.rows))
        x = flat(u)[sl].float()
        if w is not None:
            x = round_to(x * flat(w)[sl].float(), dtype)
        h = torch.arange(sl.start, sl.stop) % problem.channels
        out_rows = round_to(rows_fn(x, h), dtype)
        if v is not None:
            out_rows = out_rows * flat(v)[sl].float()
        y[sl] = out_rows.to(dtype)
    return y.reshape(problem.batch, problem.channels, problem.seqlen)


class Twin:
    """Precomputed operands for one problem; __call__ computes y like the kernel does."""

    def __init__(self, problem: Problem, k: torch.Tensor):
        self.problem = problem
        self.plan = Plan.for_problem(problem)
        self.dtype = torch_dtype(problem.dtype)
        self.stages = StageTwin(self.plan, self.dtype)
        m = self.plan.m
        kk = torch.arange(m // 2 + 1)
        coef = pair_coefficients(*self.plan.pair_spectrum(problem, k), m)
        self.pairs = PairMap(coef, self.plan.position_of(kk), self.plan.position_of((m - kk) % m), self.dtype)

    def rows(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """x: (rows, N) fp32 holding dtype values (already gated); returns zy as (rows, N) fp32."""
        re, im = self.stages.forward(*fold(x, self.plan.m))
        re, im = self.pairs(re, im, h)
        return unfold(*self.stages.inverse(re, im), self.problem.seqlen)

    def __call__(self, u, v=None, w=None, out=None) -> torch.Tensor:
        return run_rows(self.problem, self.dtype, self.rows, u, v, w, out)

