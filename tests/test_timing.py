import importlib.util
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.registry import Prepared, load_backends
from fftbench.timing import FLUSH_MODES, L2Flush, TimingOptions, TimingStats, median_ci_halfwidth, time_cpu
from fftbench.worker import PointMeasurer, WorkerJob

REPO = Path(__file__).resolve().parent.parent


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


def test_flush_mode_is_validated():
    assert TimingOptions().flush in FLUSH_MODES
    with pytest.raises(TypeError, match="flush must be one of"):
        TimingOptions(flush="zero")


@pytest.mark.parametrize("mode, zeroed, summed", [("write", True, False), ("read", False, True), ("write-read", True, True)])
def test_l2_flush_modes_write_read_or_both(monkeypatch, mode, zeroed, summed):
    """Each mode touches the whole 2×L2 buffer the way it says (run on CPU tensors)."""
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(L2_cache_size=4096))
    flush = L2Flush(torch.device("cpu"))
    assert flush.buffer.numel() * 4 == 2 * 4096
    flush.buffer.fill_(1.0)
    flush.sink.fill_(-1.0)
    flush(mode)
    assert bool((flush.buffer == 0).all()) == zeroed and bool((flush.buffer == 1).all()) == (not zeroed)
    expected_sum = 0.0 if zeroed else float(flush.buffer.numel())
    assert flush.sink.item() == (expected_sum if summed else -1.0)


def test_host_computed_calls_are_timed_with_the_cpu_clock(tmp_path):
    """A CPU twin on a GPU machine: the worker must not use the GPU timer (events around a spin kernel)."""

    class EventsTimer:
        calls = 0

        def time(self, run, opts):
            EventsTimer.calls += 1
            return TimingStats(timer="cuda_events/flush-write", samples_us=(1.0,) * 3, host_us=1.0)

    job = WorkerJob(backend="torch_fft", problems=(), device="cpu", budgets={}, calibration={},
                    timing=TimingOptions(min_samples=3, min_time_s=0.0, max_time_s=0.05), error_log=str(tmp_path / "e"))
    measurer = PointMeasurer(job, load_backends())
    measurer.gpu_timer = EventsTimer()  # as on a GPU machine
    assert measurer._time(Prepared(run=lambda: None, on_host=True)).timer == "cpu_clock"
    assert EventsTimer.calls == 0
    assert measurer._time(Prepared(run=lambda: None)).timer.startswith("cuda_events")


def test_twins_declare_that_they_compute_on_the_host():
    backends = load_backends()
    problem = Problem(1, 2, 1024, "fp16", "causal")
    inputs = make_inputs(problem, "cpu", seed=0)
    assert backends["monarch_twin"].prepare(problem, inputs).on_host
    long_problem = Problem(1, 1, 16384, "fp16", "causal")
    assert backends["monarch_long_twin"].prepare(long_problem, make_inputs(long_problem, "cpu", seed=0)).on_host
    assert not backends["torch_fft"].prepare(problem, inputs).on_host


def test_flush_bias_interleaves_every_mode_each_round():
    """tools/flush_bias.py: each round times every flush mode once, so drift falls on all alike."""
    spec = importlib.util.spec_from_file_location("flush_bias", REPO / "tools" / "flush_bias.py")
    flush_bias = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(flush_bias)
    seen = []

    class RecordingTimer:
        def time(self, run, opts):
            seen.append(opts.flush)
            return TimingStats(timer="fake", samples_us=(float(len(seen)),), host_us=0.0)

    medians = flush_bias.time_modes(RecordingTimer(), lambda: None, rounds=2)
    assert seen == list(FLUSH_MODES) * 2
    assert medians == {mode: [i + 1.0, i + 1.0 + len(FLUSH_MODES)] for i, mode in enumerate(FLUSH_MODES)}
    if not torch.cuda.is_available():
        assert flush_bias.main([]) == 2  # one line on stderr, no traceback
