"""fftbench's suites as pytest-benchmark cases, for users who gate with pytest-benchmark.

    pytest benchmarks/ --benchmark-only [--fftbench-suite seqlen] [--benchmark-autosave]
    pytest benchmarks/ --benchmark-only --benchmark-compare --benchmark-compare-fail=median:5%

One case per (point, backend) of the suite; backends that cannot run here, or cannot run a
point, are skipped with the registry's reason. Each case is checked against the float64
reference before it is timed (a fast wrong answer is not a benchmark). Every round starts after
an L2 flush (outside the timed region), and the clock synchronises the GPU before reading the
time, so a round measures the kernels, not the launch. The native harness (run_bench.py) times
with CUDA events and adaptive sampling; use it for reports and the noise-aware gate.
"""
from __future__ import annotations

import time

import pytest
import torch

from fftbench.gradients import Checker
from fftbench.inputs import make_inputs
from fftbench.registry import get_backend, load_backends
from fftbench.suites import load_suite

HAS_CUDA = torch.cuda.is_available()
DEVICE = "cuda" if HAS_CUDA else "cpu"


def synchronized_clock() -> float:
    """perf_counter read after the GPU has finished all queued work."""
    if HAS_CUDA:
        torch.cuda.synchronize()
    return time.perf_counter()


def l2_flusher():
    """A setup function that evicts the L2 cache (2x its size zeroed), or None on the CPU."""
    if not HAS_CUDA:
        return None
    l2 = torch.cuda.get_device_properties(0).L2_cache_size or 50 * 2**20
    buffer = torch.empty(2 * l2 // 4, dtype=torch.int32, device=DEVICE)
    return buffer.zero_


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    suite = load_suite(metafunc.config.getoption("fftbench_suite"))
    backends = suite.backends or sorted(load_backends())
    cases = [(suite, name, problem) for problem in suite.points(cpu_sized=not HAS_CUDA) for name in backends]
    metafunc.parametrize("case", cases, ids=[f"{name}-{p.label().replace(' ', '-')}" for _, name, p in cases])


@pytest.fixture(scope="session")
def flush_l2():
    return l2_flusher()


@pytest.mark.benchmark(timer=synchronized_clock)
def test_fftconv(benchmark, case, flush_l2, request):
    suite, name, problem = case
    try:
        backend = get_backend(name)
    except KeyError as err:
        pytest.skip(err.args[0])
    reason = backend.unavailable_reason(HAS_CUDA) or backend.unsupported_reason(problem)
    if reason:
        pytest.skip(reason)
    inputs = make_inputs(problem, DEVICE, seed=0)
    run = backend.prepare(problem, inputs).run

    inputs.poison_output()
    errors = Checker(problem, inputs)(run())  # y, or every gradient of a bwd / fwd_bwd point
    budget = suite.budgets[problem.dtype]
    assert errors.within(budget), errors.failure(budget)
    error = errors.overall

    benchmark.group = problem.label()
    benchmark.extra_info.update(backend=name, suite=suite.name, rel_l2_err=error.rel_l2_err, **problem.key())
    rounds = request.config.getoption("fftbench_rounds")
    benchmark.pedantic(run, setup=flush_l2, rounds=rounds, warmup_rounds=3)
