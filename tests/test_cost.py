import math

from fftbench import cost
from fftbench.metrics import MetricContext, compute_metrics
from fftbench.problem import Problem


def test_floor_matches_the_anchor_table():
    # ../shared/anchors.md: 64×768×4K fp16, 2·B·H·N·2 bytes / 3.02 TB/s = 0.267 ms (spectrum excluded there).
    p = Problem(batch=64, channels=768, seqlen=4096, dtype="fp16", mode="causal")
    spectrum = 768 * (8192 // 2 + 1) * 4
    assert cost.min_hbm_bytes(p) == 2 * 64 * 768 * 4096 * 2 + spectrum
    assert math.isclose(cost.floor_us(p, 3020.0), 267.0, rel_tol=0.02)


def test_gating_reads_two_more_tensors():
    plain = Problem(batch=2, channels=2, seqlen=1024, dtype="bf16")
    gated = Problem(batch=2, channels=2, seqlen=1024, dtype="bf16", gated=True)
    assert cost.min_hbm_bytes(gated) - cost.min_hbm_bytes(plain) == 2 * 4 * 1024 * 2


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
    executed = compute_metrics(p, floor, MetricContext(3000.0, 600.0, flops_executed=1e12))
    assert math.isclose(executed["tflops"], 1e12 / (floor * 1e-6) / 1e12)
    untimed = compute_metrics(p, None, MetricContext(3000.0, 600.0, None))
    assert untimed["frac_hbm_floor"] is None and untimed["min_hbm_bytes"] > 0


def test_backward_bytes_by_hand():
    # fp16, B=2, H=3, N=1024 causal (F = 2048, 1025 bins), K = 100: dy and u read, du written
    # (3 sequence tensors of 2 B), the spectrum read (2 × 2 B per bin), dk written (4 B per tap).
    p = Problem(batch=2, channels=3, seqlen=1024, dtype="fp16", mode="causal", kernel_len=100, pass_="bwd")
    assert cost.min_hbm_bytes(p) == 3 * 2 * 3 * 1024 * 2 + 3 * 1025 * 2 * 2 + 3 * 100 * 4
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
