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
from kernels.triton_monarch import default_config, executed_flops, triton_monarch, unavailable_reason, unsupported_reason
from kernels.triton_monarch.plan import Plan, factorisation

BUDGET = {"fp32": 1e-5, "fp16": 1e-3, "bf16": 8e-3}
HAS_TRITON = __import__("importlib.util").util.find_spec("triton") is not None

# (N, mode, dtype, gated, K or None, frequency sparsity, plan): plan None is the table's, 1 a pass
# per kind, "split" the split plan (rows and columns kernels; the table's at 32K), "split:3" with
# 3 of the 4 (channel, pair) slots per launch pair (two launch pairs, the second partial).
# Causal runs two kinds (cyclic + negacyclic), stacked in one pass up to 8K, a pass each at 16K.
INTERPRETED_CASES = [
    (n, mode, dtype, gated, None, 0.0, None)
    for n in (256, 1024)
    for mode in ("causal", "circular")
    for dtype in ("fp16", "fp32")
    for gated in (False, True)
] + [
    (512, "causal", "fp16", True, None, 0.0, None), (2048, "causal", "fp16", False, None, 0.0, None),
    (1024, "causal", "fp16", False, 100, 0.5, None),               # partial + frequency-sparse spectrum
    (512, "causal", "fp16", True, None, 0.75, None),               # frequency-sparse: stage 2 on 16 of 32
    (2048, "circular", "fp32", True, None, 0.75, None),            # columns (16 of 64 at 2K)
    (4096, "causal", "fp16", False, None, 0.0, None),              # the three-stage plans
    (4096, "circular", "fp16", True, None, 0.0, None),
    (256, "causal", "fp16", True, None, 0.0, 1), (1024, "causal", "fp32", False, None, 0.0, 1),
    (4096, "causal", "fp16", True, None, 0.0, 1),                  # a pass per kind, as at 16K
] + [
    (1024, mode, dtype, gated, None, 0.0, "split")                 # the split kernels at a small N
    for mode in ("causal", "circular")
    for dtype in ("fp16", "fp32")
    for gated in (False, True)
] + [
    (256, "causal", "fp16", True, None, 0.0, "split:3"), (4096, "circular", "fp32", False, None, 0.0, "split:3"),
    (1024, "causal", "fp16", False, 100, 0.5, "split"),            # partial + frequency-sparse, split
    (16384, "causal", "fp16", False, None, 0.0, "split"),          # the 16K split plan (64 rows of 512)
    (32768, "causal", "fp16", False, None, 0.0, None),             # 32K: the table's plan is split
    (32768, "causal", "fp32", True, None, 0.0, "split:3"),
    (32768, "circular", "fp16", True, None, 0.0, None),
    (32768, "causal", "fp16", True, 5000, 0.25, None),
]

_CHILD = """
import json, sys
from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call
from kernels.triton_monarch import triton_monarch
from kernels.triton_monarch.plan import Plan
out = {}
for n, mode, dtype, gated, k, sparsity, plan in json.loads(sys.argv[1]):
    # odd batch: the last pair has one row; 2 channels: 4 (channel, pair) slots
    p = Problem(3, 2, n, dtype, mode, gated=gated, kernel_len=k, freq_sparsity=sparsity)
    inputs = make_inputs(p, "cpu", seed=n)
    if plan is None or isinstance(plan, int):
        prepared = triton_monarch(p, inputs, kinds_per_pass=plan)
    else:
        split = Plan.for_problem(p, split=True)
        slot_mib = 2 * split.kinds * split.size * (4 if dtype == "fp32" else 2) / 2**20
        prepared = triton_monarch(p, inputs, split=True, scratch_mib=3 * slot_mib if plan == "split:3" else None)
    e = check_call(p, inputs, prepared.run)
    out[repr((n, mode, dtype, gated, k, sparsity, plan))] = [e.rel_l2_err, e.nonfinite, prepared.details["decomposition"],
                                                           prepared.details["config"], prepared.details["skips_work"]]
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
    rel, nonfinite, decomposition, config, skips = interpreted_errors[repr(case)]
    assert nonfinite == 0 and rel <= BUDGET[case[2]], (case, rel)
    n, sparsity, plan = case[0], case[5], case[6]
    assert ("spectral columns" in skips) == (sparsity >= 0.5 and 512 <= n <= 2048 and plan is None), skips
    assert ("split" in decomposition) == (isinstance(case[-1], str) or case[0] == 32768), decomposition
    if case[-1] == "split:3":
        assert "3 pairs per launch pair" in config, config


@pytest.mark.parametrize("split", [None, True])
@pytest.mark.parametrize("mode", ["causal", "circular"])
@pytest.mark.parametrize("seqlen", [256, 512, 1024, 2048, 4096, 8192, 16384, 32768])
def test_every_supported_size_has_a_valid_plan(seqlen, mode, split):
    """Fused plans (one program per pair) up to 16K, the split plan at 32K by default and at
    every N on request; every F-point bin is in exactly one tile position."""
    problem = Problem(1, 1, seqlen, "fp16", mode)
    assert unsupported_reason(problem) is None
    plan = Plan.for_problem(problem, split=split)
    assert plan.split == (split or seqlen == 32768) and (factorisation(problem) is None) == (seqlen == 32768)
    assert plan.size == seqlen and plan.kinds == (2 if mode == "causal" else 1) and min(plan.radices) >= 16
    assert plan.passes * plan.rows == plan.kinds * plan.r1
    assert sorted(plan.bin_of_tile().flatten().tolist()) == list(range(problem.fft_size))


@pytest.mark.parametrize("seqlen,mode,sparsity,width", [
    (1024, "causal", 0.5, 16), (1024, "causal", 0.75, 16), (512, "causal", 0.5, 16), (2048, "causal", 0.5, 32),
    (2048, "causal", 0.75, 16), (1024, "circular", 0.5, 16), (2048, "circular", 0.75, 16),
    (1024, "causal", 0.0, None), (1024, "causal", 0.25, None), (256, "causal", 0.75, None), (4096, "causal", 0.75, None),
])
def test_frequency_sparse_two_stage_plans_keep_every_live_column(seqlen, mode, sparsity, width):
    """The kept k2 columns hold every non-zero bin of the problem's spectrum (so the skipped stage-2
    work only ever multiplied zeros), as a power of two ≥ 16 below R2; none kept → nothing skipped
    (dense, too little sparsity, R2 = 16 at 256, three stages at 4K)."""
    problem = Problem(2, 3, seqlen, "fp16", mode, freq_sparsity=sparsity)
    plan = Plan.for_problem(problem)
    kept = plan.kept_columns(problem)
    assert (None if kept is None else len(kept)) == width
    if kept is None:
        return
    assert kept == sorted(set(kept)) and all(0 <= c < plan.r2 for c in kept)
    spec = kernel_spectrum(problem, make_inputs(problem, "cpu", seed=1).k, dtype=torch.complex128)
    full = torch.cat([spec, spec[:, 1:problem.fft_size - spec.shape[1] + 1].flip(-1).conj()], dim=-1)
    tiles = full[:, plan.bin_of_tile()].reshape(3, -1, plan.r2)   # (H, PASSES·ROWS, R2) [ρ, k2]
    live = (tiles.abs() > 0).any(0).any(0).nonzero().flatten().tolist()
    assert set(live) <= set(kept)
    assert executed_flops(problem) < executed_flops(Problem(2, 3, seqlen, "fp16", mode))
    assert plan.spectrum(problem, make_inputs(problem, "cpu", seed=1).k, torch.float16).shape[-1] == plan.rows * len(kept)


def test_sizes_beyond_the_split_plan_are_refused_with_the_range():
    reason = unsupported_reason(Problem(1, 1, 65536, "fp16", "causal"))
    assert "256..32K" in reason and "split" in reason


def test_plan_rejects_factorisations_tl_dot_cannot_run():
    with pytest.raises(ValueError):
        Plan.for_problem(Problem(1, 1, 256, "fp16", "causal"), radices=(8, 32))  # an 8-wide dot
    with pytest.raises(ValueError):
        Plan.for_problem(Problem(1, 1, 256, "fp16", "circular"), kinds_per_pass=2)  # circular has one kind
    with pytest.raises(ValueError):
        Plan.for_problem(Problem(1, 1, 32768, "fp16", "causal"), kinds_per_pass=1)  # 32K has only the split plan


def _complex(planes: torch.Tensor) -> torch.Tensor:
    """(…, 2, r, c) re/im planes → (…, r, c) complex128."""
    return torch.complex(planes[..., 0, :, :].double(), planes[..., 1, :, :].double())


def _run_tables(plan: Plan, z: torch.Tensor, spectrum: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's pipeline in complex128 einsums over the plan's tables, pass p on a (ROWS, L)
    tile: (forward spectral tiles (PASSES, ROWS·L), output y (T,) summed over the passes — split
    plans: the gather matrix on the passes' D blocks stacked as rows p·ROWS + ρ, as the columns
    kernel does)."""
    rows, r1, r2, r3 = plan.rows, plan.r1, plan.r2, plan.r3
    m1 = plan.stage1_matrices(torch.float64)                         # (PASSES, 2 directions, 2, ROWS·R1)
    fwd = _complex(m1[:, 0].reshape(-1, 2, rows, r1))                 # [ρ, n1]
    inv = _complex(m1[:, 1].reshape(-1, 2, r1, rows))                 # [n1, ρ]
    f2, f3 = (_complex(plan.dft_matrix(r, torch.float64)) for r in (r2, max(r3, 1)))
    ta, tb, tc = (_complex(t) for t in plan.twiddles())
    tw1 = ta[:, :, :, None] * (tb[:, :, None, :] if r3 > 1 else 1)  # (PASSES, ρ, n2, n3)
    x = torch.einsum("kij,jbc->kibc", fwd, z.reshape(r1, r2, r3)) * tw1
    x = torch.einsum("kibc,bd->kidc", x, f2)                        # (PASSES, ρ, k2, n3)
    if r3 > 1:
        x = torch.einsum("kidc,ce->kide", x * tc.transpose(-1, -2)[:, None], f3)
    spectral = x.reshape(plan.passes, -1)
    y = (spectral * spectrum).reshape(x.shape)
    if r3 > 1:
        y = torch.einsum("kide,ce->kidc", y, f3.conj()) * tc.transpose(-1, -2)[:, None].conj()
    y = torch.einsum("kidc,bd->kibc", y, f2.conj()) * tw1.conj()
    if plan.split:
        gather = _complex(plan.gather_matrix(torch.float64))          # [n1, p·ROWS + ρ]
        return spectral, (gather @ y.reshape(plan.passes * rows, -1)).reshape(-1)
    y = torch.einsum("kji,kibc->jbc", inv, y)                       # G1 [n1, ρ], summed over the passes
    return spectral, y.reshape(-1)


@pytest.mark.parametrize("variant", [None, 1, "split"])
@pytest.mark.parametrize("mode", ["causal", "circular"])
@pytest.mark.parametrize("seqlen", [256, 2048, 4096, 16384, 32768])
def test_tables_give_the_direct_transform_and_convolution(seqlen, mode, variant):
    """The stage matrices and twiddles compose X_κ[k] = Σ_n z[n]·W_F^{n(KINDS·k+κ)}/√T (the
    negacyclic pre-twiddle folded in) at the bins bin_of_tile names, and the whole table pipeline
    with the spectrum is the (causal: first N outputs of the 2N-point) convolution — in
    complex128 but for the fp32 twiddle tables (≈ 1e-7). variant: kinds per pass, or the split plan."""
    problem = Problem(1, 1, seqlen, "fp16", mode)
    if seqlen == 32768 and variant != "split":
        pytest.skip("32K has the split plan only")
    if seqlen == 16384 and mode == "causal" and variant is None:
        variant = 2  # the table's plan is a pass per kind; check the stacked tables too
    plan = (Plan.for_problem(problem, split=True) if variant == "split"
            else Plan.for_problem(problem, kinds_per_pass=variant))
    gen = torch.Generator().manual_seed(seqlen)
    z = torch.complex(torch.randn(seqlen, generator=gen, dtype=torch.float64),
                      torch.randn(seqlen, generator=gen, dtype=torch.float64))
    k = torch.randn(1, seqlen, generator=gen, dtype=torch.float64) / seqlen ** 0.5
    spectrum = _complex(plan.spectrum(problem, k, torch.float64)[:, :, :, None, :])[0, :, 0]  # (PASSES, ·)
    spectral, y = _run_tables(plan, z, spectrum)
    direct = torch.fft.fft(z, problem.fft_size)[plan.bin_of_tile()] / seqlen ** 0.5       # zero-padded to F
    assert (spectral - direct).norm() / direct.norm() < 1e-6                            # fp32 twiddles
    expected = torch.fft.ifft(torch.fft.fft(z, problem.fft_size) * torch.fft.fft(k[0], problem.fft_size))[:seqlen]
    assert (y - expected).norm() / expected.norm() < 1e-6


@pytest.mark.parametrize("kinds_per_pass", [1, 2])
def test_spectrum_is_the_full_fft_of_k_split_by_kind_in_tile_order(kinds_per_pass):
    problem = Problem(1, 3, 1024, "fp16", "causal", freq_sparsity=0.25)
    k = torch.randn(3, 1024, dtype=torch.float64)
    plan = Plan.for_problem(problem, kinds_per_pass=kinds_per_pass)
    tiled = plan.spectrum(problem, k, torch.float32)                 # (H, PASSES, 2, ROWS·L)
    half = kernel_spectrum(problem, k, dtype=torch.complex128)
    full = torch.cat([half, half[:, 1:-1].flip(-1).conj()], dim=-1)  # Hermitian, sparse bins zero too
    bins = plan.bin_of_tile()
    assert bins.shape == (2 // kinds_per_pass, 1024 * kinds_per_pass)
    if kinds_per_pass == 1:  # a pass per kind: bins 2k + κ, k in tile order
        assert (bins[0] % 2 == 0).all() and torch.equal(bins[1], bins[0] + 1)
    expected = full[:, bins] / 2                                     # K_2N[2k+κ]/2
    assert torch.allclose(tiled[:, :, 0].double(), expected.real, atol=1e-5)
    assert torch.allclose(tiled[:, :, 1].double(), expected.imag, atol=1e-5)


@pytest.mark.skipif(not HAS_TRITON or os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"),
                    reason="needs triton, compiling (not interpreting)")
def test_offline_compile_reports_sm90_resources():
    """The tool behind NOTES.md's register tables still compiles the kernel for sm_90 without a GPU."""
    from kernels.triton_monarch.offline_compile import compile_stats, split_compile_stats

    stats = compile_stats(Plan.for_problem(Problem(2, 1, 256, "fp16", "causal"), kinds_per_pass=1), 4, None)
    assert 0 < stats["registers"] <= 255 and stats["sass_instructions"] > 100
    split = split_compile_stats(Plan.for_problem(Problem(2, 1, 256, "fp16", "causal"), split=True), 4, None)
    assert all(0 < s["registers"] <= 255 and s["sass_instructions"] > 100 for s in split.values())


def test_bf16_is_refused_under_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert "bf16" in unsupported_reason(Problem(2, 2, 1024, "bf16", "causal"))
    assert unsupported_reason(Problem(2, 2, 1024, "fp16", "causal")) is None


GPU_READY = torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET", "0") in ("", "0") \
    and unavailable_reason() is None


@pytest.mark.skipif(not GPU_READY, reason="needs a CUDA GPU with compute capability >= 8.0 and triton")
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["causal", "circular"])
@pytest.mark.parametrize("seqlen", [256, 1024, 2048, 4096, 8192, 16384, 32768])
def test_gpu_matches_float64(seqlen, mode, dtype):
    problem = Problem(3, 5, seqlen, dtype, mode, gated=seqlen == 1024)
    inputs = make_inputs(problem, "cuda", seed=seqlen)
    prepared = triton_monarch(problem, inputs, config=default_config(problem))
    err = check_call(problem, inputs, prepared.run)
    assert err.within(BUDGET[dtype]), (prepared.details, err)


@pytest.mark.skipif(not GPU_READY, reason="needs a CUDA GPU with compute capability >= 8.0 and triton")
@pytest.mark.parametrize("mode", ["causal", "circular"])
def test_gpu_split_plan_at_16k_matches_float64(mode):
    """The split plan forced at 16K (the device times it against the fused plan), over two
    launch pairs."""
    problem = Problem(3, 5, 16384, "fp16", mode, gated=True)
    inputs = make_inputs(problem, "cuda", seed=3)
    prepared = triton_monarch(problem, inputs, split=True, scratch_mib=1.0)
    err = check_call(problem, inputs, prepared.run)
    assert "split" in prepared.details["decomposition"] and err.within(BUDGET["fp16"]), (prepared.details, err)


@pytest.mark.skipif(not GPU_READY, reason="needs a CUDA GPU with compute capability >= 8.0 and triton")
def test_gpu_autotuned_config_is_recorded_and_correct():
    problem = Problem(4, 16, 2048, "fp16", "causal")
    inputs = make_inputs(problem, "cuda", seed=7)
    prepared = triton_monarch(problem, inputs)
    assert "num_warps" in prepared.details["config"]
    assert check_call(problem, inputs, prepared.run).within(BUDGET["fp16"])
