"""FlashFFTConv (Fu et al. 2023, HazyResearch/flash-fft-conv, Apache-2.0) as a peer backend.

Its `FlashFFTConv(fft_size, dtype)` module takes u (B, H, L) in fp16 or bf16 and the time-domain
filter k (H, K) in float32, and returns irfft(fft(u) · fft(k, n=F))[..., :L] with F = fft_size:
F = 2N is our causal mode, F = N our circular one. It transforms k inside every call (a torch.fft
in FlashFFTConvFunc.forward), so its times include that FFT: registered with
precomputed_spectrum=False, which every row records. Gating goes through its own fused
`pregate` / `postgate` arguments: y = postgate ⊙ conv(pregate ⊙ u, k), i.e. pregate = w, postgate = v.

Found through FFTBENCH_FLASHFFTCONV_ROOT, a checkout whose `monarch_cuda` extension is built in
place in csrc/flashfftconv (tools/device/peers.sh), or through an installed package.
"""
from __future__ import annotations

import functools
import importlib
import sys
from types import ModuleType

from fftbench.inputs import Inputs, torch_dtype
from fftbench.problem import Problem
from fftbench.registry import PEER_FAMILY, Prepared, register_backend
from kernels.peers import checkout

ENV_ROOT = "FFTBENCH_FLASHFFTCONV_ROOT"
EXTENSION_DIR = "csrc/flashfftconv"  # setup.py there builds monarch_cuda; conv.py imports it top-level
# The FFT sizes FlashFFTConv.__init__ builds (flashfftconv/conv.py at b877102, one branch each):
# every power of two from 256 to 4M; anything else raises NotImplementedError there.
FFT_SIZES = tuple(1 << e for e in range(8, 23))
HINT = (f"set {ENV_ROOT} to a FlashFFTConv checkout whose monarch_cuda extension is built in {EXTENSION_DIR} "
        "(tools/device/peers.sh builds one), or install the package")


@functools.cache
def load() -> tuple[ModuleType | None, str | None]:
    """(the flashfftconv package, None), or (None, why it does not import)."""
    root, why = checkout(ENV_ROOT, ("flashfftconv/__init__.py", EXTENSION_DIR))
    if why:
        return None, why
    if root is not None:  # else: an installed package, if any
        for path in (str(root / EXTENSION_DIR), str(root)):
            if path not in sys.path:
                sys.path.insert(0, path)
    try:
        return importlib.import_module("flashfftconv"), None
    except (ImportError, OSError) as err:  # OSError: an extension built against another torch or CUDA
        # A half-finished build leaves csrc/flashfftconv/monarch_cuda/ (a folder, no .so): Python
        # then imports that folder as a namespace package and the names are missing.
        return None, f"flashfftconv does not import ({type(err).__name__}: {err}); {HINT}"


def unavailable_reason() -> str | None:
    return load()[1]


def unsupported_reason(problem: Problem) -> str | None:
    if problem.fft_size not in FFT_SIZES:
        return (f"FFT size {problem.fft_size} ({problem.mode}) is not one FlashFFTConv builds "
                f"(powers of two {FFT_SIZES[0]} … {FFT_SIZES[-1]})")
    return None


@register_backend(
    "flashfftconv",
    family=PEER_FAMILY,
    dtypes=("fp16", "bf16"),
    seqlens=(FFT_SIZES[0] // 2, FFT_SIZES[-1]),
    pow2_only=True,
    features={"gating", "partial"},
    requires=unavailable_reason,
    supports=unsupported_reason,
    precomputed_spectrum=False,
)
def flashfftconv(problem: Problem, inputs: Inputs) -> Prepared:
    """FlashFFTConv (HazyResearch): Monarch FFT convolution on tensor cores; transforms k on every call."""
    package, why = load()
    if package is None:
        raise RuntimeError(why)
    # eval(): in training mode its forward saves u and the permuted spectrum for a backward pass.
    conv = package.FlashFFTConv(problem.fft_size, dtype=torch_dtype(problem.dtype)).to(inputs.u.device).eval()
    u, k, pregate, postgate = inputs.u, inputs.k, inputs.w, inputs.v
    details = {
        "fft_size": problem.fft_size,
        "spectrum": "fft(k, n=F) inside every call (FlashFFTConvFunc.forward), timed with the convolution",
        "gating": "its fused pregate=w, postgate=v" if problem.gated else None,
        "package": package.__file__,
    }
    return Prepared(run=lambda: conv(u, k, pregate, postgate), details=details)
