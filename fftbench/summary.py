"""The table printed at the end of a run: one line per point, one column per backend, showing the
median time, the fraction of the HBM floor and the speedup over the baseline of the same run."""
from __future__ import annotations

import pandas as pd

POINT = ["dtype", "mode", "batch", "channels", "seqlen", "kernel_len", "gated", "freq_sparsity", "pass"]


def _cell(row, base_us) -> str:
    if row["status"] != "ok":
        return row["status"]
    text = f"{row['t_p50_us']:.1f}us"
    if pd.notna(row.get("frac_hbm_floor")):
        text += f" {row['frac_hbm_floor']:.2f}fl"
    if base_us and not row["is_baseline"]:
        text += f" {base_us / row['t_p50_us']:.2f}x"
    return text


def summary_table(frame: pd.DataFrame) -> str:
    """Backends unavailable on this machine get no column (a column of "unavailable" per point
    says less than their names on one line)."""
    unavailable = sorted(set(frame.loc[frame["status"] == "unavailable", "backend"]))
    note = f"\nnot run here (unavailable): {', '.join(unavailable)}" if unavailable else ""
    frame = frame[frame["status"] != "unavailable"].copy()
    frame["pass"] = frame["pass"].fillna("fwd") if "pass" in frame else "fwd"  # rows before the pass axis
    if frame.empty:
        return "(no results)" + note
    frame["point"] = frame.apply(lambda r: tuple(r[c] for c in POINT), axis=1)
    base = frame[frame["is_baseline"].fillna(False).astype(bool) & (frame["status"] == "ok")]
    base_us = dict(zip(base["point"], base["t_p50_us"]))
    frame["cell"] = frame.apply(lambda r: _cell(r, base_us.get(r["point"])), axis=1)
    table = frame.pivot_table(index=POINT, columns="backend", values="cell", aggfunc="first").fillna("")
    legend = "cells: median device time, fraction of the HBM floor (fl), speedup over the baseline (x)"
    with pd.option_context("display.width", 250, "display.max_columns", 50, "display.max_rows", 500):
        return table.to_string() + "\n" + legend + note
