"""torch.fft baselines: the function every other backend is measured against.

fp32 runs in complex64; fp16 uses cuFFT's native half-precision FFT (power-of-two sizes only);
bf16 is upcast to fp32, since cuFFT has no bf16. On the CPU, which has no half FFT, fp16 is
upcast as well and the results say so. The kernel spectrum is computed once, in the factory.
"""
from __future__ import annotations

import warnings

import torch

from fftbench.inputs import Inputs, kernel_spectrum, torch_dtype
from fftbench.problem import Problem
from fftbench.registry import Prepared, register_backend


def _compute_dtypes(problem: Problem, device: torch.device) -> tuple[torch.dtype, torch.dtype]:
    """(real dtype the FFT runs in, complex dtype of the kernel spectrum)."""
    if problem.dtype == "fp16" and device.type == "cuda":
        return torch.float16, torch.complex32
    return torch.float32, torch.complex64


def fft_conv(u, k_f, fft_size: int, real_dtype, out_dtype, v=None, w=None):
    """y = v ⊙ irfft(rfft(u ⊙ w) · k_f)[..., :N] — written once, shared by eager and compiled."""
    n = u.shape[-1]
    x = u if w is None else u * w
    # norm="ortho" splits the 1/F between the transforms: in fp16 the default norm's unscaled
    # inverse overflows (its sums reach F·|y|: NaN from N = 8K on, seen on the H100), and putting
    # all of 1/F on the forward transform pushes the spectrum towards fp16's subnormals.
    x_f = torch.fft.rfft(x.to(real_dtype), n=fft_size, norm="ortho")
    y = torch.fft.irfft(x_f * k_f, n=fft_size, norm="ortho")[..., :n]
    if v is not None:
        y = y * v
    return y.to(out_dtype)


def _half_fft_supported(problem: Problem) -> str | None:
    if problem.dtype == "fp16" and not (problem.is_pow2):
        return "cuFFT half precision needs a power-of-two FFT size"
    return None


def _make(problem: Problem, inputs: Inputs, compile_fn: bool) -> Prepared:
    device = inputs.u.device
    real_dtype, spec_dtype = _compute_dtypes(problem, device)
    with warnings.catch_warnings():  # "ComplexHalf support is experimental": it is what cuFFT fp16 uses
        warnings.simplefilter("ignore", UserWarning)
        k_f = kernel_spectrum(problem, inputs.k).to(spec_dtype)
    if compile_fn:
        torch._dynamo.reset()  # one graph per point: a sweep changes dtype and size at every point
        # The FFTs stay library calls by design; inductor's note that it generates no code for
        # complex operators says just that, once per worker, in the middle of the progress lines.
        warnings.filterwarnings("ignore", "Torchinductor does not support code generation for complex operators")
        fn = torch.compile(fft_conv, dynamic=False)
    else:
        fn = fft_conv
    out_dtype = torch_dtype(problem.dtype)
    u, v, w, F = inputs.u, inputs.v, inputs.w, problem.fft_size
    details = {"fft_dtype": str(real_dtype).removeprefix("torch."), "compiled": compile_fn}
    return Prepared(run=lambda: fn(u, k_f, F, real_dtype, out_dtype, v, w), details=details)


@register_backend("torch_fft", family="torch", device="any", baseline=True, supports=_half_fft_supported)
def torch_fft(problem: Problem, inputs: Inputs) -> Prepared:
    """torch.fft rfft → multiply → irfft, eager (the baseline)."""
    return _make(problem, inputs, compile_fn=False)


def _compile_available() -> str | None:
    if not hasattr(torch, "compile"):
        return "this torch has no torch.compile"
    return None


@register_backend(
    "torch_fft_compile", family="torch", device="any", requires=_compile_available, supports=_half_fft_supported
)
def torch_fft_compile(problem: Problem, inputs: Inputs) -> Prepared:
    """The same function under torch.compile (FFTs stay library calls; pointwise ops fuse)."""
    return _make(problem, inputs, compile_fn=True)
