"""The adjoint operators of y = v ⊙ conv(u ⊙ w, k) that every backward pass is made of:

  du = w ⊙ convᵀ(v ⊙ dy, k),   dw = u ⊙ convᵀ(v ⊙ dy, k),   dv = dy ⊙ conv(u ⊙ w, k),
  dk = Σ_b irfft(mask · conj(rfft(u ⊙ w, F)) · rfft(v ⊙ dy, F), F)[:K]   (a reduction over the batch).

convᵀ, the transposed convolution (correlation with k), is the convolution in the same mode with
the reversed filter k_rev[j] = k[(-j) mod F], whose spectrum is conj(rfft(k, F)): in causal mode the
reversed taps sit at F-K+1 … F-1, where the zero padding keeps them from wrapping into [0, N). So
any forward engine computes du given k_rev, and backends share these two helpers instead of each
deriving them.
"""
from __future__ import annotations

import torch

from fftbench.inputs import FILTER_DTYPE
from fftbench.problem import Problem


def reversed_filter(problem: Problem, k: torch.Tensor) -> torch.Tensor:
    """(H, F) filter whose convolution is the transposed convolution with k (H, K)."""
    padded = torch.zeros(k.shape[0], problem.fft_size, dtype=k.dtype, device=k.device)
    padded[:, : k.shape[1]] = k
    return torch.roll(padded.flip(-1), 1, -1)


def filter_gradient(problem: Problem, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """dk (H, K) in the filter's precision, by torch.fft: x = u ⊙ w and g = v ⊙ dy, (B, H, N).
    The frequency-sparse mask applies to dk as it does to k (the mask is its own adjoint)."""
    f = problem.fft_size
    x_f = torch.fft.rfft(x.to(FILTER_DTYPE), n=f)
    g_f = torch.fft.rfft(g.to(FILTER_DTYPE), n=f)
    summed = (x_f.conj() * g_f).sum(0)
    summed[:, problem.cutoff_bin:] = 0
    return torch.fft.irfft(summed, n=f)[:, : problem.K]
