"""CPU twin of monarch_cuda v2: plan.py's decomposition executed in torch, at the kernel's
rounding points, so the algorithm is tested without a GPU and the kernel can be compared to it.

Rounding points, as in the kernel: the data and the DFT matrices in the problem dtype; every
matrix product accumulates in fp32; twiddles in fp32; the spectrum stored as fp16 S/scale with a
per-channel power of two applied with the conjugate bc twiddle; the pointwise product in fp16
arithmetic on the packed operand for fp16 (half2: each part is fl(fl(a·c) ∓ b·d)), in fp32 for
bf16; the result rounded to the dtype where the kernel stores it to shared memory (after stage A,
after B⁻¹) or packs it into an MMA operand (after B, after C, after C⁻¹); stage A⁻¹ sums both
kinds in fp32 and rounds once. The kernel's MMA accumulation order differs, so the two
agree to 3.8–4.4e-4 relative (fp16 and bf16, measured on the H200 over the devcheck grid:
kernels/monarch_cuda/measurements/h200-v2.3-devcheck.txt), not bit for bit: a sub-ulp difference
flips an fp16 rounding now and then, and the flip propagates through the later rounding points.
"""
from __future__ import annotations

import torch

from fftbench.inputs import torch_dtype
from fftbench.problem import Problem
from kernels.monarch_cuda.plan import SLICE, Plan, dft16, spectrum_fp16

_PAIRS_PER_CHUNK = 128


def round_to(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Complex x with its real and imaginary parts rounded to dtype, held in complex64."""
    return torch.complex(x.real.to(dtype).float(), x.imag.to(dtype).float())


def half2_product(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """a·s for complex tensors holding fp16 values, as the kernel's half2 code computes it:
    re = fl(fl(a_r·s_r) − a_i·s_i), im = fl(fl(a_r·s_i) + a_i·s_r) (HMUL2, then HFMA2)."""
    ar, ai, sr, si = a.real.double(), a.imag.double(), s.real.double(), s.imag.double()
    fl = lambda x: x.to(torch.float16).double()
    return torch.complex(fl(fl(ar * sr) - ai * si).float(), fl(fl(ar * si) + ai * sr).float())


def pair_rows(x: torch.Tensor) -> torch.Tensor:
    """(B, H, N) real → (H, ⌈B/2⌉, N) complex rows u[b] + i·u[b+1] (a missing partner is zero)."""
    b = x.shape[0]
    if b % 2:
        x = torch.cat([x, torch.zeros_like(x[:1])])
    x = x.float().transpose(0, 1)
    return torch.complex(x[:, 0::2], x[:, 1::2])


def unpair_rows(z: torch.Tensor, batch: int) -> torch.Tensor:
    """Inverse of pair_rows: (H, ⌈B/2⌉, N) complex → (B, H, N) real."""
    y = torch.stack([z.real, z.imag], 2).reshape(z.shape[0], -1, z.shape[-1])[:, :batch]
    return y.transpose(0, 1)


class Twin:
    """Precomputed operands for one problem; __call__ computes y like the kernel does (the
    transposed convolution with adjoint=True)."""

    def __init__(self, problem: Problem, k: torch.Tensor, adjoint: bool = False):
        self.problem = problem
        self.dtype = torch_dtype(problem.dtype)
        self.plan = plan = Plan.for_problem(problem, self.dtype)
        rd = lambda m: round_to(m, self.dtype)
        self.f16 = rd(dft16())
        self.fa = [rd(plan.stage_a(kind)) for kind in range(plan.kinds)]
        self.tw_a = [plan.twiddle_a(kind).to(torch.complex64) for kind in range(plan.kinds)]
        self.tw_bc = plan.twiddle_bc().to(torch.complex64)
        spec, self.scale = spectrum_fp16(plan.to_slices(plan.spectrum(problem, k, adjoint)))  # (H, κ, R1, 16, 16)
        self.spec = round_to(spec, torch.float16)

    def transform(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """z: (P, T) complex64 rows holding dtype values, channels h (P,) → y (P, T) complex64."""
        plan, rd, dt = self.plan, round_to, self.dtype
        x = z.reshape(-1, plan.r1, SLICE)
        y = torch.zeros_like(x)
        for kind in range(plan.kinds):
            fa = self.fa[kind]
            x1 = rd(torch.einsum("ka,pam->pkm", fa, x) * self.tw_a[kind], dt)
            s = x1.reshape(-1, plan.r1, 16, 16)                              # [b][c] per slice k_a
            p = rd(torch.einsum("kb,pabc->pakc", self.f16, s) * self.tw_bc, dt)
            q = torch.einsum("pakc,cl->pakl", p, self.f16)
            spec = self.spec[h, kind]
            yq = half2_product(rd(q, dt), spec) if dt == torch.float16 else rd(q * spec, dt)
            inverse_tw = self.tw_bc.conj() * self.scale[h].view(-1, 1, 1, 1)
            r = rd(torch.einsum("pakl,lc->pakc", yq, self.f16.conj()) * inverse_tw, dt)
            s2 = torch.einsum("bk,pakc->pabc", self.f16.conj(), r).reshape(-1, plan.r1, SLICE)
            d = rd(s2 * self.tw_a[kind].conj(), dt)
            y += torch.einsum("ka,pkm->pam", fa.conj(), d)
        return y.reshape(z.shape)

    def __call__(self, u, v=None, w=None, out=None) -> torch.Tensor:
        p, dt = self.problem, self.dtype
        x = u.float()
        if w is not None:
            x = x * w.float()
        z = pair_rows(x.to(dt).float())
        h = torch.arange(p.channels)[:, None].expand(z.shape[:2]).reshape(-1)
        z = z.reshape(-1, p.seqlen)
        y = torch.empty_like(z)
        for start in range(0, z.shape[0], _PAIRS_PER_CHUNK):
            sl = slice(start, start + _PAIRS_PER_CHUNK)
            y[sl] = self.transform(z[sl], h[sl])
        out_rows = unpair_rows(y.reshape(p.channels, -1, p.seqlen), p.batch).to(dt)
        if v is not None:
            out_rows = (out_rows.float() * v.float()).to(dt)
        if out is not None:
            out.copy_(out_rows)
            return out
        return out_rows

