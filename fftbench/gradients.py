"""Correctness of every pass: the float64 references of a point's outputs (y from the forward
reference; du, dk, dv, dw from float64 autograd of that same reference) and each output's error.

Gradients are checked on every row of a spread of channels, since dk sums a channel's B rows. The
channels are drawn from the forward's checked rows, and as many as the forward's row budget
allows, so a backward reference costs what a forward one does. Every output tensor is also checked
whole for non-finite values. A result's overall error is its worst tensor's.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from fftbench.inputs import Grads, Inputs
from fftbench.problem import Problem
from fftbench.reference import ErrorReport, checked_rows, measure_error, reference

GRAD_NAMES = ("du", "dk", "dv", "dw")


def checked_channels(problem: Problem, seed: int = 0) -> torch.Tensor:
    """Channels whose every row the gradient check covers (from the rows `seed` draws)."""
    rows = checked_rows(problem, seed)
    channels = (rows % problem.channels).unique()
    count = max(1, min(len(channels), len(rows) // problem.batch))
    return channels[torch.linspace(0, len(channels) - 1, count).round().long().unique()]


def reference_gradients(problem: Problem, inputs: Inputs, channels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Float64 autograd of reference() on the given channels, for the cotangent inputs.dy:
    du, dv, dw (B, C, N) and dk (C, K)."""
    sub = dataclasses.replace(problem, channels=len(channels), pass_="fwd")
    idx = channels.to(inputs.u.device)
    leaf = lambda t: None if t is None else t[:, idx].to(torch.float64).requires_grad_()
    x = Inputs(u=leaf(inputs.u), k=inputs.k[idx].to(torch.float64).requires_grad_(), out=None,
               v=leaf(inputs.v), w=leaf(inputs.w))
    leaves = {name: t for name, t in zip(GRAD_NAMES, (x.u, x.k, x.v, x.w)) if t is not None}
    with torch.enable_grad():
        y = reference(sub, x, torch.arange(sub.rows))
        dy = inputs.dy[:, idx].to(torch.float64).reshape(sub.rows, problem.seqlen)
        grads = torch.autograd.grad(y, list(leaves.values()), dy.to(y.device))
    return dict(zip(leaves, grads))


def tensor_error(got: torch.Tensor, got_checked: torch.Tensor, ref: torch.Tensor) -> ErrorReport:
    """Error of got's checked part against ref; non-finite values counted over all of got."""
    diff = got_checked.to(device=ref.device, dtype=torch.float64) - ref
    return ErrorReport(rel_l2_err=(torch.linalg.vector_norm(diff) / torch.linalg.vector_norm(ref)).item(),
                       max_abs_err=diff.abs().max().item(), nonfinite=int((~torch.isfinite(got)).sum().item()))


@dataclasses.dataclass
class PassErrors:
    """Each output tensor's error (y, du, dk, dv, dw: those the pass produces)."""

    per_tensor: dict[str, ErrorReport]

    @property
    def worst(self) -> str:
        rank = lambda e: (e.nonfinite > 0, e.rel_l2_err if math.isfinite(e.rel_l2_err) else math.inf)
        return max(self.per_tensor, key=lambda name: rank(self.per_tensor[name]))

    @property
    def overall(self) -> ErrorReport:
        """The worst tensor's errors, with the non-finite values of all of them."""
        worst = self.per_tensor[self.worst]
        return dataclasses.replace(worst, nonfinite=sum(e.nonfinite for e in self.per_tensor.values()))

    def within(self, budget: float) -> bool:
        return all(e.within(budget) for e in self.per_tensor.values())

    def failure(self, budget: float) -> str:
        """Why the result is not within budget (call when it is not)."""
        bad = {n: e.nonfinite for n, e in self.per_tensor.items() if e.nonfinite}
        if bad:
            return f"{sum(bad.values())} non-finite outputs (" + ", ".join(f"{n} {c}" for n, c in bad.items()) + ")"
        name = self.worst
        return f"rel L2 error of {name} {self.per_tensor[name].rel_l2_err:.3g} exceeds budget {budget:.3g}"

    def columns(self) -> dict:
        return {f"{name}_rel_l2_err": e.rel_l2_err for name, e in self.per_tensor.items()}


class Checker:
    """The float64 references of one point (computed once), and any result measured against them:
    a tensor y for the fwd pass, a Grads for bwd (du, dk, dv, dw) and fwd_bwd (y as well). The
    checked rows (and the gradients' channels) are drawn from `seed`, recorded as the row's ref_seed."""

    def __init__(self, problem: Problem, inputs: Inputs, seed: int = 0):
        self.problem = problem
        self.seed = seed
        self.rows = checked_rows(problem, seed)
        self.y_ref = reference(problem, inputs, self.rows) if problem.pass_ != "bwd" else None
        if problem.pass_ != "fwd":
            self.channels = checked_channels(problem, seed)
            self.grad_refs = reference_gradients(problem, inputs, self.channels)

    def __call__(self, result) -> PassErrors:
        p = self.problem
        if p.pass_ == "fwd":
            return PassErrors({"y": measure_error(p, result, self.y_ref, self.rows)})
        if not isinstance(result, Grads):
            raise TypeError(f"a {p.pass_} closure must return inputs.Grads, not {type(result).__name__}")
        if p.pass_ == "fwd_bwd" and result.y is None:
            raise ValueError("y: a fwd_bwd closure returns the forward's y with the gradients")
        errors = {"y": measure_error(p, result.y, self.y_ref, self.rows)} if p.pass_ == "fwd_bwd" else {}
        got = result.tensors()
        for name, ref in self.grad_refs.items():
            shape = (p.channels, p.K) if name == "dk" else (p.batch, p.channels, p.seqlen)
            if name not in got or tuple(got[name].shape) != shape:
                found = tuple(got[name].shape) if name in got else "nothing"
                raise ValueError(f"{name}: expected shape {shape}, got {found}")
            t = got[name]
            checked = t[self.channels.to(t.device)] if name == "dk" else t[:, self.channels.to(t.device)]
            errors[name] = tensor_error(t, checked, ref)
        return PassErrors(errors)
