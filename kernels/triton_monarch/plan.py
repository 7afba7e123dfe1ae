"""The Monarch plan of the Triton kernel: factorisation, DFT matrices, twiddles, spectrum layout.

Two real rows with the same channel (batch b and b+1) travel as one complex sequence
z = x_b + i·x_{b+1}: the filter spectrum is Hermitian, so irfft-free linearity gives
IDFT(K·DFT(z)) = conv(x_b, k) + i·conv(x_{b+1}, k) exactly — the F-point complex transform serves two
rows (the cost of an F/2-point transform per row, like folding) without the bin-pair untangling
(a reversal k → F−k that Triton cannot do cheaply in registers).

Factorisation F = R1·R2 (two stages) or R1·R2·R3 (three stages), with
  n = n1·(R2·R3) + n2·R3 + n3,   k = k1 + R1·k2 + R1·R2·k3,
  W_F^{nk} = W_R1^{n1k1} · W_F^{k1(n2·R3+n3)} · W_R2^{n2k2} · W_{R2R3}^{n3k2} · W_R3^{n3k3}.
Every DFT matrix is scaled by 1/√r, so the forward and inverse are unitary and together give
exactly ifft(K·fft(z)); values stay O(1) through every fp16 rounding. tl.dot needs every dimension
≥ 16, and the causal first stage contracts only the R1/2 non-zero input rows, so R2, R3 ≥ 16 and
R1 ≥ 32 (causal) or ≥ 16 (circular).
"""
from __future__ import annotations

import dataclasses
import math

import torch

from fftbench.inputs import kernel_spectrum
from fftbench.problem import Problem

# FFT size → factorisation, chosen for the fewest tensor-core FLOPs per point: a radix-r stage
# costs 8·r real FLOPs per complex point (4 real r-wide dot products), the causal first forward
# and last inverse stages half that. Circular 2048 avoids 64x32: compiled by Triton 3.6 for the H100
# it returned wrong results (rel L2 0.86, fp16 and bf16, 4 warps) though the interpreter agreed.
# F = 16384 uses 32x32x16: same FLOPs causal, fewer circular, and far fewer register spills
# (ptxas, 8 warps: 168 B of stack against 1352 B for 64x16x16).
_CAUSAL = {512: (32, 16), 1024: (32, 32), 2048: (64, 32), 4096: (64, 64), 8192: (32, 16, 16),
           16384: (32, 32, 16)}
_CIRCULAR = {256: (16, 16), 512: (32, 16), 1024: (32, 32), 2048: (32, 64), 4096: (16, 16, 16),
             8192: (32, 16, 16), 16384: (32, 32, 16)}


def factorisation(problem: Problem) -> tuple[int, ...] | None:
    table = _CAUSAL if problem.mode == "causal" else _CIRCULAR
    return table.get(problem.fft_size)


def _w(exponent: torch.Tensor, size: int) -> torch.Tensor:
    """W_size^exponent = exp(-2πi·exponent/size) in complex128, exponent reduced exactly first."""
    return torch.polar(torch.ones_like(exponent, dtype=torch.float64),
                       (-2 * math.pi / size) * (exponent % size).to(torch.float64))


def _planes(z: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.stack([z.real, z.imag]).to(dtype).contiguous()


@dataclasses.dataclass(frozen=True)
class Plan:
    radices: tuple[int, ...]
    causal: bool

    @classmethod
    def for_problem(cls, problem: Problem, radices: tuple[int, ...] | None = None) -> "Plan":
        """The table's factorisation, or `radices` (for exploring others), checked against the
        problem and tl.dot's ≥ 16 rule."""
        radices = tuple(radices or factorisation(problem) or ())
        plan = cls(radices, problem.mode == "causal")
        if (len(radices) not in (2, 3) or math.prod(radices) != problem.fft_size
                or min(radices[1:]) < 16 or plan.rows_in < 16):
            raise ValueError(f"factorisation {radices} unusable for FFT size {problem.fft_size} ({problem.mode})")
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
        return self.r1 * self.r2 * self.r3

    @property
    def rows_in(self) -> int:
        """Rows of the (R1, R2·R3) input tile that are read (the causal zero half is not)."""
        return self.r1 // 2 if self.causal else self.r1

    @property
    def name(self) -> str:
        return "x".join(map(str, self.radices))

    def dft_matrix(self, r: int, dtype: torch.dtype) -> torch.Tensor:
        """(2, r, r): re, im of W_r^{nk}/√r (symmetric; the inverse is its conjugate)."""
        idx = torch.arange(r)
        f = _w(idx[:, None] * idx[None, :], r) / math.sqrt(r)
        return _planes(f, dtype)

    def twiddles(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """fp32 (2, ·, ·) planes: stage-1 twiddle factors A[k1, n2], B[k1, n3] with
        W_F^{k1(n2·R3+n3)} = A·B, and the stage-2 twiddle C[n3, k2] = W_{R2R3}^{n3·k2}.
        Two-stage plans use A = W_F^{k1·n2} only (B and C are 1×1 placeholders)."""
        r1, r2, r3, size = self.r1, self.r2, self.r3, self.size
        k1 = torch.arange(r1)[:, None]
        a = _w(k1 * torch.arange(r2)[None, :] * r3, size)
        if r3 == 1:
            one = torch.ones(1, 1, dtype=torch.complex128)
            return _planes(a, torch.float32), _planes(one, torch.float32), _planes(one, torch.float32)
        b = _w(k1 * torch.arange(r3)[None, :], size)
        c = _w(torch.arange(r3)[:, None] * torch.arange(r2)[None, :], r2 * r3)
        return _planes(a, torch.float32), _planes(b, torch.float32), _planes(c, torch.float32)

    def bin_of_tile(self) -> torch.Tensor:
        """Frequency bin at each position of the kernel's spectral tile, flattened row-major:
        (R1, R2) [k1, k2] for two stages, (R1·R2, R3) [(k1, k2), k3] for three."""
        k1 = torch.arange(self.r1)[:, None, None]
        k2 = torch.arange(self.r2)[None, :, None]
        k3 = torch.arange(self.r3)[None, None, :]
        return (k1 + self.r1 * k2 + self.r1 * self.r2 * k3).reshape(-1)

    def spectrum(self, problem: Problem, k: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(H, 2, F) re/im planes of the full F-bin kernel spectrum in the tile order. Every program
        of a channel re-reads it (from L2), so fp16/bf16 problems store it in fp16 (half the bytes;
        |k_f| = O(1) for a normalised filter, rounding adds ~3e-4 relative)."""
        half = kernel_spectrum(problem, k, dtype=torch.complex128)  # (H, F/2+1), sparse bins zeroed
        full = torch.cat([half, half[:, 1:self.size - half.shape[1] + 1].flip(-1).conj()], dim=-1)
        tiled = full[:, self.bin_of_tile().to(full.device)]
        return torch.stack([tiled.real, tiled.imag], dim=1).to(dtype).contiguous()

    def flops_per_row(self) -> float:
        """Tensor-core FLOPs per row: each radix-r stage is 4 real dots of width r per complex point
        (8·r FLOPs), the causal first/last stage on half the points; one complex sequence per two rows."""
        stage = [8 * r * self.size for r in self.radices]
        if self.causal:
            stage[0] //= 2
        return float(2 * sum(stage)) / 2
