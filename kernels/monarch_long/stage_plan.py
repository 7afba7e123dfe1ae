"""The v1 Monarch stage engine's decomposition (stages.cuh; monarch_cuda up to v4, monarch_long now):
one source of truth for its factorisation, DFT matrices, twiddles and folded pointwise coefficients.

Real input of FFT size F is folded into an M = F/2 point complex sequence z[n] = x[2n] + i·x[2n+1].
M = r_1·r_2·…·r_s with radices r_j ∈ {16, 8} (16s first, 8s last), digit j of a position having
stride S_j = r_{j+1}·…·r_s. The forward transform is decimation in frequency, in place:
stage j contracts digit j with the scaled DFT matrix W_r^{nk}/√r, then (j < s) multiplies each
element by the twiddle W_{L_j}^{k_j·lo} (L_j = r_j·S_j, lo = position mod S_j). After s stages
position Σ k_j·S_j holds Z[k_1 + r_1·k_2 + r_1·r_2·k_3 + …] / √M — the digit-reversed spectrum,
never reordered. The inverse runs the conjugate stages in reverse order (stage j's conjugate
DFT, then the conjugate twiddle of stage j-1). The 1/√r scaling keeps magnitudes near 1 in
fp16/bf16 and makes the pointwise coefficients need no normalisation.

Pointwise (unfold · multiply by k_f · refold, fused into one 2×2 real-linear map on each pair of
bins k and M-k):  Zy[k] = A_k·Z[k] + B_k·conj(Z[M-k]),
  A_k = (K[k]·(1-s) + conj(K[M-k])·(1+s))/2,  B_k = i·c·(K[k] - conj(K[M-k]))/2,
  s, c = sin, cos(2πk/F),  K = rfft(k, n=F) (bins ≥ cutoff zeroed),
read by the kernel as fp16 pairs (K[k], K[M-k]) (pair_spectrum) and formed in fp32 (pair_coefficients).
The inverse then yields zy[n] = y[2n] + i·y[2n+1].
"""
from __future__ import annotations

import dataclasses
import math

import torch

from fftbench.inputs import kernel_spectrum
from fftbench.problem import Problem


def radices_for(m: int) -> tuple[int, ...]:
    """Fewest stages of radix 16 and 8 whose product is m (a power of two, 128 ≤ m ≤ 32768)."""
    if m & (m - 1) or not 128 <= m <= 32768:
        raise ValueError(f"M={m}: must be a power of two in [128, 32768]")
    bits = m.bit_length() - 1
    for sixteens in range(bits // 4, -1, -1):
        if (bits - 4 * sixteens) % 3 == 0:
            return (16,) * sixteens + (8,) * ((bits - 4 * sixteens) // 3)
    raise AssertionError(m)


@dataclasses.dataclass(frozen=True)
class Plan:
    m: int
    radices: tuple[int, ...]

    @classmethod
    def for_problem(cls, problem: Problem) -> "Plan":
        m = problem.fft_size // 2
        return cls(m, radices_for(m))

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(math.prod(self.radices[j + 1:]) for j in range(len(self.radices)))

    @property
    def name(self) -> str:
        return "x".join(map(str, self.radices))

    def position_of(self, k: torch.Tensor) -> torch.Tensor:
        """Where frequency k sits after the forward stages: digits of k (least significant = r_1)
        placed at strides S_1, S_2, …"""
        pos = torch.zeros_like(k)
        for r, s in zip(self.radices, self.strides):
            pos += (k % r) * s
            k = k // r
        return pos

    def dft_matrix(self, r: int) -> torch.Tensor:
        """W_r^{nk}/√r in complex128 (symmetric in n, k)."""
        n = torch.arange(r, dtype=torch.float64)
        return torch.exp(-2j * math.pi * torch.outer(n, n) / r) / math.sqrt(r)

    def twiddles(self, j: int) -> torch.Tensor:
        """Stage j's twiddles, complex128 of length L_j, indexed by position mod L_j = k·S_j + lo."""
        r, s = self.radices[j], self.strides[j]
        idx = torch.outer(torch.arange(r), torch.arange(s)).reshape(-1).double()
        return torch.exp(-2j * math.pi * idx / (r * s))

    def pair_spectrum(self, problem: Problem, k: torch.Tensor, dtype=torch.float16) -> tuple[torch.Tensor, torch.Tensor]:
        """What the pointwise map reads: for bins k = 0 … M/2 the pair (K[k], K[M-k]) as fp16
        (re, im, re, im), shape (H, M/2+1, 4), divided by a per-channel power of two (returned as
        float32 (H,)) so fp16 neither overflows nor loses relative precision. 8 bytes per pair."""
        m = self.m
        spec = kernel_spectrum(problem, k.detach().cpu(), dtype=torch.complex128)  # (H, M+1)
        kk = torch.arange(m // 2 + 1)
        peak = spec.abs().amax(-1).clamp_min(1e-30)
        scale = torch.exp2(torch.ceil(torch.log2(peak)))
        pair = torch.stack([spec[:, kk], spec[:, m - kk]], -1) / scale[:, None, None]
        return torch.view_as_real(pair).reshape(spec.shape[0], -1, 4).to(dtype), scale.float()


def pair_coefficients(pair: torch.Tensor, scale: torch.Tensor, m: int, k: torch.Tensor | None = None) -> torch.Tensor:
    """fp32 coefficients (A_k, B_k, A_{M-k}, B_{M-k}) as (re, im) columns, from the fp16 pairs,
    computed in fp32 in the kernel's order; B_{M-k} = -conj(B_k). k: the first bin of each pair
    (default 0 … M/2; any k works, the formulas are symmetric under k ↔ M-k).
      A_k = ((1-s)·K[k] + (1+s)·conj(K[M-k]))/2,  B_k = i·c·(K[k] - conj(K[M-k]))/2,
      A_{M-k} = ((1-s)·K[M-k] + (1+s)·conj(K[k]))/2,  s, c = sin, cos(πk/M)."""
    k = torch.arange(pair.shape[-2]) if k is None else k
    theta = (k.to(torch.float64) * (math.pi / m)).float()
    s, c = torch.sin(theta), torch.cos(theta)
    a, b, cr, d = (pair[..., i].float() * scale[:, None] for i in range(4))
    h1, h2 = 0.5 * (1 - s), 0.5 * (1 + s)
    a_re, a_im = h1 * a + h2 * cr, h1 * b - h2 * d
    b_re, b_im = -0.5 * c * (b + d), 0.5 * c * (a - cr)
    ap_re, ap_im = h1 * cr + h2 * a, h1 * d - h2 * b
    return torch.stack([a_re, a_im, b_re, b_im, ap_re, ap_im, -b_re, b_im], -1)


def dft_operands(plan: Plan, dtype: torch.dtype) -> torch.Tensor:
    """F16 re, F16 im, F8 re, F8 im in the dtype, flattened (640 values), as stages.cuh expects."""
    parts = []
    for r in (16, 8):
        f = plan.dft_matrix(r)
        parts += [f.real.to(dtype).reshape(-1), f.imag.to(dtype).reshape(-1)]
    return torch.cat(parts)


def swizzle(pos: torch.Tensor) -> torch.Tensor:
    """stages.cuh's shared-memory layout (swz): the 16-byte chunk index's 3-bit groups XOR-folded
    into its low 3 bits."""
    c = pos >> 3
    f = (c ^ (c >> 3) ^ (c >> 6) ^ (c >> 9) ^ (c >> 12)) & 7
    return (((c & ~7) | f) << 3) | (pos & 7)
