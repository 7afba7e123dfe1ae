"""The long-range Monarch decomposition: one M-point transform split into an outer and an inner
transform that meet in HBM, shared by the CUDA passes (long.cu) and their CPU twin (twin.py).

M = F/2 folded complex points (stage_plan.py has the folding and the pair map),
M = N1·N2, position m = N2·m1 + m2, frequency k = k1 + N1·k2 (four-step FFT):
  pass A (outer forward), per column m2:  T[p1(k1)][m2] = W_M^{m2·k1} · DFT_N1(z[N2·m1 + m2])[k1]
  pass B (inner), per pair of rows:       DFT_N2 over m2, pair map on bins (k, M-k), inverse DFT_N2
  pass C (outer inverse), per column m2:  conj twiddle, inverse DFT_N1 → zy[N2·m1 + m2]
Each N1- and N2-point transform is the on-chip stage engine's (radix 16/8 on tensor cores, digit
reversed, scaled by 1/√r per stage), so the outer positions p1 are digit reversed and T rows are
stored in that order. Causal: z is zero for m1 ≥ N1/2, so pass A reads half the rows and pass C
computes and writes half.

Bin k sits in T row p1(k mod N1); its partner M-k in row p1(N1 - k mod N1). Pass B therefore
works on pair slots: slot b ≥ 1 holds rows k1 = b and N1-b, whose bins pair as
(b + N1·j) ↔ (N1-b + N1·(N2-1-j)), j < N2; slot 0 holds the self-paired rows k1 = 0
(j ↔ N2-j, j ≤ N2/2) and k1 = N1/2 (j' ↔ N2-1-j', listed as j = N2/2+1+j'). The spectrum
pairs (K[k], K[M-k]) are stored in that (slot, j) order so each block reads them contiguously.

HBM traffic per call (fp16, per real input element, B·H rows, no L2 reuse): read u 2 B, write y
2 B, the spectrum pairs 8 B per bin pair = 4 B (causal, M = N) or 2 B (circular) per element
per channel, and two round trips of T (4 B per complex point: 16 B causal, 8 B circular).
NOTES.md has the byte plan per N and what the H100 measured.
"""
from __future__ import annotations

import dataclasses

import torch

from fftbench.inputs import kernel_spectrum
from fftbench.problem import Problem
from kernels.monarch_long.stage_plan import Plan, radices_for

MIN_FACTOR, MAX_INNER = 128, 16384  # the stage engine's smallest transform; a pass-B pair slot
# of 2·N2 points must fit in shared memory (8·N2 bytes)


def split(m: int) -> tuple[int, int]:
    """N1 ≤ N2 with the fewest stages in total (every stage is a rounding point and a pass over
    shared memory: 1M as 256·4096 has 5 stages and 9.5e-4 fp16 error in the twin, 1024·1024
    has 6 and 1.2e-3), then the most even split."""
    bits = m.bit_length() - 1
    options = [(1 << b, 1 << (bits - b)) for b in range(MIN_FACTOR.bit_length() - 1, bits // 2 + 1)]
    options = [(n1, n2) for n1, n2 in options if n2 <= MAX_INNER]
    if not options:
        raise ValueError(f"M={m}: no split into N1 ≤ N2 with {MIN_FACTOR} ≤ N1 and N2 ≤ {MAX_INNER}")
    return min(options, key=lambda o: (len(radices_for(o[0])) + len(radices_for(o[1])), o[1] // o[0]))


@dataclasses.dataclass(frozen=True)
class LongPlan:
    m: int
    outer: Plan
    inner: Plan

    @classmethod
    def for_problem(cls, problem: Problem, n1: int | None = None) -> "LongPlan":
        m = problem.fft_size // 2
        n1 = n1 or split(m)[0]
        n2 = m // n1
        if n1 * n2 != m or min(n1, n2) < MIN_FACTOR or n2 > MAX_INNER:
            raise ValueError(f"M={m}: cannot split as N1={n1} × N2={n2} (both ≥ {MIN_FACTOR}, N2 ≤ {MAX_INNER})")
        return cls(m, Plan(n1, radices_for(n1)), Plan(n2, radices_for(n2)))

    @property
    def n1(self) -> int:
        return self.outer.m

    @property
    def n2(self) -> int:
        return self.inner.m

    @property
    def name(self) -> str:
        return f"({self.outer.name})·({self.inner.name})"

    def outer_k(self) -> torch.Tensor:
        """k1 held at each outer position p1 (the inverse of outer.position_of), int32 (N1,)."""
        k = torch.arange(self.n1)
        table = torch.empty_like(k)
        table[self.outer.position_of(k)] = k
        return table.to(torch.int32)

    def outer_twiddle(self) -> torch.Tensor:
        """W_M^{m2·k1} indexed [p1][m2], complex128 (N1, N2): what pass A multiplies T by."""
        k1 = self.outer_k().long()
        m2 = torch.arange(self.n2)
        e = (torch.outer(k1, m2) % self.m).double()
        return torch.polar(torch.ones_like(e), -2 * torch.pi * e / self.m)

    def slot_layout(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pass B's work list. For every entry (slot b, j ≤ N2): the frequency k of its first bin
        (-1 for padding: slots b ≥ 1 have N2 entries), and the slot-local positions r·N2 + inner
        position of bins k and M-k ((N1/2, N2+1, 2)); and the T rows of each slot's two rows (N1/2, 2)."""
        n1, n2 = self.n1, self.n2
        b = torch.arange(n1 // 2)[:, None].expand(-1, n2 + 1)
        j = torch.arange(n2 + 1)[None, :].expand(n1 // 2, -1)
        k1, r1, r2 = b.clone(), torch.zeros_like(b), torch.ones_like(b)
        f1, f2 = j.clone(), n2 - 1 - j
        low, high = (b == 0) & (j <= n2 // 2), (b == 0) & (j > n2 // 2)
        jj = j - n2 // 2 - 1
        r2[low], f2[low] = 0, (n2 - j[low]) % n2
        k1[high], r1[high], f1[high], f2[high] = n1 // 2, 1, jj[high], n2 - 1 - jj[high]
        k = k1 + n1 * f1
        pad = (b > 0) & (j == n2)
        k[pad], f1[pad], f2[pad] = -1, 0, 0
        ip = self.inner.position_of
        local = torch.stack([r1 * n2 + ip(f1), r2 * n2 + ip(f2)], -1)
        slot = torch.arange(n1 // 2)
        rows = torch.stack([self.outer.position_of(torch.where(slot == 0, 0, slot)),
                            self.outer.position_of(torch.where(slot == 0, n1 // 2, n1 - slot))], -1)
        return k, local, rows

    def pair_spectrum(self, problem: Problem, k: torch.Tensor, channels_per_chunk: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
        """(K[k], K[M-k]) for every (slot, j) entry as fp16 (re, im, re, im), shape (H, N1/2, N2+1, 4),
        divided by a per-channel power of two (float32 (H,)); computed on k's device in float64,
        a chunk of channels at a time (at N = 1M one channel's spectrum is 16 MB)."""
        ks = self.slot_layout()[0].clamp_min(0).to(k.device)
        out = torch.empty(k.shape[0], *ks.shape, 4, dtype=torch.float16, device=k.device)
        scale = torch.empty(k.shape[0], dtype=torch.float32, device=k.device)
        for h0 in range(0, k.shape[0], channels_per_chunk):
            spec = kernel_spectrum(problem, k[h0:h0 + channels_per_chunk], dtype=torch.complex128)
            peak = spec.abs().amax(-1).clamp_min(1e-30)
            sc = torch.exp2(torch.ceil(torch.log2(peak)))
            pair = torch.stack([spec[:, ks], spec[:, self.m - ks]], -1) / sc[:, None, None, None]
            out[h0:h0 + len(sc)] = torch.view_as_real(pair).flatten(-2).to(torch.float16)
            scale[h0:h0 + len(sc)] = sc.float()
        return out, scale
