"""ThunderKittens' H100 FFT convolution (HazyResearch/ThunderKittens kernels/fftconv, MIT) as a
peer backend.

fftconv_pc.cu: 64×64 wgmma tiles, a producer warpgroup loading by TMA and two consumer
warpgroups, a persistent grid; bf16 only, circular only, N = 1024 or 4096 (its fft_1024_template
and fft_4096_template), sm_90a only. Its own Python wrapper, TKFFTConv
(kernels/fftconv/baselines/tk_fftconv.py), computes k's spectrum in its constructor, so the timed
call is the kernel plus the wrapper's reshapes and output allocation.

Built with torch.utils.cpp_extension from the checkout named by FFTBENCH_TK_ROOT and cached in
torch's extensions folder (TORCH_EXTENSIONS_DIR): the first use compiles (under two minutes on
the H200), later ones, in any process, load the build.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
from pathlib import Path
from types import ModuleType

import torch

from fftbench.cuda_build import nvcc_path
from fftbench.inputs import Inputs
from fftbench.problem import Problem
from fftbench.registry import PEER_FAMILY, Prepared, register_backend
from kernels.peers import checkout

ENV_ROOT = "FFTBENCH_TK_ROOT"
SOURCE = "kernels/fftconv/fftconv_pc.cu"
WRAPPER = "kernels/fftconv/baselines/tk_fftconv.py"
NEEDED = (SOURCE, WRAPPER, "include/kittens.cuh", "prototype/prototype.cuh")
SEQLENS = (1024, 4096)  # fftconv_pc.cu dispatches N == 4096 to one template, anything else to the 1024 one
EXTENSION = "fftbench_tk_fftconv"
ARCH_LIST = "9.0a"  # wgmma and TMA exist on sm_90a alone


def cuda_flags(root: Path) -> list[str]:
    """nvcc flags of TK's kernels/common.mk in its PyTorch mode (-DTORCH_COMPILE)."""
    return ["-std=c++20", "-O3", "--use_fast_math", "--expt-extended-lambda", "--expt-relaxed-constexpr",
            "-DKITTENS_HOPPER", "-DNDEBUG", "-DTORCH_COMPILE", f"-I{root / 'include'}", f"-I{root / 'prototype'}"]


def unavailable_reason() -> str | None:
    """Why this machine cannot build or run the kernel: checkout, compiler, ninja or GPU."""
    from torch.utils.cpp_extension import is_ninja_available

    root, why = checkout(ENV_ROOT, NEEDED)
    if why:
        return why
    if root is None:
        return (f"{ENV_ROOT} is not set: name a ThunderKittens checkout holding include/, prototype/ and "
                "kernels/fftconv/ (tools/device/peers.sh unpacks one)")
    if nvcc_path() is None:
        return "nvcc not found (set CUDA_HOME or put nvcc on PATH)"
    if not is_ninja_available():
        return "ninja not found (torch.utils.cpp_extension builds with it)"
    if not torch.cuda.is_available():
        return "needs a CUDA GPU; none is visible"
    major, minor = torch.cuda.get_device_capability()
    if (major, minor) != (9, 0):
        return f"wgmma/TMA kernel for sm_90a (H100/H200); this GPU is sm_{major}{minor}"
    return None


def unsupported_reason(problem: Problem) -> str | None:
    if problem.seqlen not in SEQLENS:
        return f"N = {problem.seqlen}: ThunderKittens' fftconv has kernels for N = {' and '.join(map(str, SEQLENS))} only"
    return None


def _root() -> Path:
    root, why = checkout(ENV_ROOT, NEEDED)
    if root is None:
        raise RuntimeError(why or f"{ENV_ROOT} is not set")
    return root


@functools.cache
def extension() -> ModuleType:
    """fftconv_pc.cu as a torch extension: built on first use, loaded from torch's cache after."""
    from torch.utils.cpp_extension import load

    root = _root()
    previous = os.environ.get("TORCH_CUDA_ARCH_LIST")
    os.environ["TORCH_CUDA_ARCH_LIST"] = ARCH_LIST
    try:
        return load(name=EXTENSION, sources=[str(root / SOURCE)], extra_cuda_cflags=cuda_flags(root),
                    extra_cflags=["-std=c++20"], extra_ldflags=["-lcuda"])
    finally:
        if previous is None:
            del os.environ["TORCH_CUDA_ARCH_LIST"]
        else:
            os.environ["TORCH_CUDA_ARCH_LIST"] = previous


@functools.cache
def wrapper() -> ModuleType:
    """TK's own tk_fftconv module with its `fftconv` bound to our build (it looks for `_C`, the
    name its Makefile gives the extension, and prints a complaint when that is absent)."""
    path = _root() / WRAPPER
    spec = importlib.util.spec_from_file_location("tk_fftconv", path)
    module = importlib.util.module_from_spec(spec)
    with contextlib.redirect_stdout(io.StringIO()):
        spec.loader.exec_module(module)
    module.fftconv = extension().fftconv
    return module


@register_backend(
    "thunderkittens_fftconv",
    family=PEER_FAMILY,
    dtypes=("bf16",),
    modes=("circular",),
    seqlens=(SEQLENS[0], SEQLENS[-1]),
    pow2_only=True,
    features={"partial"},
    requires=unavailable_reason,
    supports=unsupported_reason,
)
def thunderkittens_fftconv(problem: Problem, inputs: Inputs) -> Prepared:
    """ThunderKittens' H100 fftconv (wgmma, producer/consumer warpgroups): bf16 circular, N = 1K and 4K."""
    conv = wrapper().TKFFTConv(inputs.k, seqlen=problem.seqlen, H=problem.channels, dtype=torch.bfloat16)
    conv = conv.to(inputs.u.device)
    u, k = inputs.u, inputs.k
    details = {
        "spectrum": "precomputed by TKFFTConv's constructor",
        "grid": "132 persistent blocks, fixed in fftconv_pc.cu",
        "extension": extension().__file__,
    }
    return Prepared(run=lambda: conv(u, k), details=details)
