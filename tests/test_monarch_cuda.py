"""monarch_cuda (v2 up to 4K, v4 above): the kernel sources compile (wherever nvcc is), and on an sm_90 GPU its output
matches the float64 reference and its CPU twin at every tile shape (R1 = 1 … 16), both modes,
both dtypes, gated, with B·H rows that fill no tile evenly and an odd B."""
import pytest

from fftbench.cuda_build import hopper_reason, nvcc_path
from fftbench.gradients import Checker
from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call
from kernels.monarch_cuda import LIBRARY, large, monarch_cuda
from kernels.monarch_cuda.twin import Twin

BUDGET = {"fp16": 1e-3, "bf16": 8e-3}


@pytest.mark.skipif(nvcc_path() is None, reason="needs nvcc")
def test_kernel_compiles():
    assert LIBRARY.build().exists() and large.LIBRARY.build().exists()


@pytest.mark.skipif(hopper_reason() is not None, reason=str(hopper_reason()))
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("seqlen", [256, 512, 1024, 2048, 4096])
def test_matches_float64_and_twin(seqlen, mode, dtype, gated):
    problem = Problem(33, 5, seqlen, dtype, mode, gated=gated)  # odd B: a row pair without a partner
    inputs = make_inputs(problem, "cuda", seed=seqlen)
    prepared = monarch_cuda(problem, inputs)
    err = check_call(problem, inputs, prepared.run)
    assert err.within(BUDGET[dtype]), (prepared.details["decomposition"], err)
    cpu = lambda t: None if t is None else t.cpu()
    twin = Twin(problem, inputs.k.cpu())(cpu(inputs.u), cpu(inputs.v), cpu(inputs.w)).float()
    assert ((inputs.out.cpu().float() - twin).norm() / twin.norm()).item() < 2e-3


@pytest.mark.skipif(hopper_reason() is not None, reason=str(hopper_reason()))
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("seqlen", [8192, 16384, 32768])
def test_v4_path_matches_float64(seqlen, mode, dtype, gated):
    problem = Problem(3, 5, seqlen, dtype, mode, gated=gated)
    inputs = make_inputs(problem, "cuda", seed=seqlen)
    prepared = monarch_cuda(problem, inputs)
    assert prepared.details["decomposition"].startswith("v4")
    err = check_call(problem, inputs, prepared.run)
    assert err.within(BUDGET[dtype]), (prepared.details["decomposition"], err)


@pytest.mark.skipif(hopper_reason() is not None, reason=str(hopper_reason()))
def test_partial_and_freq_sparse_are_correct():
    for kernel_len, sparsity in ((1024, 0.0), (4096, 0.75)):
        problem = Problem(4, 3, 4096, "fp16", "causal", kernel_len=kernel_len, freq_sparsity=sparsity)
        inputs = make_inputs(problem, "cuda", seed=5)
        assert check_call(problem, inputs, monarch_cuda(problem, inputs).run).within(BUDGET["fp16"])


@pytest.mark.skipif(hopper_reason() is not None, reason=str(hopper_reason()))
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("pass_", ["bwd", "fwd_bwd"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("seqlen", [256, 1024, 4096, 8192, 32768])
def test_backward_matches_float64_autograd(seqlen, mode, gated, pass_, dtype):
    """du (dv, dw) from the kernels (conjugate-spectrum tables on v2 sizes, the reversed filter on
    v4 sizes), dk from the torch.fft reduction, each against float64 autograd; odd B."""
    problem = Problem(33, 5, seqlen, dtype, mode, gated=gated, pass_=pass_)
    inputs = make_inputs(problem, "cuda", seed=seqlen)
    errors = Checker(problem, inputs)(monarch_cuda(problem, inputs).run())
    assert errors.within(BUDGET[dtype]), errors.per_tensor
