"""Derived metrics, registered by name: pure functions of (problem, median time, context) that do
no GPU work. The context carries the run's calibration (measured ceilings) and the backend's
declared executed FLOPs.

Two FLOP rates, never mixed: `tflops` (and `frac_peak_flops`, `arith_intensity`) always count the
conventional model (fftbench.cost), so rates of two backends compare like their times;
`tflops_executed` and `frac_peak_executed` count what the backend declares it executes, and are
empty for a backend that declares nothing."""
from __future__ import annotations

import dataclasses
from typing import Callable

from fftbench import cost
from fftbench.problem import Problem


@dataclasses.dataclass(frozen=True)
class MetricContext:
    copy_gbps: float | None
    peak_tflops: float | None  # measured matmul (tensor-core for fp16/bf16) ceiling at the problem's dtype
    flops_executed: float | None


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    higher_is_better: bool
    fn: Callable[[Problem, float, MetricContext], float | None]


METRICS: dict[str, Metric] = {}


def register_metric(name: str, unit: str, higher_is_better: bool = True):
    def wrap(fn):
        METRICS[name] = Metric(name, unit, higher_is_better, fn)
        return fn

    return wrap


@register_metric("min_hbm_bytes", "B", higher_is_better=False)
def _min_bytes(p, t_us, ctx):
    return cost.min_hbm_bytes(p)


@register_metric("spectrum_bytes", "B", higher_is_better=False)
def _spectrum_bytes(p, t_us, ctx):
    return cost.spectrum_bytes(p)


@register_metric("floor_us", "us", higher_is_better=False)
def _floor(p, t_us, ctx):
    return cost.floor_us(p, ctx.copy_gbps) if ctx.copy_gbps else None


@register_metric("hbm_gbps", "GB/s")
def _gbps(p, t_us, ctx):
    return cost.min_hbm_bytes(p) / (t_us * 1e-6) / 1e9 if t_us else None


@register_metric("frac_hbm_floor", "")
def _frac_floor(p, t_us, ctx):
    return cost.floor_us(p, ctx.copy_gbps) / t_us if (t_us and ctx.copy_gbps) else None


@register_metric("flops_model", "FLOP", higher_is_better=False)
def _flops_model(p, t_us, ctx):
    return cost.conventional_flops(p)


@register_metric("flops_executed", "FLOP", higher_is_better=False)
def _flops_exec(p, t_us, ctx):
    return ctx.flops_executed


def _rate(flops: float | None, t_us: float | None) -> float | None:
    return flops / (t_us * 1e-6) / 1e12 if (flops and t_us) else None


@register_metric("tflops", "TFLOP/s")
def _tflops(p, t_us, ctx):
    """Conventional (model) FLOPs per second, the same count for every backend, so two backends'
    rates compare as their speeds do."""
    return _rate(cost.conventional_flops(p), t_us)


@register_metric("frac_peak_flops", "")
def _frac_peak(p, t_us, ctx):
    rate = _tflops(p, t_us, ctx)
    return rate / ctx.peak_tflops if (rate and ctx.peak_tflops) else None


@register_metric("tflops_executed", "TFLOP/s")
def _tflops_executed(p, t_us, ctx):
    """The FLOPs a backend declares it really executes (tensor-core DFTs do more than the model),
    per second: how busy its arithmetic units are, not how fast it solves the problem."""
    return _rate(ctx.flops_executed, t_us)


@register_metric("frac_peak_executed", "")
def _frac_peak_executed(p, t_us, ctx):
    rate = _tflops_executed(p, t_us, ctx)
    return rate / ctx.peak_tflops if (rate and ctx.peak_tflops) else None


@register_metric("arith_intensity", "FLOP/B")
def _intensity(p, t_us, ctx):
    """Conventional FLOPs over the floor's bytes: a property of the problem, not of the backend."""
    return cost.conventional_flops(p) / cost.min_hbm_bytes(p)


def compute_metrics(problem: Problem, t_us: float | None, ctx: MetricContext) -> dict:
    return {name: m.fn(problem, t_us, ctx) for name, m in METRICS.items()}
