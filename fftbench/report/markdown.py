"""A run as the Markdown comparison table the README quotes, so the README's numbers come from a
committed run rather than from hand-copied notes.

    python -m fftbench.report.markdown RUN_DIR [--backends torch_fft,flashfftconv]

One row per point, one column per backend (the run's order, peers last); a cell is the median time in ms with
the fraction of the HBM floor, `wrong (rel. error …)` for a point over its budget, `—` where the
backend does not run the point, else the status. A backend that transforms k on every call
(precomputed_spectrum false) is marked, since its time includes that FFT.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from fftbench.registry import PEER_FAMILY
from fftbench.report.frames import DTYPE_ORDER, size_label
from fftbench.results import load_run

POINT = ["dtype", "mode", "batch", "channels", "seqlen", "kernel_len", "gated", "freq_sparsity", "pass"]
NOT_RUN = ("unsupported", "unavailable")
PER_CALL_MARK = "†"


def _point_label(row) -> str:
    text = f"{int(row['batch'])}×{int(row['channels'])}×{size_label(int(row['seqlen']))}"
    if row["kernel_len"] != row["seqlen"]:
        text += f" K={size_label(int(row['kernel_len']))}"
    text += " gated" if row["gated"] else ""
    text += f" fsparse={row['freq_sparsity']:g}" if row["freq_sparsity"] else ""
    return text + (f" {row['pass']}" if row["pass"] != "fwd" else "")


def _cell(row) -> str:
    if row["status"] == "ok":
        floor = f" ({row['frac_hbm_floor']:.2f})" if pd.notna(row["frac_hbm_floor"]) else ""
        return f"{row['t_p50_us'] / 1e3:.4g}{floor}"
    if row["status"] == "wrong" and pd.notna(row["rel_l2_err"]):
        return f"wrong (rel. error {row['rel_l2_err']:.3g})"
    return "—" if row["status"] in NOT_RUN else row["status"]


def comparison_table(frame: pd.DataFrame, backends: list[str] | None = None) -> str:
    """The Markdown table of a results frame (load_run's), restricted to `backends` if given."""
    if not backends:  # the run's order, peers last
        first = frame.drop_duplicates("backend")
        backends = list(first.sort_values("family", key=lambda f: f.eq(PEER_FAMILY), kind="stable")["backend"])
    frame = frame[frame["backend"].isin(backends)]
    frame = frame.assign(**{"pass": frame["pass"].fillna("fwd") if "pass" in frame else "fwd"})  # older rows: fwd
    if frame.empty:
        return "(no results)"
    per_call = set(frame.loc[frame["precomputed_spectrum"].eq(False), "backend"])
    header = [f"`{b}`{PER_CALL_MARK if b in per_call else ''}" for b in backends]
    lines = ["| B×H×N | dtype | mode | " + " | ".join(header) + " |", "|---" * (3 + len(backends)) + "|"]
    rank = frame["dtype"].map({d: i for i, d in enumerate(DTYPE_ORDER)})
    ordered = frame.assign(rank=rank).sort_values(["rank", "mode", "seqlen", "batch", "channels", "kernel_len", "gated", "freq_sparsity", "pass"])
    for _, rows in ordered.groupby(POINT, sort=False):
        cells = dict(zip(rows["backend"], (_cell(r) for _, r in rows.iterrows())))
        first = rows.iloc[0]
        lines.append(f"| {_point_label(first)} | {first['dtype']} | {first['mode']} | "
                     + " | ".join(cells.get(b, "") for b in backends) + " |")
    lines.append("\nmedian ms (fraction of the HBM floor); — : the backend does not run that point"
                 + (f"; {PER_CALL_MARK} transforms k on every call, inside its time" if per_call else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fftbench.report.markdown", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--backends", help="comma-separated backends, in the column order wanted")
    args = p.parse_args(argv)
    _, frame = load_run(args.run_dir)
    print(comparison_table(frame, args.backends.split(",") if args.backends else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
