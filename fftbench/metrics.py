"""Derived metrics, registered by name: pure functions of (problem, median time, context) that do
no GPU work. The context carries the run's calibration (measured ceilings) and the backend's
declared executed FLOPs."""
from __future__ import annotations

import dataclasses
from typing import Callable

from fftbench import cost
from fftbench.problem import Problem


@dataclasses.dataclass(frozen=True)
class MetricContext:
    copy_gbps: float | None
    peak_tflops: float | None  # measured matmul ceiling at the problem's dtype
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


@register_metric("tflops", "TFLOP/s")
def _tflops(p, t_us, ctx):
    """Rate of the FLOPs really executed where declared, else of the conventional count."""
    flops = ctx.flops_executed or cost.conventional_flops(p)
    return flops / (t_us * 1e-6) / 1e12 if t_us else None


@register_metric("frac_peak_flops", "")
def _frac_peak(p, t_us, ctx):
    rate = _tflops(p, t_us, ctx)
    return rate / ctx.peak_tflops if (rate and ctx.peak_tflops) else None


@register_metric("arith_intensity", "FLOP/B")
def _intensity(p, t_us, ctx):
    flops = ctx.flops_executed or cost.conventional_flops(p)
    return flops / cost.min_hbm_bytes(p)


def compute_metrics(problem: Problem, t_us: float | None, ctx: MetricContext) -> dict:
    return {name: m.fn(problem, t_us, ctx) for name, m in METRICS.items()}
