"""monarch_cuda's (and its CPU twin's) bwd and fwd_bwd passes, made of forward-engine calls
(fftbench/adjoint.py states the algebra):

  du = w ⊙ convᵀ(v ⊙ dy, k)  the engine on u = dy, w = v, gated by w, computing the transposed
                             convolution: the conjugate-spectrum tables (adjoint=True) on the v2
                             sizes (N ≤ 4K), the reversed filter k_rev on the v4 sizes above
  dw = u ⊙ convᵀ(v ⊙ dy, k)  the same call gated by u (gated problems)
  dv = dy ⊙ conv(u ⊙ w, k)   the forward call gated by dy (gated problems)
  dk                         the batch reduction, in torch.fft (fp32): not yet a kernel, and the
                             row's details say so

A bwd call is all of these (the reduction included, so the time is the whole backward's); a
fwd_bwd call is the forward call, then the backward.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

from fftbench.adjoint import filter_gradient, reversed_filter
from fftbench.inputs import FILTER_DTYPE, Grads, Inputs
from fftbench.problem import Problem
from fftbench.registry import Prepared
from kernels.monarch_cuda.plan import SEQLENS as V2_SEQLENS

# engine(problem, inputs, adjoint=...) → Prepared whose run() returns inputs.v ⊙ conv(inputs.u ⊙
# inputs.w, k) (the transposed convolution when adjoint), for a fwd problem.
Engine = Callable[..., Prepared]


def transposed(engine: Engine, problem: Problem, inputs: Inputs) -> Prepared:
    """The engine computing inputs.v ⊙ convᵀ(inputs.u ⊙ inputs.w, inputs.k)."""
    if problem.seqlen <= V2_SEQLENS[1]:
        return engine(problem, inputs, adjoint=True)
    return engine(problem, dataclasses.replace(inputs, k=reversed_filter(problem, inputs.k)), adjoint=False)


def executed_flops(problem: Problem, call_flops: float) -> float:
    """FLOPs of the pass from one engine call's (each call, transposed or not, executes the same):
    the calls, plus the torch.fft reduction's conventional FLOPs (two real FFTs, 8 per bin and the
    gating products per row, an inverse real FFT per channel), plus the forward for fwd_bwd."""
    f = problem.fft_size
    real_fft = 2.5 * f * math.log2(f)
    reduction = problem.rows * (2 * real_fft + 8 * problem.n_bins + (2 * problem.seqlen if problem.gated else 0))
    backward = (3 if problem.gated else 1) * call_flops + reduction + problem.channels * real_fft
    return backward + (call_flops if problem.pass_ == "fwd_bwd" else 0.0)


def prepare(engine: Engine, problem: Problem, inputs: Inputs) -> Prepared:
    """The bwd or fwd_bwd closure of a backend whose forward engine is `engine`."""
    fwd = dataclasses.replace(problem, pass_="fwd")
    g, dy, k, u, v, w = inputs.grads, inputs.dy, inputs.k, inputs.u, inputs.v, inputs.w
    calls = {"du": transposed(engine, fwd, Inputs(u=dy, k=k, out=g.du, v=w, w=v))}
    if problem.gated:
        calls["dw"] = transposed(engine, fwd, Inputs(u=dy, k=k, out=g.dw, v=u, w=v))
        calls["dv"] = engine(fwd, Inputs(u=u, k=k, out=g.dv, v=dy, w=w), adjoint=False)

    def backward() -> Grads:
        grads = {name: call.run() for name, call in calls.items()}
        x = u if w is None else u.to(FILTER_DTYPE) * w.to(FILTER_DTYPE)
        gy = dy if v is None else dy.to(FILTER_DTYPE) * v.to(FILTER_DTYPE)
        return Grads(dk=filter_gradient(problem, x, gy), **grads)

    details = {**calls["du"].details, "kernel_calls": len(calls) + (problem.pass_ == "fwd_bwd"),
               "du": "transposed convolution: " + ("conjugate-spectrum tables" if problem.seqlen <= V2_SEQLENS[1]
                                                   else "forward kernel with the reversed filter"),
               "dk": "torch.fft reduction (fp32)"}
    if problem.pass_ == "bwd":
        return Prepared(run=backward, details=details)
    forward = engine(fwd, inputs, adjoint=False)

    def step() -> Grads:
        y = forward.run()
        return dataclasses.replace(backward(), y=y)

    return Prepared(run=step, details=details)
