"""cufftdx_fused: why it is unavailable (CPU), the packed spectrum it is fed (CPU), and its results
against float64 (GPU only)."""

from __future__ import annotations

import pytest
import torch

import kernels.cufftdx_fused as cf
from fftbench import cuda_build
from fftbench.inputs import kernel_spectrum, make_inputs
from fftbench.problem import Problem
from fftbench.reference import DEFAULT_BUDGETS, check_call, checked_rows, reference
from kernels.cufftdx_fused import build


@pytest.fixture
def fresh_header_lookup():
    build.mathdx_include_dirs.cache_clear()
    yield
    build.mathdx_include_dirs.cache_clear()


def test_env_var_without_headers_names_the_variable(monkeypatch, tmp_path, fresh_header_lookup):
    monkeypatch.setenv(build.ENV_INCLUDE, str(tmp_path))
    dirs, reason = build.mathdx_include_dirs()
    assert dirs is None and build.ENV_INCLUDE in reason
    assert cf.unavailable_reason() == reason


def _mathdx_tree(root, with_cutlass: bool = True):
    """A fake MathDx install: include/cufftdx.hpp and, unless told otherwise, CUTLASS's cute/."""
    include = root / "include"
    include.mkdir()
    (include / "cufftdx.hpp").write_text("")
    if with_cutlass:
        (root / "external" / "cutlass" / "include" / "cute").mkdir(parents=True)
    return include


def test_env_var_with_headers_but_no_cutlass(monkeypatch, tmp_path, fresh_header_lookup):
    include = _mathdx_tree(tmp_path, with_cutlass=False)
    monkeypatch.setenv(build.ENV_INCLUDE, str(include))
    dirs, reason = build.mathdx_include_dirs()
    assert dirs is None and "CUTLASS" in reason


def test_env_var_with_full_tree_is_accepted(monkeypatch, tmp_path, fresh_header_lookup):
    include = _mathdx_tree(tmp_path)
    monkeypatch.setenv(build.ENV_INCLUDE, str(include))
    dirs, reason = build.mathdx_include_dirs()
    assert reason is None and dirs == (str(include), str(tmp_path / "external" / "cutlass" / "include"))


def test_missing_nvcc_and_gpu_are_reported(monkeypatch, tmp_path, fresh_header_lookup):
    include = _mathdx_tree(tmp_path)
    monkeypatch.setenv(build.ENV_INCLUDE, str(include))
    monkeypatch.setattr(cuda_build, "nvcc_path", lambda: None)
    assert "nvcc" in cf.unavailable_reason()
    monkeypatch.setattr(cuda_build, "nvcc_path", lambda: "/usr/bin/nvcc")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "GPU" in cf.unavailable_reason()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (8, 0))
    assert "sm_80" in cf.unavailable_reason()
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    assert cf.unavailable_reason() is None


def test_supported_range():
    assert cf.unsupported_reason(Problem(1, 1, 65536, mode="circular")) is None
    assert cf.unsupported_reason(Problem(1, 1, 32768, mode="causal")) is None
    assert "65536" in cf.unsupported_reason(Problem(1, 1, 65536, mode="causal"))


def _emulate_kernel(problem: Problem, x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """conv.cu in float64: rfft in the packed layout, multiply (bin 0 componentwise), unpacked
    inverse without 1/F (cuFFTDx's inverse is unnormalised)."""
    size, n = problem.fft_size, problem.seqlen
    spec = torch.fft.rfft(x.double(), n=size)
    packed = packed.to(torch.complex128)
    prod = spec[..., : size // 2] * packed
    dc, nyq = spec[..., 0].real * packed[..., 0].real, spec[..., size // 2].real * packed[..., 0].imag
    full = torch.cat([dc[..., None], prod[..., 1:], nyq[..., None]], dim=-1).to(torch.complex128)
    return torch.fft.irfft(full, n=size)[..., :n] * size


@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("gated", [False, True])
def test_packed_spectrum_reproduces_the_convolution(mode, gated):
    problem = Problem(2, 3, 256, "fp32", mode, gated=gated)
    inputs = make_inputs(problem, "cpu", seed=0)
    packed = cf.packed_spectrum(problem, inputs.k)
    assert packed.shape == (problem.channels, problem.fft_size // 2) and packed.dtype == torch.complex64
    x = inputs.u * inputs.w if gated else inputs.u
    got = _emulate_kernel(problem, x, packed)
    if gated:
        got = got * inputs.v.double()
    rows = checked_rows(problem)
    ref = reference(problem, inputs, rows)
    err = (got.reshape(problem.rows, -1)[rows] - ref).norm() / ref.norm()
    assert err < 1e-6


def test_packed_bin_zero_holds_dc_and_nyquist():
    problem = Problem(1, 2, 512, "fp32", "causal")
    k = torch.randn(2, 512)
    full = kernel_spectrum(problem, k)
    packed = cf.packed_spectrum(problem, k)
    size = problem.fft_size
    assert torch.allclose(packed[:, 0].real * size, full[:, 0].real, atol=1e-5)
    assert torch.allclose(packed[:, 0].imag * size, full[:, size // 2].real, atol=1e-5)


def test_flops_grow_with_size():
    small, large = Problem(1, 1, 1024), Problem(1, 1, 4096)
    assert 0 < cf.executed_flops(small) < cf.executed_flops(large)


GPU = pytest.mark.skipif(
    not torch.cuda.is_available() or cf.unavailable_reason() is not None,
    reason=f"cufftdx_fused unavailable: {cf.unavailable_reason() if torch.cuda.is_available() else 'no GPU'}",
)

GPU_CASES = [
    Problem(3, 5, 256, "fp32", "circular"),
    Problem(1, 3, 512, "fp16", "causal"),
    Problem(3, 5, 1024, "fp16", "causal"),
    Problem(3, 5, 4096, "bf16", "causal"),
    Problem(2, 7, 2048, "fp16", "circular", gated=True),
    Problem(2, 3, 1024, "fp32", "causal", gated=True),
    Problem(2, 4, 2048, "fp16", "causal", kernel_len=300),
    Problem(2, 4, 2048, "fp32", "causal", freq_sparsity=0.5),
    Problem(1, 2, 32768, "fp32", "causal"),  # the largest causal size
    Problem(1, 2, 65536, "bf16", "circular"),  # the largest circular size
]


@GPU
@pytest.mark.parametrize("problem", GPU_CASES, ids=lambda p: p.label())
def test_matches_float64(problem):
    inputs = make_inputs(problem, "cuda", seed=3)
    prepared = cf.cufftdx_fused(problem, inputs)
    err = check_call(problem, inputs, prepared.run)
    assert err.within(DEFAULT_BUDGETS[problem.dtype]), err
    assert prepared.details["fft_size"] == problem.fft_size
