import math

import numpy as np
import pytest
import torch

from fftbench.inputs import kernel_spectrum, make_inputs
from fftbench.problem import Problem
from fftbench import reference as reference_module
from fftbench.reference import DEFAULT_BUDGETS, check_call, checked_rows, measure_error, reference


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


@pytest.mark.parametrize("problem, count", [
    (Problem(1, 768, 1 << 20, mode="causal"), 64),        # was 8 evenly spaced rows
    (Problem(1, 64, 1 << 22, mode="causal"), 64),         # every row (was rows 0 and 63)
    (Problem(64, 768, 4096, mode="causal"), (1 << 24) // 8192),  # as many as the element cap holds
    (Problem(2, 3, 24), 6),                               # small problems: every row
])
def test_checked_rows_count_first_and_last(problem, count):
    rows = checked_rows(problem, seed=5)
    assert len(rows) == count and len(rows.unique()) == count
    assert rows[0] == 0 and rows[-1] == problem.rows - 1 and torch.all(rows[1:] > rows[:-1])


def test_checked_rows_are_drawn_from_the_seed():
    p = Problem(64, 768, 4096, mode="causal")
    a, b = checked_rows(p, seed=1), checked_rows(p, seed=2)
    assert torch.equal(a, checked_rows(p, seed=1))  # reproducible from the recorded seed
    assert not torch.equal(a, b)
    assert len(set(a.tolist()) & set(b.tolist())) < len(a) // 2  # not one fixed set with noise
    gaps = (a[1:] - a[:-1]).unique()
    assert len(gaps) > 3  # not evenly spaced


def test_reference_in_chunks_matches_one_pass(monkeypatch):
    p = Problem(batch=3, channels=4, seqlen=32, dtype="fp32", mode="causal", kernel_len=7, gated=True)
    inputs = make_inputs(p, "cpu", seed=2)
    rows = checked_rows(p)
    whole = reference(p, inputs, rows)
    monkeypatch.setattr(reference_module, "_REF_ELEMENT_CAP", 2 * p.fft_size)  # two rows per chunk
    assert torch.allclose(reference(p, inputs, rows), whole, rtol=0, atol=1e-12)
    assert torch.allclose(whole, direct_convolution(p, inputs), atol=1e-9)


def test_unchecked_rows_are_still_scanned_for_nonfinite(monkeypatch):
    monkeypatch.setattr(reference_module, "MIN_CHECKED_ROWS", 2)
    monkeypatch.setattr(reference_module, "_REF_ELEMENT_CAP", 1)
    p = Problem(batch=1, channels=8, seqlen=16, dtype="fp32")
    inputs = make_inputs(p, "cpu", seed=3)
    rows = checked_rows(p, seed=0)
    assert rows.tolist() == [0, 7]
    out = torch.zeros(1, 8, 16)
    out[0, 0], out[0, 7] = reference(p, inputs, rows).float()
    out[0, 3, 5] = float("inf")
    err = measure_error(p, out, reference(p, inputs, rows), rows)
    assert err.rel_l2_err < 1e-6 and err.nonfinite == 1 and not err.within(1.0)


def test_worker_records_the_rows_it_checked(tmp_path, monkeypatch):
    from fftbench.registry import load_backends
    from fftbench.timing import TimingOptions
    from fftbench.worker import PointMeasurer, WorkerJob

    monkeypatch.setattr(reference_module, "_REF_ELEMENT_CAP", 1)  # the 64-row minimum decides
    p = Problem(batch=1, channels=80, seqlen=16, dtype="fp32", mode="circular")
    job = WorkerJob(backend="torch_fft", problems=(p,), device="cpu", budgets=DEFAULT_BUDGETS, calibration={},
                    timing=TimingOptions(min_samples=3, min_time_s=0.0, max_time_s=0.05), error_log=str(tmp_path / "e"))
    measurer = PointMeasurer(job, load_backends())
    first, second = measurer.measure(p), measurer.measure(p)
    assert first["status"] == "ok" and first["ref_rows"] == 64 and second["ref_rows"] == 64
    assert first["ref_seed"] != second["ref_seed"]


def test_check_call_poisons_the_output_before_the_call():
    p = Problem(batch=1, channels=2, seqlen=16, dtype="fp32")
    inputs = make_inputs(p, "cpu", seed=4)
    rows = checked_rows(p)
    inputs.out.copy_(reference(p, inputs, rows).reshape(1, 2, 16))
    assert check_call(p, inputs, lambda: inputs.out).within(1e-5) is False  # nothing written: all NaN
    right = reference(p, inputs, rows).reshape(1, 2, 16).float()
    assert check_call(p, inputs, lambda: inputs.out.copy_(right)).within(1e-5)
