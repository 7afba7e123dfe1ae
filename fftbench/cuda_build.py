"""Build CUDA kernel sources into shared libraries with nvcc, cached by content, loaded by ctypes.

Why not torch.utils.cpp_extension: a plain nvcc build needs no torch headers, so the same
command compiles every kernel on the CPU-only CI machine, and a fresh GPU machine builds on first
use in seconds, not a minute. Kernels export `extern "C"` launchers that take raw device pointers
and a cudaStream_t and return a cudaError_t (0 on success).

`python -m fftbench.cuda_build` compiles every declared library (CI runs it); a kernel package
declares its library with `CudaLibrary(...)` at import time.
"""
from __future__ import annotations

import ctypes
import dataclasses
import functools
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ARCH_FLAGS = ("-gencode=arch=compute_90a,code=sm_90a",)
BASE_FLAGS = ("-O3", "-std=c++17", "-lineinfo", "-shared", "-Xcompiler=-fPIC", "-Xptxas=--warn-on-spills")
CACHE_DIR = Path(os.environ.get("FFTBENCH_CACHE", Path.home() / ".cache" / "fftbench")) / "cuda"

_DECLARED: dict[str, "CudaLibrary"] = {}


class BuildError(RuntimeError):
    pass


def nvcc_path() -> str | None:
    found = shutil.which("nvcc")
    if found:
        return found
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    candidate = Path(home) / "bin" / "nvcc"
    return str(candidate) if candidate.exists() else None


@dataclasses.dataclass(frozen=True)
class CudaLibrary:
    name: str
    sources: tuple[Path, ...]
    headers: tuple[Path, ...] = ()  # hashed too, so a header edit rebuilds
    include_dirs: tuple[str, ...] = ()
    extra_flags: tuple[str, ...] = ()

    def __post_init__(self):
        _DECLARED[self.name] = self

    def command(self, output: Path) -> list[str]:
        nvcc = nvcc_path()
        if nvcc is None:
            raise BuildError("nvcc not found (set CUDA_HOME or put nvcc on PATH)")
        includes = [f"-I{d}" for d in self.include_dirs]
        return [nvcc, *BASE_FLAGS, *ARCH_FLAGS, *includes, *self.extra_flags, *map(str, self.sources), "-o", str(output)]

    def _digest(self) -> str:
        h = hashlib.sha256()
        for path in (*self.sources, *self.headers):
            h.update(Path(path).read_bytes())
        h.update(" ".join(self.command(Path("x"))).encode())
        return h.hexdigest()[:16]

    def build(self) -> Path:
        """Compile (or reuse the cached build of) this library; raise BuildError with nvcc's output."""
        output = CACHE_DIR / f"{self.name}-{self._digest()}.so"
        if output.exists():
            return output
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = output.with_suffix(f".{os.getpid()}.tmp")
        proc = subprocess.run(self.command(tmp), capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"nvcc failed for {self.name}:\n{proc.stderr[-4000:]}")
        os.replace(tmp, output)  # atomic: concurrent builders never see a half-written library
        return output

    @functools.cache
    def load(self) -> ctypes.CDLL:
        return ctypes.CDLL(str(self.build()))


COMMON_SOURCES = (Path(__file__).resolve().parent.parent / "kernels" / "common" / "errors.cu",)
COMMON_HEADERS = (Path(__file__).resolve().parent.parent / "kernels" / "common" / "half2.cuh",)


def hopper_reason() -> str | None:
    """Why an sm_90a kernel library cannot run here (no nvcc, no GPU, not Hopper), or None."""
    import torch

    if nvcc_path() is None:
        return "nvcc not found (set CUDA_HOME or put nvcc on PATH)"
    if not torch.cuda.is_available():
        return "needs a CUDA GPU; none is visible"
    major, minor = torch.cuda.get_device_capability()
    if (major, minor) != (9, 0):
        return f"built for sm_90a (H100/H200); this GPU is sm_{major}{minor}"
    return None


def check_launch(lib: ctypes.CDLL, code: int, what: str) -> None:
    """Raise on a launcher's non-zero cudaError_t so a failed launch never goes unnoticed.
    `lib` must include COMMON_SOURCES (which export fftbench_error_string)."""
    if code != 0:
        lib.fftbench_error_string.restype = ctypes.c_char_p
        raise RuntimeError(f"{what}: CUDA error {code}: {lib.fftbench_error_string(code).decode()}")


def main(argv: list[str]) -> int:
    """Compile every declared library in parallel (the kernel packages declare them on import)."""
    from concurrent.futures import ThreadPoolExecutor

    from fftbench import cuda_build  # the imported module, not __main__: that is where libraries register
    from fftbench.registry import load_backends

    load_backends()  # importing the backend modules (and FFTBENCH_PLUGINS) declares their libraries
    libraries = list(cuda_build._DECLARED.values())
    if not libraries:
        print("no CUDA libraries declared", file=sys.stderr)
        return 1

    def build(lib):
        try:
            return f"built {lib.name}: {lib.build()}", True
        except BuildError as err:
            return str(err), False

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        outcomes = list(pool.map(build, libraries))
    for text, ok in outcomes:
        print(text, file=sys.stdout if ok else sys.stderr)
    return 0 if all(ok for _, ok in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
