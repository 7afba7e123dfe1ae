"""The results table as the plots and the page need it: numeric columns, the speedup over the
baseline backend of the same run (the rows marked is_baseline), and stable colours per backend.

Only saved results are read here (never the GPU), so a report can be rebuilt from any run
directory, including one copied off the benchmark machine.
"""
from __future__ import annotations

import math

import pandas as pd

from fftbench.problem import point_label
from fftbench.results import COLUMNS, KEY_COLUMNS

DTYPE_ORDER = ("fp32", "fp16", "bf16")
MODE_ORDER = ("causal", "circular")
POINT_COLUMNS = tuple(c for c in KEY_COLUMNS if c not in ("suite", "backend"))

_NON_NUMERIC = {
    "schema_version", "run_id", "suite", "git_sha", "dirty", "gpu", "driver", "backend", "family", "is_baseline",
    "precomputed_spectrum", "mode", "dtype", "gated", "pass", "status", "reason", "timer", "throttled",
    "throttle_reasons", "details", "kernels", "ts",
}
NUMERIC_COLUMNS = tuple(c for c in COLUMNS if c not in _NON_NUMERIC)

# Colours per backend stay the same in every plot of a report; the baseline is always black.
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of a results frame with derived columns:

    partial_frac = K/N; dense = neither partial nor frequency-sparse; speedup (and its p20–p80
    band) = the baseline backend's p50 at the same point / this p50; point = the point's label.
    """
    df = frame.copy()
    for column in NUMERIC_COLUMNS:
        df[column] = pd.to_numeric(df[column], errors="coerce")
    df["gated"] = df["gated"].fillna(False).astype(bool)
    df["is_baseline"] = df["is_baseline"].fillna(False).astype(bool)
    df["freq_sparsity"] = df["freq_sparsity"].fillna(0.0)
    df["pass"] = df["pass"].fillna("fwd")
    df["kernel_len"] = df["kernel_len"].fillna(df["seqlen"])
    df["partial_frac"] = df["kernel_len"] / df["seqlen"]
    if "prof_dram_read_bytes" in df:  # joined from profile.jsonl (fftbench.profile) when the run was profiled
        df["prof_moved_gb"] = (df["prof_dram_read_bytes"] + df["prof_dram_write_bytes"]) / 1e9
    df["dense"] = (df["kernel_len"] == df["seqlen"]) & (df["freq_sparsity"] == 0)
    df["point"] = [point_label(row) for row in df.to_dict("records")]

    base = df[df["is_baseline"]][list(POINT_COLUMNS) + ["t_p50_us"]]
    base = base.drop_duplicates(list(POINT_COLUMNS), keep="last").rename(columns={"t_p50_us": "base_p50_us"})
    df = df.merge(base, on=list(POINT_COLUMNS), how="left")
    df["speedup"] = df["base_p50_us"] / df["t_p50_us"]
    df["speedup_lo"] = df["base_p50_us"] / df["t_p80_us"]
    df["speedup_hi"] = df["base_p50_us"] / df["t_p20_us"]
    return df


def baseline_backend(df: pd.DataFrame) -> str | None:
    """The run's baseline backend (its rows are marked is_baseline), or None."""
    names = df.loc[df["is_baseline"], "backend"]
    return names.iloc[0] if len(names) else None


def backend_colors(backends, baseline: str | None = None) -> dict[str, str]:
    others = sorted(b for b in set(backends) if b != baseline)
    colors = {b: _PALETTE[i % len(_PALETTE)] for i, b in enumerate(others)}
    if baseline is not None:
        colors[baseline] = "#000000"
    return colors


def ordered(values, order) -> list:
    """Present values, known ones in the given order first, unknown ones after (sorted)."""
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


def series_label(backend: str, gated: bool, rows: float | None = None, pass_: str = "fwd") -> str:
    label = backend + (" gated" if gated else "") + ("" if pass_ == "fwd" else f" {pass_}")
    return label if rows is None else f"{label} (B·H={int(rows)})"


def iter_series(df: pd.DataFrame):
    """(label, backend, rows sorted by N) per backend, gating and pass; B·H joins the label only
    when a backend has several batch sizes at one N, so each line has one point per N."""
    for (backend, gated, pass_), group in df.groupby(["backend", "gated", "pass"], sort=True):
        shapes = group.assign(rows=group["batch"] * group["channels"])
        split = shapes.groupby("seqlen")["rows"].nunique().max() > 1
        if split:
            for rows, sub in shapes.groupby("rows"):
                yield series_label(backend, gated, rows, pass_), backend, sub.sort_values("seqlen")
        else:
            yield series_label(backend, gated, pass_=pass_), backend, shapes.sort_values("seqlen")


def geomean(values) -> float | None:
    values = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def size_label(value, _pos=None) -> str:
    """1024 -> 1K, 2**20 -> 1M: short labels for power-of-two sequence lengths (plot ticks, tables)."""
    for shift, suffix in ((30, "G"), (20, "M"), (10, "K")):
        if value >= 1 << shift:
            return f"{value / (1 << shift):g}{suffix}"
    return f"{value:g}"
