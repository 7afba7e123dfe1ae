"""Fresh random inputs for one problem, and the kernel spectrum every backend starts from.

Inputs are never zeros: unwritten outputs and wrong indexing must show up as errors, and zeros
can run faster than real data. The output buffer `out` is poisoned with NaN before each checked
run, so a kernel that writes into it and misses an element is caught. A backward problem also gets
y's gradient dy (fresh random, like every input) and preallocated, poisoned gradient buffers.
"""
from __future__ import annotations

import dataclasses

import torch

from fftbench.problem import Problem

TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
FILTER_DTYPE = torch.float32  # the filter k (and its gradient dk) at every problem dtype


def torch_dtype(name: str) -> torch.dtype:
    return TORCH_DTYPES[name]


@dataclasses.dataclass
class Grads:
    """What a bwd closure returns: du (B, H, N) and dk (H, K), plus dv, dw (B, H, N) when gated;
    a fwd_bwd closure also returns the forward's y. The same shape serves as the preallocated
    buffers in-place backends write into."""

    du: torch.Tensor
    dk: torch.Tensor
    dv: torch.Tensor | None = None
    dw: torch.Tensor | None = None
    y: torch.Tensor | None = None

    def tensors(self) -> dict[str, torch.Tensor]:
        """The tensors present, by name (y first)."""
        names = ("y", "du", "dk", "dv", "dw")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


@dataclasses.dataclass
class Inputs:
    """u, v, w: (B, H, N) in the problem dtype (v, w only when gated); k: (H, K) float32 filter;
    out: (B, H, N) preallocated output that in-place backends write (poisoned before checks);
    dy: y's gradient and grads: the gradient buffers, for the bwd and fwd_bwd passes."""

    u: torch.Tensor
    k: torch.Tensor
    out: torch.Tensor
    v: torch.Tensor | None = None
    w: torch.Tensor | None = None
    dy: torch.Tensor | None = None
    grads: Grads | None = None

    def poison_output(self) -> None:
        self.out.fill_(float("nan"))
        if self.grads is not None:
            for t in self.grads.tensors().values():
                t.fill_(float("nan"))


def make_inputs(problem: Problem, device: str | torch.device, seed: int | None = None) -> Inputs:
    gen = torch.Generator(device="cpu")
    gen.manual_seed(torch.seed() if seed is None else seed)
    dtype = torch_dtype(problem.dtype)
    shape = (problem.batch, problem.channels, problem.seqlen)

    def rand(*size, scale=1.0):
        # Generate on the CPU with an explicit generator (reproducible given a seed on every device),
        # in chunks of rows to bound host memory for the 4M points.
        return (torch.randn(*size, generator=gen) * scale).to(device=device, dtype=torch.float32)

    u = rand(*shape).to(dtype)
    # Scale the filter so y = u * k has unit variance whatever K is.
    k = rand(problem.channels, problem.K, scale=problem.K ** -0.5).to(FILTER_DTYPE)
    gate = problem.gated
    v = rand(*shape).to(dtype) if gate else None
    w = rand(*shape).to(dtype) if gate else None
    out = torch.empty(shape, dtype=dtype, device=device)
    if problem.pass_ == "fwd":
        return Inputs(u=u, k=k, out=out, v=v, w=w)
    seq = lambda: torch.empty(shape, dtype=dtype, device=device)
    grads = Grads(du=seq(), dk=torch.empty_like(k), dv=seq() if gate else None, dw=seq() if gate else None)
    return Inputs(u=u, k=k, out=out, v=v, w=w, dy=rand(*shape).to(dtype), grads=grads)


def kernel_spectrum(problem: Problem, k: torch.Tensor, dtype=torch.complex64) -> torch.Tensor:
    """rfft(k, n=F) with the frequency-sparse bins zeroed: shape (H, F/2+1), complex.

    Every backend and the reference derive the spectrum here, so "frequency-sparse" means the
    same zero bins everywhere; backends then skip the work those bins make unnecessary.
    """
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    k_f = torch.fft.rfft(k.to(real), n=problem.fft_size)
    if problem.cutoff_bin < problem.n_bins:
        k_f[:, problem.cutoff_bin:] = 0
    return k_f.to(dtype)
