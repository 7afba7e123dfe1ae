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
