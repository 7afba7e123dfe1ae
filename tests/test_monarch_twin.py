"""monarch_cuda v2's decomposition (plan.py), checked on the CPU: the per-lane tables the kernel
reads are the plan's matrices in accumulator order, and the twin (same stages and rounding
points) matches the float64 reference."""
import math

import pytest
import torch

from fftbench.gradients import Checker
from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call, reference
from fftbench.registry import get_backend
from kernels.monarch_cuda.plan import Plan, acc_positions, dft16, tables
from kernels.monarch_cuda.twin import Twin, pair_rows, unpair_rows

BUDGET = {"fp16": 1e-3, "bf16": 8e-3}


def test_acc_positions_cover_the_tile_once():
    rows, cols = acc_positions()
    assert sorted((rows * 16 + cols).reshape(-1).tolist()) == list(range(256))


def _scatter(table: torch.Tensor, planes: bool = False) -> torch.Tensor:
    """Inverse of plan.vector_major(plan.lane_order(x)): (..., V, 32, 16/V) → (..., 16, 16) complex;
    planes: of plan.planes(plan.lane_order(x)), (..., 2, 32, 8)."""
    rows, cols = acc_positions()
    if planes:
        lanes = table.float().movedim(-3, -1)
    else:
        lanes = table.float().transpose(-3, -2).reshape(*table.shape[:-3], 32, 8, 2)
    out = torch.zeros(*table.shape[:-3], 16, 16, dtype=torch.complex64)
    out[..., rows, cols] = torch.view_as_complex(lanes.contiguous())
    return out


@pytest.mark.parametrize("seqlen,mode", [(256, "causal"), (1024, "circular"), (4096, "causal")])
def test_tables_are_the_plan_in_lane_order(seqlen, mode):
    problem = Problem(2, 3, seqlen, "fp16", mode)
    plan = Plan.for_problem(problem, torch.float16)
    k = make_inputs(problem, "cpu", seed=1).k
    tab = tables(plan, problem, k)
    r1 = plan.r1
    for kind in range(plan.kinds):
        ta = plan.twiddle_a(kind).to(torch.complex64)                      # (R1, 256)
        chunks = _scatter(tab["tw_a"][kind])                               # (16 q, 16 rows, 16 cols)
        expect = ta[torch.arange(16) % r1].reshape(16, 16, 16).permute(1, 0, 2)
        assert torch.allclose(chunks, expect, atol=1e-6)
    spec = _scatter(tab["spec"], planes=True).reshape(3, plan.kinds, -1) * tab["scale"][:, None, None]  # slice order
    natural = plan.spectrum(problem, k).to(torch.complex64)
    ka, kb, kc = torch.meshgrid(torch.arange(r1), torch.arange(16), torch.arange(16), indexing="ij")
    expect = natural[..., (ka + r1 * (kb + 16 * kc)).reshape(-1)]
    assert ((spec - expect).abs() <= 1e-3 * tab["scale"][:, None, None]).all()  # fp16 with a power-of-two scale
    assert tab["mats"].shape == (2 + 4 * plan.kinds, 256) and tab["mats"].dtype == torch.float16


def test_pair_rows_round_trip_with_odd_batch():
    x = torch.randn(5, 3, 8)
    assert torch.equal(unpair_rows(pair_rows(x), 5), x)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("seqlen", [256, 1024, 4096])  # R1 = 1, 4, 16: 16, 4 and 1 row pairs per tile
def test_twin_matches_float64(seqlen, mode, dtype, gated):
    problem = Problem(3, 3, seqlen, dtype, mode, gated=gated)  # odd B: the last pair has no partner
    inputs = make_inputs(problem, "cpu", seed=seqlen)
    twin = Twin(problem, inputs.k)
    err = check_call(problem, inputs, lambda: twin(inputs.u, inputs.v, inputs.w))
    assert err.within(BUDGET[dtype]), (twin.plan.name, err)


@pytest.mark.parametrize("kernel_len,freq_sparsity", [(256, 0.0), (1024, 0.75)])
def test_twin_partial_and_freq_sparse(kernel_len, freq_sparsity):
    problem = Problem(2, 2, 1024, "fp16", "causal", kernel_len=kernel_len, freq_sparsity=freq_sparsity)
    inputs = make_inputs(problem, "cpu", seed=7)
    twin = Twin(problem, inputs.k)
    assert check_call(problem, inputs, lambda: twin(inputs.u)).within(BUDGET["fp16"])


@pytest.mark.parametrize("mode", ["circular", "causal"])
def test_pipeline_without_rounding_is_exact(mode):
    """With every rounding point in float32 the decomposition is the exact convolution: checks the
    algebra (cyclic + negacyclic split, block-diagonal stage A, twiddles), not precision."""
    problem = Problem(2, 2, 2048, "fp16", mode)
    inputs = make_inputs(problem, "cpu", seed=3)
    twin = Twin(problem, inputs.k)
    twin.dtype = torch.float32
    twin.f16 = dft16().to(torch.complex64)
    twin.fa = [twin.plan.stage_a(kind).to(torch.complex64) for kind in range(twin.plan.kinds)]
    twin.spec = twin.plan.to_slices(twin.plan.spectrum(problem, inputs.k)).to(torch.complex64)
    twin.scale = torch.ones(problem.channels)
    rows = torch.arange(problem.rows)
    y = twin(inputs.u.float()).reshape(problem.rows, -1).double()
    ref = reference(problem, inputs, rows)
    assert ((y - ref).norm() / ref.norm()).item() < 1e-5


@pytest.mark.parametrize("mode", ["circular", "causal"])
def test_adjoint_twin_is_the_input_gradient(mode):
    """With the conjugate spectrum the pipeline computes du = ∂⟨dy, y⟩/∂u of the forward call."""
    problem = Problem(2, 3, 1024, "fp16", mode)
    inputs = make_inputs(problem, "cpu", seed=11)
    dy = torch.randn(problem.batch, problem.channels, problem.seqlen).half()
    u = inputs.u.double().requires_grad_()
    k_f = torch.fft.rfft(inputs.k.double(), n=problem.fft_size)
    y = torch.fft.irfft(torch.fft.rfft(u, n=problem.fft_size) * k_f, n=problem.fft_size)[..., : problem.seqlen]
    (du,) = torch.autograd.grad(y, u, dy.double())
    got = Twin(problem, inputs.k, adjoint=True)(dy).double()
    assert ((got - du).norm() / du.norm()).item() < 1e-3


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("pass_", ["bwd", "fwd_bwd"])
@pytest.mark.parametrize("seqlen,mode,extra", [
    (1024, "causal", {}), (256, "circular", {"gated": True}),
    (512, "causal", {"gated": True, "kernel_len": 100, "freq_sparsity": 0.5}),
    (8192, "causal", {}),  # v4 sizes: du through the reversed filter
    (8192, "circular", {"gated": True}),
])
def test_backward_matches_float64_autograd(seqlen, mode, extra, pass_, dtype):
    """monarch_cuda's backward algorithm on the twin: du (dv, dw) from forward-engine calls, dk
    from the torch.fft reduction, each against float64 autograd."""
    problem = Problem(3, 2, seqlen, dtype, mode, pass_=pass_, **extra)
    backend = get_backend("monarch_twin")
    assert backend.unsupported_reason(problem) is None
    inputs = make_inputs(problem, "cpu", seed=seqlen)
    prepared = backend.prepare(problem, inputs)
    errors = Checker(problem, inputs)(prepared.run())
    assert {"du", "dk"} <= set(errors.per_tensor) and ("dw" in errors.per_tensor) == problem.gated
    assert errors.within(BUDGET[dtype]), errors.per_tensor
    assert prepared.details["dk"] == "torch.fft reduction (fp32)"
    assert ("reversed filter" in prepared.details["du"]) == (seqlen > 4096)


@pytest.mark.parametrize("seqlen", [1024, 16384])
@pytest.mark.parametrize("gated", [False, True])
def test_declared_flops_of_the_backward(seqlen, gated):
    """monarch_cuda's executed FLOPs: the step is forward + backward, and the backward is at least
    its kernel calls (1, or 3 gated) plus the torch.fft reduction."""
    from fftbench import cost
    from kernels.monarch_cuda import executed_flops

    fwd, bwd, step = (Problem(64, 16, seqlen, "fp16", "causal", gated=gated, pass_=p) for p in ("fwd", "bwd", "fwd_bwd"))
    assert executed_flops(step) == executed_flops(fwd) + executed_flops(bwd)
    calls = 3 if gated else 1
    rfft = 2.5 * fwd.fft_size * math.log2(fwd.fft_size)
    assert executed_flops(bwd) > calls * executed_flops(fwd) + 2 * rfft * fwd.rows
    assert cost.conventional_flops(bwd) < executed_flops(bwd)


def test_monarch_cuda_declines_more_channels_than_grid_rows():
    from fftbench.registry import get_backend

    backend = get_backend("monarch_cuda")
    assert "65535" in backend.unsupported_reason(Problem(1, 70000, 1024, "fp16", "causal"))
    assert backend.unsupported_reason(Problem(1, 768, 1024, "fp16", "causal")) is None


def test_executed_flops_count_the_mmas_the_kernel_issues():
    """768 m16n8k16 MMAs (4096 FLOPs each) per 16-row tile and kind, as monarch.cu's SASS has (phase 1:
    8 per 16-column chunk and kind, ×16 chunks, twice; phase 2: 32 per slice, ×16 slices), plus five
    fp32 complex multiplies per point and kind."""
    from kernels.monarch_cuda import executed_flops, tiles_per_channel

    problem = Problem(64, 768, 4096, "fp16", "causal")
    assert tiles_per_channel(problem) == 32 and tiles_per_channel(Problem(5, 1, 1024, "fp16", "causal")) == 1
    per_tile_kind = 768 * 4096 + 5 * 6 * 4096
    assert executed_flops(problem) == 32 * 768 * 2 * per_tile_kind
