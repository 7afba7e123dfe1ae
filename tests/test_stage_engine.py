"""The v1 stage engine (kernels/monarch_long/stages.cuh, monarch_long's passes), checked on the CPU through its twin against the float64 reference."""
import math

import pytest
import torch

from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call, checked_rows, reference
from kernels.monarch_long.stage_plan import Plan, pair_coefficients, radices_for
from kernels.monarch_long.stage_twin import Twin

BUDGET = {"fp16": 1e-3, "bf16": 7e-3}


@pytest.mark.parametrize("m", [2 ** b for b in range(7, 16)])
def test_radices_multiply_to_m_with_16s_first(m):
    radices = radices_for(m)
    assert math.prod(radices) == m and set(radices) <= {8, 16}
    assert list(radices) == sorted(radices, reverse=True)


def test_position_of_is_a_permutation():
    plan = Plan(4096, radices_for(4096))
    pos = plan.position_of(torch.arange(4096))
    assert torch.equal(pos.sort().values, torch.arange(4096))


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("seqlen", [256, 1024, 4096])  # orders 2 and 3 (16x8, 16x16, 8x8x8, 16x8x8, 16x16x8, 16x16x16)
def test_twin_matches_float64(seqlen, mode, dtype, gated):
    problem = Problem(2, 3, seqlen, dtype, mode, gated=gated)
    inputs = make_inputs(problem, "cpu", seed=seqlen)
    twin = Twin(problem, inputs.k)
    err = check_call(problem, inputs, lambda: twin(inputs.u, inputs.v, inputs.w))
    assert err.within(BUDGET[dtype]), (Plan.for_problem(problem).name, err)


@pytest.mark.parametrize("kernel_len,freq_sparsity", [(256, 0.0), (1024, 0.5), (1024, 0.75)])
def test_twin_partial_and_freq_sparse(kernel_len, freq_sparsity):
    problem = Problem(2, 2, 1024, "fp16", "causal", kernel_len=kernel_len, freq_sparsity=freq_sparsity)
    inputs = make_inputs(problem, "cpu", seed=7)
    twin = Twin(problem, inputs.k)
    assert check_call(problem, inputs, lambda: twin(inputs.u)).within(BUDGET["fp16"])


def test_fp64_pipeline_is_exact():
    """Without rounding the folded pipeline is the exact convolution (checks the algebra, not precision)."""
    problem = Problem(1, 2, 512, "fp16", "causal")
    inputs = make_inputs(problem, "cpu", seed=3)
    twin = Twin(problem, inputs.k)
    twin.stages.dtype = twin.pairs.dtype = torch.float64
    twin.stages.mats = {r: (twin.plan.dft_matrix(r).real.float(), twin.plan.dft_matrix(r).imag.float()) for r in twin.stages.mats}
    twin.pairs.coef = pair_coefficients(*twin.plan.pair_spectrum(problem, inputs.k, torch.float64), twin.plan.m)
    y = twin.rows(inputs.u.reshape(2, 512).float(), torch.arange(2))
    rows = checked_rows(problem)
    ref = reference(problem, inputs, rows)
    assert (y.double() - ref).norm() / ref.norm() < 1e-5
