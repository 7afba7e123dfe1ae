"""Monarch v2 decomposition: the one source of truth for the CUDA kernel (monarch.cu), its CPU
twin (twin.py) and the tables the factory uploads.

Two real rows of one channel travel as one complex row z = u[b] + i·u[b+1]: the filter is real,
so conv(z, k) = conv(u[b], k) + i·conv(u[b+1], k) and the spectrum product is a plain complex
multiply (no real-FFT pair map). Every transform has T = N complex points:
  circular: y = IFFT_T(FFT_T(z) · K_T)                                      (one kind, κ = 0)
  causal:   the first N outputs of the 2N-point convolution are the sum of the even-bin part
            (κ = 0, a T-point cyclic transform) and the odd-bin part (κ = 1, the T-point transform
            of z·W_2T^n, "negacyclic"), each with its half of the 2N-point spectrum:
            y = Σ_κ W_2T^{-nκ} · IFFT_T(FFT_T(z·W_2T^{nκ}) · K_2N[2k+κ]/2).
Both kinds share one forward map: X_κ[k] = Σ_n z[n]·W_2T^{n(2k+κ)} (κ = 0 with W_2T^{2nk} = W_T^{nk}).

Factorisation T = R1 · 256, n = 256·a + m, m = 16·b + c, k = k_a + R1·(k_b + 16·k_c):
  stage A  (across warps, via shared memory): X1[k_a][m] = Σ_a Fa_κ[k_a][a]·z[a][m], then
           × W_2T^{m(2k_a+κ)};  Fa_κ[k_a][a] = W_2T^{256·a·(2k_a+κ)}/√R1
  stage B  (one warp, registers):  P[k_b][c] = Σ_b F16[k_b][b]·X1[k_a][16b+c], × W_256^{c·k_b}
  stage C  (same warp):            Q[k_b][k_c] = Σ_c P[k_b][c]·F16[c][k_c]  = X_κ[k]/√T
  pointwise: Y = Q · S_κ[k], S_κ = K_T (circular) or K_2N[2k+κ]/2 (causal)
  inverse: the conjugate transpose of each step in reverse order; stage A⁻¹ sums both kinds
           into one accumulator: y[n_a][m] = Σ_κ Σ_k_a Ga_κ[n_a][k_a]·D_κ[k_a][m],
           Ga_κ = conj(Fa_κ)ᵀ.
With 1/√r on every DFT matrix the pipeline is unitary up to the spectrum, so fp16/bf16 values
stay near 1. For R1 < 16 a tile of 16 rows holds 16/R1 jobs (row pairs) and Fa is block
diagonal, so every size runs the same 16×16 MMAs.

Fragment order ("acc order", the m16n8k16 accumulator of a 16×16 tile as two n-tiles): lane
(g = lane/4, t = lane%4), entry e = 4·j + 2·h + s holds row g + 8h, column 8j + 2t + s. The
kernel's per-lane tables (twiddles, spectrum) are stored in this order, so each lane reads its 8
complex values with four 16-byte loads and no index arithmetic.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from fftbench.inputs import kernel_spectrum
from fftbench.problem import Problem

TILE_ROWS, SLICE = 16, 256
SEQLENS = (256, 4096)


def acc_positions() -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, cols), each (32, 8): the tile position of lane L's accumulator entry e."""
    lane, e = torch.arange(32)[:, None], torch.arange(8)[None, :]
    g, t = lane // 4, lane % 4
    return g + 8 * ((e >> 1) & 1), 8 * (e >> 2) + 2 * t + (e & 1)


def w(n: int, exponent: torch.Tensor) -> torch.Tensor:
    """W_n^e = exp(-2πi·e/n) in complex128, from the exact integer exponent."""
    return torch.exp(-2j * math.pi * (exponent.to(torch.int64) % n).double() / n)


def dft16() -> torch.Tensor:
    """W_16^{kn}/4 (symmetric)."""
    n = torch.arange(16)
    return w(16, torch.outer(n, n)) / 4


@dataclasses.dataclass(frozen=True)
class Plan:
    t: int       # points per transform (= N)
    kinds: int   # 1 circular, 2 causal
    dtype: torch.dtype

    @classmethod
    def for_problem(cls, problem: Problem, dtype: torch.dtype) -> "Plan":
        n = problem.seqlen
        if n & (n - 1) or not SEQLENS[0] <= n <= SEQLENS[1]:
            raise ValueError(f"N={n}: monarch_cuda v2 runs powers of two in [{SEQLENS[0]}, {SEQLENS[1]}]")
        return cls(n, 2 if problem.mode == "causal" else 1, dtype)

    @property
    def r1(self) -> int:
        return self.t // SLICE

    @property
    def jobs(self) -> int:
        """Row pairs per 16-row tile."""
        return TILE_ROWS // self.r1

    @property
    def name(self) -> str:
        return f"{self.r1}x16x16" + (" (cyclic+negacyclic)" if self.kinds == 2 else "")

    def stage_a(self, kind: int) -> torch.Tensor:
        """Fa_κ (R1×R1): rows k_a, columns a."""
        r = torch.arange(self.r1)
        return w(2 * self.t, SLICE * torch.outer(2 * r + kind, r)) / math.sqrt(self.r1)

    def stage_a_tile(self, kind: int, inverse: bool) -> torch.Tensor:
        """The 16×16 block-diagonal matrix of one tile (Fa_κ, or Ga_κ = conj(Fa_κ)ᵀ)."""
        f = self.stage_a(kind)
        f = f.conj().T if inverse else f
        return torch.block_diag(*[f] * self.jobs)

    def twiddle_a(self, kind: int) -> torch.Tensor:
        """(R1, 256): W_2T^{m(2k_a+κ)}, applied after stage A (conjugate before stage A⁻¹)."""
        ka, m = torch.arange(self.r1), torch.arange(SLICE)
        return w(2 * self.t, torch.outer(2 * ka + kind, m))

    @staticmethod
    def twiddle_bc() -> torch.Tensor:
        """(16, 16) over (k_b, c): W_256^{c·k_b}."""
        n = torch.arange(16)
        return w(SLICE, torch.outer(n, n))

    def spectrum(self, problem: Problem, k: torch.Tensor, adjoint: bool = False) -> torch.Tensor:
        """S_κ[k] for κ < kinds, complex128 (H, kinds, T), in natural frequency order. adjoint:
        the conjugate spectrum, so the kernel computes the transposed convolution (correlation with
        k), which is the input gradient of the forward one: du = convᵀ(dy, k)."""
        half = kernel_spectrum(problem, k.detach().cpu(), dtype=torch.complex128)  # (H, F/2+1)
        half = half.conj() if adjoint else half
        f = problem.fft_size
        full = torch.cat([half, half[:, 1:f - half.shape[1] + 1].flip(-1).conj()], -1)  # (H, F)
        if self.kinds == 1:
            return full[:, None, :]
        return torch.stack([full[:, 0::2], full[:, 1::2]], 1) / 2

    def to_slices(self, x: torch.Tensor) -> torch.Tensor:
        """Natural frequency order (..., T) → (..., R1, k_b 16, k_c 16), k = k_a + R1(k_b + 16k_c)."""
        return x.reshape(*x.shape[:-1], 16, 16, self.r1).permute(*range(x.dim() - 1), -1, -2, -3)


def lane_order(x: torch.Tensor) -> torch.Tensor:
    """(..., 16, 16) complex → (..., 32 lanes, 8 entries, 2) float32 in acc order."""
    rows, cols = acc_positions()
    return torch.view_as_real(x[..., rows, cols].to(torch.complex64)).contiguous()


def vector_major(lanes: torch.Tensor, per_vector: int) -> torch.Tensor:
    """(..., 32, 8, 2) → (..., 8/per_vector, 32, 2·per_vector): lane L's v-th 16-byte vector at
    [v][L], so a warp's loads of vector v are 32 consecutive vectors (no bank conflicts)."""
    v = lanes.reshape(*lanes.shape[:-3], 32, 8 // per_vector, 2 * per_vector)
    return v.transpose(-3, -2).contiguous()


def planes(lanes: torch.Tensor) -> torch.Tensor:
    """(..., 32, 8, 2) → (..., 2, 32, 8): the real parts of lane L's 8 entries at [0][L], the
    imaginary parts at [1][L], so a warp reads each plane as 32 consecutive 16-byte vectors."""
    return lanes.movedim(-1, -3).contiguous()


def spectrum_fp16(spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The spectrum as fp16 divided by a per-channel power of two (returned as float32 (H,)), so
    fp16 neither overflows nor loses relative precision: (H, …) complex → fp16 values, scales."""
    peak = spec.abs().flatten(1).amax(-1).clamp_min(1e-30)
    scale = torch.exp2(torch.ceil(torch.log2(peak)))
    return (spec / scale.view(-1, *[1] * (spec.dim() - 1))), scale.float()


def tables(plan: Plan, problem: Problem, k: torch.Tensor, adjoint: bool = False) -> dict[str, torch.Tensor]:
    """Everything the kernel reads besides the data, in its shared-memory layouts:
    mats   dtype (2 + 4·kinds, 256): F16 re, F16 im, then per kind Fa re, Fa im, Ga re, Ga im
    tw_a   float32 (kinds, 16 chunks, 4, 32, 4): stage-A twiddle at the chunk owner's acc positions
           (row → k_a = row mod R1, column → m = 16·chunk + column); the slice owner reads the
           same table transposed for the conjugate twiddle of stage A⁻¹
    tw_bc  float32 (4, 32, 4): W_256^{c·k_b} at (k_b, c)
    spec   fp16 (H, kinds, R1, 2, 32, 8): S_κ/scale_h at (k_b, k_c) of slice k_a, as two planes
           (re, then im) of each lane's 8 entries in acc order — the order of its packed A operand
    scale  float32 (H,): the per-channel power of two.
    adjoint: tables of the transposed convolution (Plan.spectrum)."""
    r1 = plan.r1
    mats = [dft16().real, dft16().imag]
    for kind in range(plan.kinds):
        for inverse in (False, True):
            a = plan.stage_a_tile(kind, inverse)
            mats += [a.real, a.imag]
    ta = torch.stack([plan.twiddle_a(kind) for kind in range(plan.kinds)])  # (kinds, R1, 256)
    rows = torch.arange(TILE_ROWS) % r1
    chunks = ta[:, rows, :].reshape(plan.kinds, TILE_ROWS, 16, 16).permute(0, 2, 1, 3)  # (κ, q, row, col)
    spec, scale = spectrum_fp16(plan.to_slices(plan.spectrum(problem, k, adjoint)))   # (H, κ, R1, 16, 16)
    return {
        "mats": torch.stack([m.reshape(-1) for m in mats]).to(plan.dtype),
        "tw_a": vector_major(lane_order(chunks), 2),
        "tw_bc": vector_major(lane_order(plan.twiddle_bc()), 2),
        "spec": planes(lane_order(spec)).to(torch.float16),
        "scale": scale,
    }
