"""Backend registry: a backend is one module under kernels/ with a factory decorated by
@register_backend. Capabilities are data, so the harness can skip what a backend cannot run
(with the reason) without ever special-casing a backend by name.

The factory does all setup (kernel spectrum, plans, compilation, allocation) and returns either
a zero-argument launch closure that returns y, or a Prepared carrying that closure plus details
to record (decomposition, autotuned config, ...).

Passes: a backend declares the passes it runs (default the forward only; others are recorded as
`unsupported` with the reason). For a bwd problem the inputs carry y's gradient inputs.dy and the
closure returns inputs.Grads (du, dk, and dv, dw when gated); for fwd_bwd, Grads with y as well.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import os
from typing import Callable

from fftbench.problem import DTYPES, MODES, PASSES, Problem

FEATURES = frozenset({"gating", "partial", "freq_sparse"})

# The explicit list of backend modules; never derived from paths. Add a module here to register it.
BACKEND_MODULES = (
    "kernels.torch_fft",
    "kernels.monarch_cuda",
    "kernels.monarch_long",
    "kernels.cufftdx_fused",
    "kernels.triton_monarch",
    "kernels.peers.flashfftconv",
    "kernels.peers.thunderkittens_fftconv",
)

# Published kernels that are not ours (kernels/peers/): the reference points a report draws apart.
PEER_FAMILY = "peers"


@dataclasses.dataclass
class Prepared:
    """What a factory returns: the launch-only closure and facts worth recording about it."""

    run: Callable[[], "object"]
    details: dict = dataclasses.field(default_factory=dict)
    on_host: bool = False  # the call computes on the CPU (a twin): timed by the CPU clock even on a GPU machine


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    family: str
    factory: Callable
    dtypes: tuple[str, ...]
    modes: tuple[str, ...]
    seqlen_min: int
    seqlen_max: int
    pow2_only: bool
    features: frozenset[str]
    passes: tuple[str, ...]
    device: str  # "cuda": needs a GPU; "any": runs on CPU too
    requires: Callable[[], str | None] | None
    supports: Callable[[Problem], str | None] | None
    flops: Callable[[Problem], float] | None
    precomputed_spectrum: bool
    baseline: bool
    description: str

    def unavailable_reason(self, has_cuda: bool) -> str | None:
        """Why this backend cannot run on this machine at all, or None."""
        if self.device == "cuda" and not has_cuda:
            return "needs a CUDA GPU; none is visible"
        if self.requires is not None:
            return self.requires()
        return None

    def unsupported_reason(self, problem: Problem) -> str | None:
        """Why this backend cannot run this problem, or None."""
        if problem.dtype not in self.dtypes:
            return f"dtype {problem.dtype} not supported (supports {', '.join(self.dtypes)})"
        if problem.mode not in self.modes:
            return f"mode {problem.mode} not supported"
        # The point is in the row beside the reason: one wording for every N lets the report
        # group the points a backend skips for the same reason on one line.
        if not self.seqlen_min <= problem.seqlen <= self.seqlen_max:
            return f"seqlen outside supported range [{self.seqlen_min}, {self.seqlen_max}]"
        if self.pow2_only and not problem.is_pow2:
            return "seqlen not a power of two"
        missing = problem.features - self.features
        if missing:
            return f"feature(s) {', '.join(sorted(missing))} not supported"
        if problem.pass_ not in self.passes:
            return f"pass {problem.pass_} not supported (runs {', '.join(self.passes)})"
        if self.supports is not None:
            return self.supports(problem)
        return None

    def prepare(self, problem: Problem, inputs) -> Prepared:
        made = self.factory(problem, inputs)
        return made if isinstance(made, Prepared) else Prepared(run=made)

    def capabilities(self) -> dict:
        return {
            "family": self.family,
            "dtypes": list(self.dtypes),
            "modes": list(self.modes),
            "seqlen_range": [self.seqlen_min, self.seqlen_max],
            "pow2_only": self.pow2_only,
            "features": sorted(self.features),
            "passes": list(self.passes),
            "device": self.device,
            "precomputed_spectrum": self.precomputed_spectrum,
        }


_REGISTRY: dict[str, Backend] = {}


def register_backend(
    name: str,
    *,
    family: str,
    dtypes=DTYPES,
    modes=MODES,
    seqlens: tuple[int, int] = (2, 1 << 22),
    pow2_only: bool = False,
    features=FEATURES,
    passes=("fwd",),
    device: str = "cuda",
    requires: Callable[[], str | None] | None = None,
    supports: Callable[[Problem], str | None] | None = None,
    flops: Callable[[Problem], float] | None = None,
    precomputed_spectrum: bool = True,
    baseline: bool = False,
):
    """Decorator registering a backend factory `factory(problem, inputs) -> closure | Prepared`.

    requires(): reason string when the backend cannot run on this machine (missing package,
    compiler, architecture), else None. supports(problem): reason for problems outside what the
    declarative capabilities express. flops(problem): FLOPs the backend really executes (for
    every pass it declares). passes: of problem.PASSES (see the module docstring).
    """
    unknown = (set(dtypes) - set(DTYPES) or set(modes) - set(MODES) or set(features) - FEATURES
               or set(passes) - set(PASSES))
    if unknown:
        raise ValueError(f"backend {name}: unknown capability {sorted(unknown)}")
    if device not in ("cuda", "any"):
        raise ValueError(f"backend {name}: device must be 'cuda' or 'any'")

    def wrap(factory):
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"backend {name!r} registered twice")
        _REGISTRY[name] = Backend(
            name=name,
            family=family,
            factory=factory,
            dtypes=tuple(dtypes),
            modes=tuple(modes),
            seqlen_min=seqlens[0],
            seqlen_max=seqlens[1],
            pow2_only=pow2_only,
            features=frozenset(features),
            passes=tuple(passes),
            device=device,
            requires=requires,
            supports=supports,
            flops=flops,
            precomputed_spectrum=precomputed_spectrum,
            baseline=baseline,
            description=(factory.__doc__ or "").strip().split("\n")[0],
        )
        return factory

    return wrap


@functools.cache
def load_backends() -> dict[str, Backend]:
    """Import every backend module once; a module that fails to import is a bug, not a skip
    (optional dependencies are handled inside each module through `requires`)."""
    for module in (*BACKEND_MODULES, *plugin_modules()):
        importlib.import_module(module)
    return dict(_REGISTRY)


def plugin_modules() -> list[str]:
    """Extra backend modules named in FFTBENCH_PLUGINS (comma-separated), e.g. a user's own kernel
    or the test suite's deliberately faulty backends. Workers inherit the variable."""
    return [m.strip() for m in os.environ.get("FFTBENCH_PLUGINS", "").split(",") if m.strip()]


def get_backend(name: str) -> Backend:
    backends = load_backends()
    if name not in backends:
        raise KeyError(f"unknown backend {name!r}; known: {', '.join(sorted(backends))}")
    return backends[name]
