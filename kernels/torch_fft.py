"""torch.fft baselines: the function every other backend is measured against.

fp32 runs in complex64; fp16 uses cuFFT's native half-precision FFT (power-of-two sizes only);
bf16 is upcast to fp32, since cuFFT has no bf16. On the CPU, which has no half FFT, fp16 is
upcast as well and the results say so. The kernel spectrum is computed once, in the factory.
torch_fft's bwd and fwd_bwd are torch autograd through the same function, with k's spectrum in
the graph (the filter is what training updates): the baseline of a training step.
"""
from __future__ import annotations

import dataclasses
import warnings

import torch

from fftbench.inputs import Grads, Inputs, kernel_spectrum, torch_dtype
from fftbench.problem import PASSES, Problem
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


def _spectrum(problem: Problem, k, spec_dtype):
    with warnings.catch_warnings():  # "ComplexHalf support is experimental": it is what cuFFT fp16 uses
        warnings.simplefilter("ignore", UserWarning)
        return kernel_spectrum(problem, k).to(spec_dtype)


def _autograd(problem: Problem, inputs: Inputs, real_dtype, spec_dtype, details: dict) -> Prepared:
    """bwd: the forward graph is built here (untimed) and each call runs autograd's backward
    through it with inputs.dy; fwd_bwd: each call runs the forward, then the backward."""
    leaves = {name: t.detach().requires_grad_() for name, t in
              (("du", inputs.u), ("dk", inputs.k), ("dv", inputs.v), ("dw", inputs.w)) if t is not None}
    u, k, v, w = (leaves.get(n) for n in ("du", "dk", "dv", "dw"))
    out_dtype, dy, F = torch_dtype(problem.dtype), inputs.dy, problem.fft_size

    def forward():
        with torch.enable_grad():
            return fft_conv(u, _spectrum(problem, k, spec_dtype), F, real_dtype, out_dtype, v, w)

    def backward(y, keep_graph: bool) -> Grads:
        grads = torch.autograd.grad(y, list(leaves.values()), dy, retain_graph=keep_graph)
        return Grads(**dict(zip(leaves, grads)))

    if problem.pass_ == "bwd":
        y = forward()
        run = lambda: backward(y, keep_graph=True)
    else:
        def run():
            y = forward()
            return dataclasses.replace(backward(y, keep_graph=False), y=y.detach())
    return Prepared(run=run, details={**details, "gradients": "torch autograd"})


def _make(problem: Problem, inputs: Inputs, compile_fn: bool) -> Prepared:
    device = inputs.u.device
    real_dtype, spec_dtype = _compute_dtypes(problem, device)
    details = {"fft_dtype": str(real_dtype).removeprefix("torch."), "compiled": compile_fn}
    if problem.pass_ != "fwd":
        return _autograd(problem, inputs, real_dtype, spec_dtype, details)
    k_f = _spectrum(problem, inputs.k, spec_dtype)
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
    return Prepared(run=lambda: fn(u, k_f, F, real_dtype, out_dtype, v, w), details=details)


@register_backend("torch_fft", family="torch", device="any", baseline=True, supports=_half_fft_supported,
                  passes=PASSES)
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
