"""Forward and backward side by side: per point and backend, the median time of each pass, what
a training step costs over the forward alone, the step's speedup over the baseline's step, and
the backward's error per output tensor."""
from __future__ import annotations

import math

import pandas as pd

from fftbench.gradients import GRAD_NAMES
from fftbench.problem import PASSES, point_label
from fftbench.report.frames import baseline_backend


def _us(value) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4g}"


def _ratio(num, den) -> str:
    return "" if num is None or den is None or math.isnan(num) or math.isnan(den) else f"{num / den:.2f}"


def pass_rows(df: pd.DataFrame) -> list[dict]:
    """One row per (point without its pass, backend) of a run that has a pass other than fwd."""
    if (df["pass"] == "fwd").all():
        return []
    df = df.assign(step_point=[point_label({**r, "pass": "fwd"}) for r in df.to_dict("records")])
    ok = df[df["status"] == "ok"].sort_values(["dtype", "mode", "seqlen", "kernel_len", "gated", "batch", "backend"])
    if ok.empty:
        return []
    times = ok.pivot_table(index=["step_point", "backend"], columns="pass", values="t_p50_us", aggfunc="last")
    keys = list(dict.fromkeys(zip(ok["step_point"], ok["backend"])))  # points by N, not by label text
    times = times.reindex(index=pd.MultiIndex.from_tuples(keys), columns=list(PASSES))
    step = times["fwd_bwd"]
    baseline = baseline_backend(df)
    base_step = {point: t for (point, backend), t in step.items() if backend == baseline}
    grads = ok[ok["pass"] != "fwd"].sort_values("pass", kind="stable")  # bwd before fwd_bwd
    bwd = grads.drop_duplicates(["step_point", "backend"]).set_index(["step_point", "backend"])
    rows = []
    for (point, backend), t in times.iterrows():
        errors = bwd.loc[(point, backend)] if (point, backend) in bwd.index else None
        rows.append({
            "point": point, "backend": backend, **{p: _us(t[p]) for p in PASSES},
            "step_over_fwd": _ratio(t["fwd_bwd"], t["fwd"]),
            "speedup": _ratio(base_step.get(point), t["fwd_bwd"]) if baseline not in (None, backend) else "",
            "errors": "" if errors is None else " · ".join(
                f"{n} {errors[f'{n}_rel_l2_err']:.1e}" for n in GRAD_NAMES if pd.notna(errors[f"{n}_rel_l2_err"])),
        })
    return rows
