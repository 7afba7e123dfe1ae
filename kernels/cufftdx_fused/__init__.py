"""cuFFTDx-fused convolution: one CUDA kernel per FFT size that reads u once, runs cuFFTDx's block
real FFT (in fp32 for every I/O dtype), multiplies by the precomputed kernel spectrum, inverts and
writes y.

It is the fused-but-no-tensor-core point of comparison for the Monarch kernels (FlashFFTConv's
paper compares against the same thing). The kernel is conv.cu; headers and builds are build.py.
"""

from __future__ import annotations

import ctypes
import math

import torch

from fftbench.cuda_build import CudaLibrary, check_launch, hopper_reason
from fftbench.inputs import Inputs, kernel_spectrum
from fftbench.problem import Problem
from fftbench.registry import Prepared, register_backend
from kernels.cufftdx_fused.build import FFT_SIZES, library, mathdx_include_dirs

MAX_FFT_SIZE = FFT_SIZES[-1]
_IO_CODES = {"fp32": 0, "bf16": 1, "fp16": 2}


def unavailable_reason() -> str | None:
    """Why this machine cannot run the backend: headers, compiler, or GPU architecture."""
    _, reason = mathdx_include_dirs()
    if reason:
        return reason
    return hopper_reason()


def unsupported_reason(problem: Problem) -> str | None:
    if problem.fft_size > MAX_FFT_SIZE:
        return (
            f"FFT size {problem.fft_size} exceeds cuFFTDx's largest single-block real FFT on sm_90 "
            f"({MAX_FFT_SIZE}; causal N <= {MAX_FFT_SIZE // 2})"
        )
    return None


def executed_flops(problem: Problem) -> float:
    """FLOPs executed per row: forward and inverse folded real FFTs (an F/2-point complex FFT,
    5·n·log2 n, plus the untangling, ~5 per point), the packed spectrum multiply (6 per bin), and
    the gating products."""
    half = problem.fft_size // 2
    per_row = 2 * (5 * half * math.log2(half) + 5 * half) + 6 * half
    per_row += 2 * problem.seqlen if problem.gated else 0
    return float(problem.rows * per_row)


def packed_spectrum(problem: Problem, k: torch.Tensor) -> torch.Tensor:
    """The kernel spectrum as conv.cu reads it: (H, F/2) complex64 in cuFFTDx's packed layout, bin 0
    carrying (K[0], K[F/2]) (real for a real filter), bins 1 … F/2-1 as they are; divided by F
    since cuFFTDx's inverse is unnormalised."""
    size = problem.fft_size
    spec = kernel_spectrum(problem, k).to(torch.complex64)  # (H, F/2 + 1)
    packed = spec[:, : size // 2].clone()
    packed[:, 0] = torch.complex(spec[:, 0].real, spec[:, size // 2].real)
    return (packed / size).contiguous()


def _pair_aligned(t: torch.Tensor | None) -> torch.Tensor | None:
    """The kernel reads (x[2i], x[2i+1]) pairs as one access: contiguous, aligned to a pair."""
    if t is None or (t.is_contiguous() and t.data_ptr() % (2 * t.element_size()) == 0):
        return t
    return t.clone(memory_format=torch.contiguous_format)


def _launcher(lib: ctypes.CDLL):
    fn = lib.fftbench_cufftdx_conv
    fn.restype = ctypes.c_int
    ptr, i64 = ctypes.c_void_p, ctypes.c_longlong
    fn.argtypes = [ptr, ptr, ptr, ptr, ptr, i64, i64, i64, ctypes.c_int, ptr]
    return fn


def instantiation_info(lib: ctypes.CDLL) -> dict:
    info = (ctypes.c_int * 7)()
    lib.fftbench_cufftdx_info(info)
    return {
        "fft_size": info[0],
        "ffts_per_block": info[1],
        "elements_per_thread": info[2],  # complex pairs per thread in each FFT
        "threads_per_block": info[3],
        "shared_memory_bytes": info[4],
        "registers_per_thread": info[5],
        "local_bytes_per_thread": info[6],
        "compute_precision": "fp32",
        "transform": "cuFFTDx fold-optimised real FFT (F/2-point complex FFT + untangling), one row per FFT",
    }


@register_backend(
    "cufftdx_fused",
    family="cufftdx",
    seqlens=(256, MAX_FFT_SIZE),
    pow2_only=True,
    features={"gating", "partial", "freq_sparse"},
    requires=unavailable_reason,
    supports=unsupported_reason,
    flops=executed_flops,
)
def cufftdx_fused(problem: Problem, inputs: Inputs) -> Prepared:
    """cuFFTDx block real FFT → spectrum multiply → inverse, fused in one kernel (no tensor cores)."""
    return prepare(problem, inputs, library(problem.fft_size))


def prepare(problem: Problem, inputs: Inputs, cuda_library: CudaLibrary) -> Prepared:
    """The factory's work for a given build of conv.cu (dev scripts pass tuning variants)."""
    lib = cuda_library.load()
    launch = _launcher(lib)
    spectrum = packed_spectrum(problem, inputs.k).to(inputs.u.device)
    u, v, w = (_pair_aligned(t) for t in (inputs.u, inputs.v, inputs.w))
    out = inputs.out
    if not out.is_contiguous() or out.data_ptr() % (2 * out.element_size()):
        raise ValueError("cufftdx_fused writes pairs into inputs.out, which must be contiguous and pair-aligned")
    # The closure holds the tensors themselves, not just their addresses: a spectrum freed after
    # the factory returns would be recycled by the allocator while the kernel still reads it.
    tensors = (u, w, v, out, spectrum)
    sizes = (problem.batch, problem.channels, problem.seqlen, _IO_CODES[problem.dtype])

    def run() -> torch.Tensor:
        ptrs = [t.data_ptr() if t is not None else None for t in tensors]
        stream = torch.cuda.current_stream(out.device).cuda_stream
        check_launch(lib, launch(*ptrs, *sizes, stream), "cufftdx_fused")
        return out

    details = instantiation_info(lib)
    details.update(
        mode=problem.mode,
        io_dtype=problem.dtype,
        loads="each thread moves one (x[2i], x[2i+1]) pair per register straight to registers: 8-byte fp32 / "
        "4-byte fp16x2 or bf16x2 accesses, coalesced across the warp, no shared-memory staging",
        causal_padding="implied: the zero half of the 2N input is never read",
        sparse_and_partial="dense multiply by the zeroed / zero-padded spectrum: correct, no work is skipped",
    )
    return Prepared(run=run, details=details)
