"""The backward pass's share of the cost model (cost.py adds it to the forward's by pass).

Minimal bytes of bwd, by the forward floor's conventions (cost.py: sequences in the problem's
dtype, the filter as the float32 taps the problem gives; a precomputed spectrum is a backend's
choice and not in the floor): dy and u read (v and w too when gated), du written (dv and dw too),
the filter's K taps per channel read (H·K·4 bytes) and dk written as float32 (H·K·4 bytes).
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

from fftbench.cost import ELEMENT_BYTES, filter_bytes
from fftbench.problem import Problem


def backward_bytes(problem: Problem) -> int:
    e = ELEMENT_BYTES[problem.dtype]
    seq_tensors = 7 if problem.gated else 3  # dy, u (v, w) read; du (dv, dw) written
    taps_read, dk_written = filter_bytes(problem), filter_bytes(problem)  # float32, H·K each
    return seq_tensors * problem.rows * problem.seqlen * e + taps_read + dk_written


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
