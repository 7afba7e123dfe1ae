"""The Monarch plan of the Triton kernel: transforms of N points, factorisation, DFT matrices,
twiddles, spectrum layout.

Two real rows with the same channel (batch b and b+1) travel as one complex sequence
z = x_b + i·x_{b+1}: the filter spectrum is Hermitian, so irfft-free linearity gives
IDFT(K·DFT(z)) = conv(x_b, k) + i·conv(x_{b+1}, k) exactly — the N-point complex transform serves
two rows (the cost of an N/2-point transform per row, like folding) without the bin-pair
untangling (a reversal k → N−k that Triton cannot do cheaply in registers).

Every transform has T = N points, in both modes ("kinds" κ < KINDS):
  circular (KINDS = 1): y = IFFT_T(FFT_T(z) · K_T).
  causal   (KINDS = 2): the first N outputs of the 2N-point (zero-padded) convolution are the sum
           of a cyclic (κ = 0) and a negacyclic (κ = 1) T-point convolution, each with its half of
           the 2N-point spectrum (the even or the odd bins):
             y = Σ_κ W_2T^{-nκ} · IFFT_T(FFT_T(z·W_2T^{nκ}) · K_2N[2k+κ]/2).
Both modes are one formula with F = KINDS·T (the FFT size of the problem) and j = KINDS·k + κ:
  X_κ[k] = Σ_n z[n]·W_F^{n·j},  y[n] = (1/T)·Σ_κ Σ_k W_F^{-n·j}·X_κ[k]·S_κ[k],  S_κ[k] = K_F[j]/KINDS.

Factorisation T = R1·R2 (two stages) or R1·R2·R3 (three stages), L = R2·R3, with
  n = n1·L + m, m = n2·R3 + n3,   k = k1 + R1·k2 + R1·R2·k3,   j1 = KINDS·k1 + κ,
  W_F^{n·j} = W_{KINDS·R1}^{n1·j1} · W_F^{m·j1} · W_R2^{n2k2} · W_L^{n3k2} · W_R3^{n3k3}
              stage-1 matrix      stage-1 twiddle   stage 2    stage-2 tw.   stage 3
so the negacyclic pre-twiddle W_F^{n·κ} lives in the stage-1 matrix's rows and the stage-1
twiddle table, its post-twiddle in their conjugates (the last inverse stage): a kind costs one
set of tables, no extra instructions. Stages 2 and 3 are the same for both kinds.
Passes: a program runs the kinds in KINDS/KP passes of KP kinds each. A pass's spectral tile has
ROWS = KP·R1 rows ρ, one per (k1, κ) of its kinds: j1 = KINDS·(ρ div KP) + pass·KP + ρ mod KP.
KP = 1 (a loop over the kinds, T-point tiles) is what lets causal 16K run; KP = KINDS stacks both
kinds into one (2·R1, L) tile — the stage-1 matrix is then the left half of the 2R1-point DFT
matrix, i.e. exactly v1's 2N-point plan with first radix 2·R1 — and executes fewer instructions
per point where it fits (NOTES.md, v2). The last inverse stage, (R1, ROWS) @ (ROWS, L), sums
the kinds of a pass inside its fp32 accumulator, and the passes accumulate into the same tile.
Every DFT matrix is scaled by 1/√r, so the forward and inverse are unitary and together give
exactly (1/T)·Σ… above; values stay O(1) through every fp16 rounding. tl.dot needs every
dimension ≥ 16, so R1, R2, R3 ≥ 16.
In general a plan cuts the KINDS·R1 stage-1 rows j1 into PASSES blocks of ROWS rows, row ρ of
block p being j1 = PASSES·ρ + p (KP = KINDS: one block, j1 = ρ; KP = 1: j1 = KINDS·ρ + κ).
Split plans (32K, where no program holds a T-point tile; selectable at every N): blocks of
ROWS = 16 rows, one program each (kernel.py's rows kernel), which stores its D block (the input of
the last inverse stage) to a scratch buffer; a columns kernel then applies the last inverse
stage to all KINDS·R1 rows at once with the gather matrix G1 (R1, KINDS·R1) = the blocks'
inverse stage-1 matrices side by side.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from fftbench.inputs import kernel_spectrum
from fftbench.problem import Problem

# Points per transform (N) → factorisation. Circular: the fewest tensor-core FLOPs per point (a
# radix-r stage costs 8·r real FLOPs per complex point: 4 real r-wide dot products), measured in
# v1. 2048 avoids 64x32: compiled by Triton 3.6 for the H100 it returned wrong results (rel L2
# 0.86, fp16 and bf16, 4 warps) though the interpreter agreed. 16384 uses 32x32x16: far fewer
# register spills than 64x16x16 (ptxas, 8 warps: 168 B of stack against 1352 B).
_CIRCULAR = {256: (16, 16), 512: (32, 16), 1024: (32, 32), 2048: (32, 64), 4096: (16, 16, 16),
             8192: (32, 16, 16), 16384: (32, 32, 16)}
# Causal: (factorisation of T, kinds per pass). Both kinds in one pass up to 8K — v1's plans, which
# compiled (ptxas sm_90, offline) to 10–50% fewer instructions per program than a loop over the
# kinds (NOTES.md, v2; predictions until the device run) — and a loop at 16K, whose stacked tile
# (32K points) does not fit.
_CAUSAL = {256: ((16, 16), 2), 512: ((16, 32), 2), 1024: ((32, 32), 2), 2048: ((32, 64), 2),
           4096: ((16, 16, 16), 2), 8192: ((16, 32, 16), 2), 16384: ((32, 32, 16), 1)}


# Split plans (both modes): T = R1·L with the rows kernel's (16, L) tile at 8K points (L = 512, as
# the fused 8K plans' tiles); other N use the fused table's radices when a split is forced.
_SPLIT = {16384: (32, 32, 16), 32768: (64, 32, 16)}
SPLIT_ROWS = 16  # stage-1 rows per rows-kernel program: tl.dot's smallest M


def factorisation(problem: Problem) -> tuple[tuple[int, ...], int] | None:
    """(radices, kinds per pass) of the single-program (fused) tables above, or None."""
    if problem.mode == "causal":
        return _CAUSAL.get(problem.seqlen)
    return (_CIRCULAR[problem.seqlen], 1) if problem.seqlen in _CIRCULAR else None


def split_radices(problem: Problem) -> tuple[int, ...] | None:
    """The split plan's factorisation of T = N, or None."""
    fused = factorisation(problem)
    return _SPLIT.get(problem.seqlen) or (fused[0] if fused else None)


def _w(exponent: torch.Tensor, size: int) -> torch.Tensor:
    """W_size^exponent = exp(-2πi·exponent/size) in complex128, exponent reduced exactly first."""
    return torch.polar(torch.ones_like(exponent, dtype=torch.float64),
                       (-2 * math.pi / size) * (exponent % size).to(torch.float64))


def _planes(z: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(…, r, c) complex → (…, 2, r, c): re and im planes."""
    return torch.stack([z.real, z.imag], dim=-3).to(dtype).contiguous()


@dataclasses.dataclass(frozen=True)
class Plan:
    radices: tuple[int, ...]
    kinds: int          # 1 circular, 2 causal (cyclic + negacyclic)
    rows: int           # ROWS: stage-1 rows j1 per pass (fused) or per rows-kernel program (split)
    split: bool = False

    @classmethod
    def for_problem(cls, problem: Problem, radices: tuple[int, ...] | None = None,
                    kinds_per_pass: int | None = None, split: bool | None = None) -> "Plan":
        """The table's plan — fused (one program per pair) where it exists, else split — or
        `radices` / `kinds_per_pass` / `split` (for exploring others), checked against the
        problem and tl.dot's ≥ 16 rule."""
        kinds = 2 if problem.mode == "causal" else 1
        fused = factorisation(problem)
        split = fused is None if split is None else split
        if split:
            radices = tuple(radices or split_radices(problem) or ())
            rows = SPLIT_ROWS
        else:
            radices = tuple(radices or (fused or ((), 1))[0])
            rows = (kinds_per_pass or (fused or ((), 1))[1]) * (radices[0] if radices else 0)
        plan = cls(radices, kinds, rows, split)
        if (len(radices) not in (2, 3) or math.prod(radices) != problem.seqlen or min(radices) < 16
                or (split and kinds_per_pass is not None)
                or (not split and plan.kinds_per_pass not in (1, kinds))):
            raise ValueError(f"plan {radices}, {kinds_per_pass} kinds per pass, split={split} unusable "
                             f"for N = {problem.seqlen} ({problem.mode})")
        return plan

    @property
    def r1(self) -> int:
        return self.radices[0]

    @property
    def r2(self) -> int:
        return self.radices[1]

    @property
    def r3(self) -> int:
        return self.radices[2] if len(self.radices) == 3 else 1

    @property
    def size(self) -> int:
        """T: points per transform (= N)."""
        return self.r1 * self.r2 * self.r3

    @property
    def kinds_per_pass(self) -> int:
        """KP of a fused plan: ROWS = KP·R1."""
        return self.rows // self.r1

    @property
    def passes(self) -> int:
        """PASSES: blocks of ROWS stage-1 rows (fused: a loop in the program; split: programs)."""
        return self.kinds * self.r1 // self.rows

    @property
    def name(self) -> str:
        base = "x".join(map(str, self.radices))
        if self.split:
            kinds = ", cyclic+negacyclic" if self.kinds == 2 else ""
            return f"{base} split ({self.passes} row program{'s' * (self.passes > 1)} of {self.rows} rows{kinds}, then columns)"
        if self.kinds == 1:
            return base
        return base + (" (cyclic+negacyclic, one pass)" if self.passes == 1 else " (cyclic+negacyclic, a pass each)")

    @property
    def columns_block(self) -> int:
        """BC of a split plan: columns per columns-kernel program, a (KINDS·R1, BC) tile of 8K points."""
        return min(self.r2 * self.r3, 8192 // (self.kinds * self.r1))

    def _j1(self) -> torch.Tensor:
        """(PASSES, ROWS, 1): the stage-1 frequency index j1 = PASSES·ρ + p of each tile row
        (= KINDS·k1 + κ: one pass, j1 = ρ; a pass per kind, ρ = k1 and p = κ)."""
        rho = torch.arange(self.rows)[None, :, None]
        p = torch.arange(self.passes)[:, None, None]
        return self.passes * rho + p

    def stage1_matrices(self, dtype: torch.dtype) -> torch.Tensor:
        """(PASSES, 2, 2, ROWS·R1): per pass the forward matrix W_{KINDS·R1}^{n1·j1}/√R1 as
        [ρ, n1] (ROWS, R1) and the inverse, its conjugate transpose, as [n1, ρ] (R1, ROWS), each
        as re, im planes flattened row-major."""
        n1 = torch.arange(self.r1)[None, None, :]
        fwd = _w(self._j1() * n1, self.kinds * self.r1) / math.sqrt(self.r1)
        inv = fwd.conj().transpose(-1, -2)
        return torch.stack([_planes(fwd, dtype).flatten(-2), _planes(inv, dtype).flatten(-2)], dim=1).contiguous()

    def gather_matrix(self, dtype: torch.dtype) -> torch.Tensor:
        """(2, R1, PASSES·ROWS): the split plan's last inverse stage for all rows at once, the
        passes' inverse matrices [n1, ρ] side by side (column p·ROWS + ρ), re, im planes."""
        inv = self.stage1_matrices(dtype)[:, 1].reshape(self.passes, 2, self.r1, self.rows)
        return inv.permute(1, 2, 0, 3).reshape(2, self.r1, self.passes * self.rows).contiguous()

    def dft_matrix(self, r: int, dtype: torch.dtype) -> torch.Tensor:
        """(2, r, r): re, im of W_r^{nk}/√r for stages 2 and 3 (symmetric; the inverse is its conjugate)."""
        idx = torch.arange(r)
        return _planes(_w(idx[:, None] * idx[None, :], r) / math.sqrt(r), dtype)

    def twiddles(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """fp32 planes per pass: the stage-1 twiddle W_F^{m·j1} = A·B as A (PASSES, 2, ROWS, R2)
        [ρ, n2] = W_F^{n2·R3·j1} and B (PASSES, 2, ROWS, R3) [ρ, n3] = W_F^{n3·j1}, and the stage-2
        twiddle C (PASSES, 2, R3, R2) [n3, k2] = W_L^{n3·k2}, the same for every pass but stored per
        pass so the kernel's loads stay inside its pass loop (kernel.py says why). Two-stage plans
        use A only (B, C: 1×1 placeholders)."""
        r2, r3, f = self.r2, self.r3, self.kinds * self.size
        a = _w(self._j1() * torch.arange(r2)[None, None, :] * r3, f)
        if r3 == 1:
            one = torch.ones(1, 1, dtype=torch.complex128)
            return _planes(a, torch.float32), _planes(one, torch.float32), _planes(one, torch.float32)
        b = _w(self._j1() * torch.arange(r3)[None, None, :], f)
        c = _w(torch.arange(r3)[:, None] * torch.arange(r2)[None, :], r2 * r3).expand(self.passes, r3, r2)
        return _planes(a, torch.float32), _planes(b, torch.float32), _planes(c, torch.float32)

    def bin_of_tile(self) -> torch.Tensor:
        """(PASSES, ROWS·L): the F-point frequency j = KINDS·k + κ at each position of a pass's
        spectral tile, flattened row-major: (ROWS, R2) [ρ, k2] for two stages, (ROWS·R2, R3)
        [(ρ, k2), k3] for three; j = j1(ρ) + KINDS·R1·(k2 + R2·k3)."""
        k2 = torch.arange(self.r2)[None, None, :, None]
        k3 = torch.arange(self.r3)[None, None, None, :]
        j = self._j1()[..., None] + self.kinds * self.r1 * (k2 + self.r2 * k3)
        return j.reshape(self.passes, -1)

    def kept_columns(self, problem: Problem) -> list[int] | None:
        """Frequency-sparse problems on two-stage fused plans: the k2 columns of the spectral tile
        [ρ, k2] that hold a non-zero bin (j < cutoff or j > F − cutoff), padded with zero columns to
        a power of two ≥ 16 (tl.dot's width). A column of zero bins only is skipped: its forward
        stage-2 outputs would be multiplied by zero, and the inverse stage 2 need not read them.
        None when nothing can be skipped (dense, three stages — R3 = 16 leaves no narrower dot —,
        split plans, or as many live columns as R2)."""
        c, f = problem.cutoff_bin, problem.fft_size
        if self.split or self.r3 != 1 or c >= problem.n_bins:
            return None
        j = self.bin_of_tile().reshape(-1, self.r2)
        live = ((j < c) | (j > f - c)).any(0).nonzero().flatten().tolist()
        width = max(16, 1 << max(len(live) - 1, 0).bit_length())
        if width >= self.r2:
            return None
        return sorted(live + [k for k in range(self.r2) if k not in live][: width - len(live)])

    def spectrum(self, problem: Problem, k: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(H, PASSES, 2, ROWS·L) re/im planes of S_κ[k] = K_F[j]/KINDS in the tile order. Every
        program of a channel re-reads it (from L2), so fp16/bf16 problems store it in fp16 (half
        the bytes; |k_f| = O(1) for a normalised filter, rounding adds ~3e-4 relative)."""
        half = kernel_spectrum(problem, k, dtype=torch.complex128)  # (H, F/2+1), sparse bins zeroed
        f = problem.fft_size
        full = torch.cat([half, half[:, 1:f - half.shape[1] + 1].flip(-1).conj()], dim=-1)  # (H, F)
        bins = self.bin_of_tile()
        kept = self.kept_columns(problem)
        if kept is not None:  # only the kept columns of each [ρ, k2] tile: (PASSES, ROWS·KEPT)
            bins = bins.reshape(self.passes, self.rows, self.r2)[:, :, kept].reshape(self.passes, -1)
        tiled = full[:, bins.to(full.device)] / self.kinds
        return torch.stack([tiled.real, tiled.imag], dim=2).to(dtype).contiguous()

    def flops_per_row(self, kept: int | None = None) -> float:
        """Tensor-core FLOPs per row: each radix-r stage is 4 real dots of width r per complex point
        (8·r FLOPs), forward and inverse, per kind; one complex sequence per two rows. With `kept`
        of R2 columns (kept_columns) stage 2 produces and reads only kept/R2 of its points."""
        share = [1.0] * len(self.radices)
        if kept is not None:
            share[1] = kept / self.r2
        return float(2 * self.kinds * sum(8 * r * self.size * f for r, f in zip(self.radices, share))) / 2
