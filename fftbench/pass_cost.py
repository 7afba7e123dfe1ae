"""The backward pass's share of the cost model (cost.py adds it to the forward's by pass).

Minimal bytes of bwd: dy and u read (v and w too when gated), du written (dv and dw too), the
kernel spectrum read as the forward reads it, and dk (H × K, in the filter's precision) written.
fwd_bwd is the two calls a training step makes: dy exists only after the forward has returned
(the layers above run in between), so no single pass can serve both and the floor is the sum.

Conventional FLOPs of bwd per sequence, by the forward's convention (5·n·log2 n per complex FFT,
half for a real one, 6 per complex product): convᵀ(v ⊙ dy, k) is a forward and an inverse real
FFT and a product; dk needs rfft(u ⊙ w) and a multiply-accumulate (8 FLOPs) per bin, then one
inverse real FFT per channel; gated, dv = dy ⊙ conv(u ⊙ w, k) adds an inverse FFT and a product,
and the five gating multiplies (u ⊙ w, v ⊙ dy, du, dw, dv) add 5·N.
"""
from __future__ import annotations

import math

from fftbench.inputs import FILTER_DTYPE, torch_dtype
from fftbench.problem import Problem


def backward_bytes(problem: Problem) -> int:
    e = torch_dtype(problem.dtype).itemsize
    seq_tensors = 7 if problem.gated else 3  # dy, u (v, w) read; du (dv, dw) written
    spectrum = problem.channels * problem.n_bins * 2 * e
    dk = problem.channels * problem.K * FILTER_DTYPE.itemsize
    return seq_tensors * problem.rows * problem.seqlen * e + spectrum + dk


def backward_flops(problem: Problem) -> float:
    f = problem.fft_size
    real_fft = 2.5 * f * math.log2(f)
    if problem.gated:
        per_row = 4 * real_fft + (6 + 6 + 8) * problem.n_bins + 5 * problem.seqlen
    else:
        per_row = 3 * real_fft + (6 + 8) * problem.n_bins
    return problem.rows * per_row + problem.channels * real_fft


def by_pass(problem: Problem, forward: float, backward: float) -> float:
    """The pass's cost from the forward's and the backward's."""
    return {"fwd": forward, "bwd": backward, "fwd_bwd": forward + backward}[problem.pass_]
