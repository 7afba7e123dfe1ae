import time

from fftbench.timing import TimingOptions, TimingStats, median_ci_halfwidth, time_cpu


def test_statistics():
    stats = TimingStats(timer="cpu_clock", samples_us=tuple(float(x) for x in range(1, 101)), host_us=1.0)
    row = stats.as_row()
    assert row["t_p50_us"] == 50.5 and row["t_min_us"] == 1 and row["t_max_us"] == 100
    assert row["t_q1_us"] < row["t_p50_us"] < row["t_q3_us"] and row["n_samples"] == 100
    assert abs(row["t_p20_us"] - 20.8) < 1e-9 and row["t_iqr_us"] == row["t_q3_us"] - row["t_q1_us"]


def test_ci_of_the_median_shrinks_with_samples():
    noisy = [1.0 + 0.01 * ((i * 7919) % 13) for i in range(400)]
    assert median_ci_halfwidth(noisy[:400]) <= median_ci_halfwidth(noisy[:20])
    assert median_ci_halfwidth([1.0, 2.0]) == float("inf")


def test_cpu_timer_respects_minimums_and_cap():
    opts = TimingOptions(min_samples=7, min_time_s=0.0, max_time_s=0.2, target_rel_spread=0.5)
    stats = time_cpu(lambda: time.sleep(0.001), opts)
    assert len(stats.samples_us) >= 7
    assert 900 < stats.median < 20000
    capped = time_cpu(lambda: time.sleep(0.001), TimingOptions(min_samples=10**9, max_time_s=0.05))
    assert 1 <= len(capped.samples_us) < 10**9
