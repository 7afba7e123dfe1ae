import math

import pytest

from fftbench import cost
from fftbench.metrics import MetricContext, compute_metrics
from fftbench.problem import Problem

M = 1 << 20


# (problem, floor bytes worked out by hand: u, y (+ v, w) in the dtype + H·K float32 taps)
HAND_FLOORS = [
    # 1×768×1M fp16 causal: u + y = 2·768·1M·2 B, taps 768·1M·4 B
    (Problem(1, 768, M, "fp16", "causal"), 2 * 768 * M * 2 + 768 * M * 4),
    # partial K = N/16 at B = 1: the taps shrink 16×; the spectrum does not
    (Problem(1, 768, M, "fp16", "causal", kernel_len=M // 16), 3_221_225_472 + 201_326_592),
    # B = 64 gated circular: four sequence tensors, taps of a full filter
    (Problem(64, 768, 4096, "fp16", "circular", gated=True), 4 * 64 * 768 * 4096 * 2 + 768 * 4096 * 4),
    # B = 64 gated and partial, bf16
    (Problem(64, 768, 4096, "bf16", "causal", kernel_len=256, gated=True), 1_610_612_736 + 786_432),
]


@pytest.mark.parametrize("problem, expected", HAND_FLOORS, ids=[p.label() for p, _ in HAND_FLOORS])
def test_floor_matches_hand_counted_bytes(problem, expected):
    assert cost.min_hbm_bytes(problem) == pytest.approx(expected, rel=1e-3)


def test_old_spectrum_floor_would_fail_the_hand_counts():
    """The former floor (sequences + H·(F/2+1) complex bins in the dtype) is off by more than 0.1%
    on every case but the dense causal fp16 one, where the bins happen to weigh as much as the taps."""
    for problem, expected in HAND_FLOORS[1:]:
        old = cost.sequence_bytes(problem) + problem.channels * problem.n_bins * 2 * cost.ELEMENT_BYTES[problem.dtype]
        assert abs(old / expected - 1) > 1e-3, problem.label()


def test_spectrum_bytes_count_the_nonzero_bins_in_the_dtype():
    dense = Problem(1, 768, M, "fp16", "causal")
    assert cost.spectrum_bytes(dense) == 768 * (M + 1) * 4
    sparse = Problem(1, 768, M, "fp16", "causal", freq_sparsity=0.75)
    assert cost.spectrum_bytes(sparse) == 768 * (M // 4) * 4
    assert cost.min_hbm_bytes(sparse) == cost.min_hbm_bytes(dense)  # the problem as posed still has K taps
    assert cost.spectrum_bytes(Problem(2, 8, 1024, "fp32", "circular")) == 8 * 513 * 8


def test_floor_time_at_the_measured_bandwidth():
    # 1×768×1M fp16 causal at the H100's 2981 GB/s: 6.44 GB → 2.161 ms (monarch_long's 15.5 ms is 13.9%)
    p = Problem(1, 768, M, "fp16", "causal")
    assert cost.floor_us(p, 2981.0) == pytest.approx(6_442_450_944 / 2981e9 * 1e6)
    assert cost.floor_us(p, 2981.0) / 15_500 == pytest.approx(0.139, abs=5e-4)


def test_conventional_flops():
    p = Problem(batch=1, channels=1, seqlen=1024, mode="circular")
    assert cost.conventional_flops(p) == 2 * 2.5 * 1024 * 10 + 6 * 513


def test_metrics_from_time():
    p = Problem(batch=64, channels=768, seqlen=4096, dtype="fp16", mode="causal")
    floor = cost.floor_us(p, 3000.0)
    m = compute_metrics(p, 2 * floor, MetricContext(copy_gbps=3000.0, peak_tflops=600.0, flops_executed=None))
    assert math.isclose(m["frac_hbm_floor"], 0.5) and math.isclose(m["hbm_gbps"], 1500.0)
    assert math.isclose(m["tflops"], cost.conventional_flops(p) / (2 * floor * 1e-6) / 1e12)
    assert math.isclose(m["frac_peak_flops"], m["tflops"] / 600.0)
    assert m["tflops_executed"] is None and m["frac_peak_executed"] is None  # nothing declared
    untimed = compute_metrics(p, None, MetricContext(3000.0, 600.0, None))
    assert untimed["frac_hbm_floor"] is None and untimed["min_hbm_bytes"] > 0


def test_backward_bytes_by_hand():
    # fp16, B=2, H=3, N=1024 causal, K = 100: dy and u read, du written (3 sequence tensors of
    # 2 B), the filter's taps read and dk written (float32, 4 B per tap each), as the forward's floor
    # counts the taps (no spectrum: that is a backend's choice).
    p = Problem(batch=2, channels=3, seqlen=1024, dtype="fp16", mode="causal", kernel_len=100, pass_="bwd")
    assert cost.min_hbm_bytes(p) == 3 * 2 * 3 * 1024 * 2 + 3 * 100 * 4 + 3 * 100 * 4
    gated = Problem(batch=2, channels=3, seqlen=1024, dtype="fp16", mode="causal", kernel_len=100, gated=True, pass_="bwd")
    assert cost.min_hbm_bytes(gated) - cost.min_hbm_bytes(p) == 4 * 2 * 3 * 1024 * 2  # v, w read; dv, dw written


def test_a_training_step_costs_its_forward_plus_its_backward():
    for gated in (False, True):
        fwd, bwd, step = (Problem(4, 2, 512, "bf16", gated=gated, pass_=s) for s in ("fwd", "bwd", "fwd_bwd"))
        assert cost.min_hbm_bytes(step) == cost.min_hbm_bytes(fwd) + cost.min_hbm_bytes(bwd)
        assert cost.conventional_flops(step) == cost.conventional_flops(fwd) + cost.conventional_flops(bwd)


def test_backward_flops_by_hand():
    # circular N = F = 1024 (513 bins), one sequence, one channel: three real FFTs per row
    # (rfft dy, irfft du, rfft u), a product (6) and a multiply-accumulate (8) per bin, and the
    # channel's inverse FFT of dk.
    p = Problem(batch=1, channels=1, seqlen=1024, mode="circular", pass_="bwd")
    assert cost.conventional_flops(p) == 3 * 2.5 * 1024 * 10 + 14 * 513 + 2.5 * 1024 * 10
    gated = Problem(batch=1, channels=1, seqlen=1024, mode="circular", gated=True, pass_="bwd")
    assert cost.conventional_flops(gated) == 4 * 2.5 * 1024 * 10 + 20 * 513 + 5 * 1024 + 2.5 * 1024 * 10


def test_declared_flops_never_change_the_model_rate():
    """Two backends with the same time have the same tflops and intensity, whatever they declare;
    the declared count has its own rate and fraction of the peak."""
    p = Problem(batch=64, channels=768, seqlen=4096, dtype="fp16", mode="causal")
    t_us = 1000.0
    plain = compute_metrics(p, t_us, MetricContext(3000.0, 600.0, flops_executed=None))
    heavy = compute_metrics(p, t_us, MetricContext(3000.0, 600.0, flops_executed=1.2e11))
    for name in ("tflops", "frac_peak_flops", "arith_intensity"):
        assert heavy[name] == plain[name]
    assert plain["arith_intensity"] == cost.conventional_flops(p) / cost.min_hbm_bytes(p)
    assert heavy["tflops_executed"] == pytest.approx(120.0) and heavy["frac_peak_executed"] == pytest.approx(0.2)
