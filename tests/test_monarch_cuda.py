"""monarch_cuda: the kernel source compiles (wherever nvcc is), and on an sm_90 GPU its output
matches the float64 reference at every decomposition order, both modes, gated, odd B·H."""
import pytest

from fftbench.cuda_build import nvcc_path
from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call
from kernels.monarch_cuda import LIBRARY, _requires, monarch_cuda

BUDGET = {"fp16": 1e-3, "bf16": 7e-3}


@pytest.mark.skipif(nvcc_path() is None, reason="needs nvcc")
def test_kernel_compiles():
    assert LIBRARY.build().exists()


@pytest.mark.skipif(_requires() is not None, reason=str(_requires()))
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("seqlen", [256, 512, 1024, 4096, 16384, 32768])
def test_matches_float64(seqlen, mode, dtype, gated):
    problem = Problem(3, 5, seqlen, dtype, mode, gated=gated)  # 15 rows: not a multiple of any block
    inputs = make_inputs(problem, "cuda", seed=seqlen)
    prepared = monarch_cuda(problem, inputs)
    err = check_call(problem, inputs, prepared.run)
    assert err.within(BUDGET[dtype]), (prepared.details["decomposition"], err)
