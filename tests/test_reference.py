import math

import numpy as np
import pytest
import torch

from fftbench.inputs import kernel_spectrum, make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call, checked_rows, measure_error, reference


def direct_convolution(problem, inputs):
    """Convolution by its definition (numpy, float64), independent of any FFT."""
    u = inputs.u.double().numpy().reshape(problem.rows, problem.seqlen)
    if problem.gated:
        u = u * inputs.w.double().numpy().reshape(problem.rows, problem.seqlen)
    k = inputs.k.double().numpy()
    n = problem.seqlen
    y = np.zeros_like(u)
    for r in range(problem.rows):
        kr = np.zeros(n)
        kr[: problem.K] = k[r % problem.channels]
        for t in range(n):
            if problem.mode == "causal":
                y[r, t] = np.dot(u[r, : t + 1][::-1], kr[: t + 1])
            else:
                y[r, t] = sum(u[r, (t - s) % n] * kr[s] for s in range(n))
    if problem.gated:
        y = y * inputs.v.double().numpy().reshape(problem.rows, problem.seqlen)
    return torch.from_numpy(y)


@pytest.mark.parametrize("mode", ["causal", "circular"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("kernel_len", [None, 5])
def test_reference_matches_direct_convolution(mode, gated, kernel_len):
    p = Problem(batch=2, channels=3, seqlen=24, dtype="fp32", mode=mode, gated=gated, kernel_len=kernel_len)
    inputs = make_inputs(p, "cpu", seed=1)
    rows = checked_rows(p)
    assert len(rows) == p.rows
    ref = reference(p, inputs, rows)
    assert torch.allclose(ref, direct_convolution(p, inputs), atol=1e-9)


def test_frequency_sparsity_zeroes_the_top_bins():
    p = Problem(batch=1, channels=2, seqlen=64, dtype="fp32", mode="causal", freq_sparsity=0.75)
    k_f = kernel_spectrum(p, make_inputs(p, "cpu", seed=0).k)
    assert k_f.shape == (2, 65)
    assert torch.all(k_f[:, p.cutoff_bin:] == 0) and torch.all(k_f[:, : p.cutoff_bin].abs().sum(0) > 0)


def test_inputs_are_random_not_zero():
    p = Problem(batch=2, channels=2, seqlen=32, gated=True)
    a, b = make_inputs(p, "cpu"), make_inputs(p, "cpu")
    for t in (a.u, a.v, a.w, a.k):
        assert torch.count_nonzero(t) == t.numel() and t.std() > 0.1
    assert not torch.equal(a.u, b.u)


def test_error_metrics_and_nonfinite():
    p = Problem(batch=1, channels=2, seqlen=16, dtype="fp32")
    inputs = make_inputs(p, "cpu", seed=3)
    rows = checked_rows(p)
    ref = reference(p, inputs, rows)
    out = ref.reshape(1, 2, 16).float()
    good = measure_error(p, out, ref, rows)
    assert good.rel_l2_err < 1e-6 and good.nonfinite == 0 and good.within(1e-5)
    bad = out.clone()
    bad[0, 1, 3] += 1.0
    err = measure_error(p, bad, ref, rows)
    assert math.isclose(err.max_abs_err, 1.0, rel_tol=1e-5) and not err.within(1e-5)
    bad[0, 0, 0] = float("nan")
    err = measure_error(p, bad, ref, rows)
    assert err.nonfinite == 1 and not err.within(1.0)


def test_reference_rows_are_capped_for_huge_problems():
    p = Problem(batch=1, channels=768, seqlen=1 << 20, mode="causal")
    rows = checked_rows(p)
    assert 1 <= len(rows) * p.fft_size <= 1 << 24 and rows[-1] == p.rows - 1


def test_check_call_poisons_the_output_before_the_call():
    p = Problem(batch=1, channels=2, seqlen=16, dtype="fp32")
    inputs = make_inputs(p, "cpu", seed=4)
    rows = checked_rows(p)
    inputs.out.copy_(reference(p, inputs, rows).reshape(1, 2, 16))
    assert check_call(p, inputs, lambda: inputs.out).within(1e-5) is False  # nothing written: all NaN
    right = reference(p, inputs, rows).reshape(1, 2, 16).float()
    assert check_call(p, inputs, lambda: inputs.out.copy_(right)).within(1e-5)
