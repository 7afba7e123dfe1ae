"""The convolution problem every backend solves, and its validation.

y = irfft(rfft(u) · mask · rfft(k, n=F), n=F)[..., :N]   with F = N (circular) or 2N (causal)
Gated:  y = v ⊙ conv(u ⊙ w, k).
Partial: the filter k has K ≤ N taps (zero beyond K).
Frequency-sparse: the top `freq_sparsity` fraction of the rfft bins of the kernel spectrum is
zero (bins ≥ cutoff_bin), so a backend may skip the blocks of work that touch only those bins.
Pass: `fwd` computes y; `bwd` computes, given y's gradient dy, the gradients du and dk (and dv, dw
when gated); `fwd_bwd` does both, one training step's worth of this layer.
"""
from __future__ import annotations

import dataclasses
import math

DTYPES = ("fp32", "fp16", "bf16")
MODES = ("circular", "causal")
PASSES = ("fwd", "bwd", "fwd_bwd")


class ProblemError(ValueError):
    """An impossible problem; the message names the offending field in one line."""


@dataclasses.dataclass(frozen=True)
class Problem:
    batch: int
    channels: int
    seqlen: int
    dtype: str = "fp16"
    mode: str = "causal"
    kernel_len: int | None = None  # K; None means K = N (a dense convolution)
    gated: bool = False
    freq_sparsity: float = 0.0
    pass_: str = "fwd"  # "pass" in suites, results and the command line (a Python keyword here)

    def __post_init__(self):
        for name in ("batch", "channels", "seqlen"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProblemError(f"{name}={value!r}: must be a positive integer")
        if self.seqlen < 2:
            raise ProblemError(f"seqlen={self.seqlen}: must be at least 2")
        if self.dtype not in DTYPES:
            raise ProblemError(f"dtype={self.dtype!r}: must be one of {', '.join(DTYPES)}")
        if self.mode not in MODES:
            raise ProblemError(f"mode={self.mode!r}: must be one of {', '.join(MODES)}")
        if self.kernel_len is not None:
            k = self.kernel_len
            if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= self.seqlen:
                raise ProblemError(f"kernel_len={k!r}: must be an integer in [1, seqlen={self.seqlen}]")
        if not isinstance(self.freq_sparsity, (int, float)) or not 0.0 <= self.freq_sparsity < 1.0:
            raise ProblemError(f"freq_sparsity={self.freq_sparsity!r}: must be in [0, 1)")
        if self.pass_ not in PASSES:
            raise ProblemError(f"pass={self.pass_!r}: must be one of {', '.join(PASSES)}")

    # --- derived sizes -------------------------------------------------------------------------
    @property
    def K(self) -> int:
        """Filter length (taps)."""
        return self.seqlen if self.kernel_len is None else self.kernel_len

    @property
    def fft_size(self) -> int:
        """F: the FFT length. Causal zero-pads to 2N so the circular wrap-around falls outside [0, N)."""
        return 2 * self.seqlen if self.mode == "causal" else self.seqlen

    @property
    def n_bins(self) -> int:
        """Number of rfft bins of the kernel spectrum, F/2 + 1."""
        return self.fft_size // 2 + 1

    @property
    def cutoff_bin(self) -> int:
        """First zero bin of a frequency-sparse kernel spectrum (n_bins when dense)."""
        if self.freq_sparsity == 0.0:
            return self.n_bins
        return max(1, math.ceil((1.0 - self.freq_sparsity) * (self.fft_size // 2)))

    @property
    def is_partial(self) -> bool:
        return self.K < self.seqlen

    @property
    def is_freq_sparse(self) -> bool:
        return self.freq_sparsity > 0.0

    @property
    def is_pow2(self) -> bool:
        return self.seqlen & (self.seqlen - 1) == 0

    @property
    def rows(self) -> int:
        """Independent sequences, B·H."""
        return self.batch * self.channels

    @property
    def features(self) -> frozenset[str]:
        """The optional features this problem uses, matched against a backend's declared ones."""
        used = set()
        if self.gated:
            used.add("gating")
        if self.is_partial:
            used.add("partial")
        if self.is_freq_sparse:
            used.add("freq_sparse")
        return frozenset(used)

    def key(self) -> dict:
        """The parameters that identify this problem in results (stable names: they are history keys)."""
        return {
            "batch": self.batch,
            "channels": self.channels,
            "seqlen": self.seqlen,
            "kernel_len": self.K,
            "mode": self.mode,
            "dtype": self.dtype,
            "gated": self.gated,
            "freq_sparsity": float(self.freq_sparsity),
            "pass": self.pass_,
        }

    @classmethod
    def from_key(cls, key: dict) -> "Problem":
        """The problem a key() names (or a results row: rows written before the pass axis are fwd)."""
        fields = ("batch", "channels", "seqlen", "kernel_len", "mode", "dtype", "gated", "freq_sparsity")
        return cls(**{f: key[f] for f in fields}, pass_=key.get("pass", "fwd"))

    def label(self) -> str:
        return point_label(self.key())


def point_label(point) -> str:
    """The one readable label of a point, from its key columns (a Problem's key(), a results row,
    or a report frame's record, whose numbers may be floats): '64x768x4096 fp16 causal K=256 gated';
    a pass other than fwd is a trailing token ('... gated bwd'), so fwd labels read as before the pass axis."""
    n = int(point["seqlen"])
    k = point.get("kernel_len")
    parts = [f"{int(point['batch'])}x{int(point['channels'])}x{n}", point["dtype"], point["mode"]]
    if k is not None and k == k and int(k) != n:  # k == k: not NaN
        parts.append(f"K={int(k)}")
    if point.get("gated"):
        parts.append("gated")
    if point.get("freq_sparsity"):
        parts.append(f"fsparse={point['freq_sparsity']:g}")
    pass_ = point.get("pass")
    if isinstance(pass_, str) and pass_ != "fwd":  # rows before the pass axis (no pass) are fwd
        parts.append(pass_)
    return " ".join(parts)


def pow2_lengths(shortest: int, longest: int) -> list[int]:
    """Every power of two from `shortest` to `longest` (both powers of two), in order: a backend's
    declared length range as the lengths to sweep."""
    return [1 << e for e in range(shortest.bit_length() - 1, longest.bit_length())]
