"""The cost model of an FFT convolution: the fewest HBM bytes and the conventional FLOPs.

Minimal bytes: each input read once (u; v and w when gated), y written once, the kernel spectrum
(H × (F/2+1) complex in the problem's precision) read once.
Conventional FLOPs (the FFT literature's convention): 5·n·log2(n) per complex FFT of size n,
half that for a real FFT of size n; per sequence a forward and an inverse real FFT of size F,
6 FLOPs per complex product on the F/2+1 bins, and 2·N multiplies when gated. A backend's own
executed FLOPs (tensor-core DFT matrices do more) are declared by the backend. The bwd and
fwd_bwd passes: pass_cost.py.
"""
from __future__ import annotations

import math

from fftbench.pass_cost import backward_bytes, backward_flops, by_pass
from fftbench.problem import Problem

ELEMENT_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


def min_hbm_bytes(problem: Problem) -> int:
    e = ELEMENT_BYTES[problem.dtype]
    seq_tensors = 4 if problem.gated else 2  # u (+ v, w) read, y written
    spectrum = problem.channels * problem.n_bins * 2 * e
    return by_pass(problem, seq_tensors * problem.rows * problem.seqlen * e + spectrum, backward_bytes(problem))


def conventional_flops(problem: Problem) -> float:
    f = problem.fft_size
    real_fft = 2.5 * f * math.log2(f)
    per_row = 2 * real_fft + 6 * problem.n_bins + (2 * problem.seqlen if problem.gated else 0)
    return by_pass(problem, problem.rows * per_row, backward_flops(problem))


def floor_us(problem: Problem, copy_gbps: float) -> float:
    """Time to move the minimal bytes at the measured copy bandwidth: no kernel can beat it."""
    return min_hbm_bytes(problem) / (copy_gbps * 1e9) * 1e6
