"""Where cuFFTDx's headers come from, and the nvcc libraries built from conv.cu.

cuFFTDx ships in PyPI's `nvidia-mathdx` (NVIDIA's license: we depend on the package, never copy
its headers). The headers are found through FFTBENCH_MATHDX_INCLUDE (the folder holding
cufftdx.hpp) or the installed package. One library per FFT size: each instantiation takes
~25-60 s of nvcc, so nothing is built until a size is used (or CI runs
`python -m fftbench.cuda_build`, which builds every declared library).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

from fftbench.cuda_build import COMMON_SOURCES, CudaLibrary

SOURCE = Path(__file__).resolve().parent / "conv.cu"
# Real FFT size F (powers of two) → (complex elements per thread of its F/2-point block FFT, an
# entry of cuFFTDx's sm_90 database; __launch_bounds__ min blocks per SM, i.e. the register cap
# 65536 / (blocks · threads)). Measured on the H100 (NOTES.md): small EPT and capped registers keep
# more warps resident, which is what this latency- and FP32-bound kernel needs. 256 is the smallest
# size the suite asks for; 65536 (a 32768-point complex FFT, EPT 32 only) the largest real FFT one
# block holds on sm_90.
CONFIG = {
    256: (8, 4),
    512: (8, 4),
    1024: (8, 4),
    2048: (8, 4),
    4096: (8, 4),
    8192: (16, 3),
    16384: (16, 2),
    32768: (16, 1),
    65536: (32, 1),
}
FFT_SIZES = tuple(sorted(CONFIG))
ENV_INCLUDE = "FFTBENCH_MATHDX_INCLUDE"


def _cutlass_for(include: Path) -> Path:
    return include.parent / "external" / "cutlass" / "include"


@functools.cache
def mathdx_include_dirs() -> tuple[tuple[str, ...] | None, str | None]:
    """((cuFFTDx include, CUTLASS include), None) or (None, why not)."""
    env = os.environ.get(ENV_INCLUDE)
    if env:
        include = Path(env)
        if not (include / "cufftdx.hpp").is_file():
            return None, f"{ENV_INCLUDE}={env} has no cufftdx.hpp"
    else:
        spec = importlib.util.find_spec("nvidia.mathdx") if importlib.util.find_spec("nvidia") else None
        if spec is None or not spec.submodule_search_locations:
            return None, "nvidia-mathdx is not installed (pip install -e .[cufftdx], or set FFTBENCH_MATHDX_INCLUDE)"
        include = Path(next(iter(spec.submodule_search_locations))) / "include"
        if not (include / "cufftdx.hpp").is_file():
            return None, f"nvidia-mathdx at {include.parent} has no include/cufftdx.hpp"
    cutlass = _cutlass_for(include)
    if not (cutlass / "cute").is_dir():
        return None, f"CUTLASS headers that cuFFTDx includes are missing at {cutlass}"
    return (str(include), str(cutlass)), None


def flags(size: int, ept: int | None = None, min_blocks: int | None = None, *tuning: str) -> tuple[str, ...]:
    """nvcc flags selecting one instantiation of conv.cu; `tuning` adds -D overrides (dev only)."""
    ept = ept or CONFIG[size][0]
    min_blocks = min_blocks or CONFIG[size][1]
    # CUDA 13 deprecates the long4-style vector types that cuFFTDx's headers name: silence the
    # host compiler's warnings about them.
    return (
        f"-DFFTBENCH_F={size}",
        f"-DFFTBENCH_EPT={ept}",
        f"-DFFTBENCH_MIN_BLOCKS={min_blocks}",
        *tuning,
        "-Xcompiler=-Wno-deprecated-declarations",
    )


def _declare() -> dict[int, CudaLibrary]:
    dirs, _ = mathdx_include_dirs()
    if dirs is None:
        return {}
    return {
        size: CudaLibrary(
            name=f"cufftdx_fused_{size}",
            sources=(SOURCE, *COMMON_SOURCES),
            include_dirs=dirs,
            extra_flags=flags(size),
        )
        for size in FFT_SIZES
    }


LIBRARIES = _declare()


def library(fft_size: int) -> CudaLibrary:
    return LIBRARIES[fft_size]
