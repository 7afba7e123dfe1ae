"""triton_monarch: the plan's tables, and the Triton kernel against the float64 reference — on the
CPU through the Triton interpreter (every CI run), and compiled on a GPU when there is one.

The interpreter is chosen when `triton.jit` wraps the kernel, from TRITON_INTERPRET at that moment;
another test in this process may already have imported the kernel compiled, so the interpreted
checks run in one subprocess (env TRITON_INTERPRET=1) that reports every case as JSON.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fftbench.inputs import kernel_spectrum, make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call
from kernels.triton_monarch import default_config, triton_monarch, unavailable_reason, unsupported_reason
from kernels.triton_monarch.plan import Plan

BUDGET = {"fp32": 1e-5, "fp16": 1e-3, "bf16": 1e-2}
HAS_TRITON = __import__("importlib.util").util.find_spec("triton") is not None

INTERPRETED_CASES = [
    (n, mode, dtype, gated)
    for n in (256, 1024)
    for mode in ("causal", "circular")
    for dtype in ("fp16", "fp32")
    for gated in (False, True)
] + [(4096, "causal", "fp16", False), (4096, "circular", "fp16", True)]  # the three-stage plans

_CHILD = """
import json, sys
from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call
from kernels.triton_monarch import triton_monarch
out = {}
for n, mode, dtype, gated in json.loads(sys.argv[1]):
    p = Problem(3, 2, n, dtype, mode, gated=gated)  # odd batch: the last pair has one row
    inputs = make_inputs(p, "cpu", seed=n)
    e = check_call(p, inputs, triton_monarch(p, inputs).run)
    out[repr((n, mode, dtype, gated))] = [e.rel_l2_err, e.nonfinite]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def interpreted_errors():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(INTERPRETED_CASES)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not HAS_TRITON, reason="needs the triton package")
@pytest.mark.parametrize("case", INTERPRETED_CASES, ids=lambda c: "-".join(map(str, c)))
def test_interpreter_matches_float64(case, interpreted_errors):
    rel, nonfinite = interpreted_errors[repr(case)]
    assert nonfinite == 0 and rel <= BUDGET[case[2]], (case, rel)


@pytest.mark.parametrize("mode", ["causal", "circular"])
@pytest.mark.parametrize("seqlen", [256, 512, 1024, 2048, 4096, 8192, 16384])
def test_every_supported_size_has_a_valid_plan(seqlen, mode):
    problem = Problem(1, 1, seqlen, "fp16", mode)
    if unsupported_reason(problem) is not None:
        assert mode == "causal" and seqlen == 16384
        return
    plan = Plan.for_problem(problem)
    assert plan.size == problem.fft_size and plan.rows_in >= 16 and min(plan.radices[1:]) >= 16
    assert sorted(plan.bin_of_tile().tolist()) == list(range(plan.size))


def test_plan_rejects_factorisations_tl_dot_cannot_run():
    with pytest.raises(ValueError):
        Plan.for_problem(Problem(1, 1, 256, "fp16", "causal"), radices=(16, 32))  # causal R1/2 = 8 rows


def test_spectrum_is_the_full_fft_of_k_in_tile_order():
    problem = Problem(1, 3, 1024, "fp16", "causal", freq_sparsity=0.25)
    k = torch.randn(3, 1024, dtype=torch.float64)
    plan = Plan.for_problem(problem)
    tiled = plan.spectrum(problem, k, torch.float32)
    half = kernel_spectrum(problem, k, dtype=torch.complex128)
    full = torch.cat([half, half[:, 1:-1].flip(-1).conj()], dim=-1)  # Hermitian, sparse bins zero too
    expected = full[:, plan.bin_of_tile()]
    assert torch.allclose(tiled[:, 0].double(), expected.real, atol=1e-5)
    assert torch.allclose(tiled[:, 1].double(), expected.imag, atol=1e-5)


def test_bf16_is_refused_under_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert "bf16" in unsupported_reason(Problem(2, 2, 1024, "bf16", "causal"))
    assert unsupported_reason(Problem(2, 2, 1024, "fp16", "causal")) is None


GPU_READY = torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET", "0") in ("", "0") \
    and unavailable_reason() is None


@pytest.mark.skipif(not GPU_READY, reason="needs a CUDA GPU with compute capability >= 8.0 and triton")
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["causal", "circular"])
@pytest.mark.parametrize("seqlen", [256, 1024, 2048, 4096, 8192])
def test_gpu_matches_float64(seqlen, mode, dtype):
    problem = Problem(3, 5, seqlen, dtype, mode, gated=seqlen == 1024)
    inputs = make_inputs(problem, "cuda", seed=seqlen)
    prepared = triton_monarch(problem, inputs, config=default_config(problem))
    err = check_call(problem, inputs, prepared.run)
    assert err.within(BUDGET[dtype]), (prepared.details, err)


@pytest.mark.skipif(not GPU_READY, reason="needs a CUDA GPU with compute capability >= 8.0 and triton")
def test_gpu_autotuned_config_is_recorded_and_correct():
    problem = Problem(4, 16, 2048, "fp16", "causal")
    inputs = make_inputs(problem, "cuda", seed=7)
    prepared = triton_monarch(problem, inputs)
    assert "num_warps" in prepared.details["config"]
    assert check_call(problem, inputs, prepared.run).within(BUDGET["fp16"])
