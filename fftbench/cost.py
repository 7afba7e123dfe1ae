"""The cost model of an FFT convolution: the fewest HBM bytes and the conventional FLOPs.

Minimal bytes (the HBM floor), one definition for the harness, the kernels' NOTES.md and the
README: u read and y written (v and w read too when gated), each B·H·N in the problem's dtype,
plus the filter's K taps per channel read once as the float32 the problem gives (H·K·4 bytes).
The floor is what any backend must move given the problem as posed; partial filters (K < N)
shrink it. A precomputed kernel spectrum is a backend's choice, so its bytes (H × the nonzero
F/2+1 bins, complex in the problem's precision) are a separate figure, `spectrum_bytes`.

Conventional FLOPs (the FFT literature's convention): 5·n·log2(n) per complex FFT of size n,
half that for a real FFT of size n; per sequence a forward and an inverse real FFT of size F,
6 FLOPs per complex product on the F/2+1 bins, and 2·N multiplies when gated. A backend's own
executed FLOPs (tensor-core DFT matrices do more) are declared by the backend. The bwd and
fwd_bwd passes: pass_cost.py.
"""
from __future__ import annotations

import math

from fftbench.problem import Problem

ELEMENT_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
FILTER_BYTES = 4  # the filter k is float32 whatever the problem's dtype (fftbench.inputs)


def sequence_bytes(problem: Problem) -> int:
    """u read and y written (plus v and w read when gated), in the problem's dtype."""
    tensors = 4 if problem.gated else 2
    return tensors * problem.rows * problem.seqlen * ELEMENT_BYTES[problem.dtype]


def filter_bytes(problem: Problem) -> int:
    """The filter's K taps per channel, float32, read once."""
    return problem.channels * problem.K * FILTER_BYTES


def min_hbm_bytes(problem: Problem) -> int:
    """The HBM floor's bytes: the forward's sequences plus filter taps (see the module docstring);
    for bwd and fwd_bwd, pass_cost adds the backward's by the same conventions."""
    from fftbench.pass_cost import backward_bytes, by_pass  # it builds on this module's definitions

    return by_pass(problem, forward_hbm_bytes(problem), backward_bytes(problem))


def forward_hbm_bytes(problem: Problem) -> int:
    """The forward pass's floor: sequences plus filter taps."""
    return sequence_bytes(problem) + filter_bytes(problem)


def spectrum_bytes(problem: Problem) -> int:
    """A precomputed kernel spectrum's nonzero bins (H × cutoff_bin), complex in the problem's
    precision: what a backend that stores the spectrum reads instead of the taps."""
    return problem.channels * problem.cutoff_bin * 2 * ELEMENT_BYTES[problem.dtype]


def conventional_flops(problem: Problem) -> float:
    f = problem.fft_size
    real_fft = 2.5 * f * math.log2(f)
    per_row = 2 * real_fft + 6 * problem.n_bins + (2 * problem.seqlen if problem.gated else 0)
    from fftbench.pass_cost import backward_flops, by_pass

    return by_pass(problem, problem.rows * per_row, backward_flops(problem))


def floor_us(problem: Problem, copy_gbps: float) -> float:
    """Time to move the minimal bytes at the measured copy bandwidth: no kernel can beat it."""
    return min_hbm_bytes(problem) / (copy_gbps * 1e9) * 1e6
