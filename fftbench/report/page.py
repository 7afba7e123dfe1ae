"""The HTML page: environment header, plots, per-backend summary, failures and the point table.

The page is one self-contained file (plots embedded as SVG data URIs, CSS and the sorting script
inline) so it can be attached to a CI job or mailed and still open without a network.
"""
from __future__ import annotations

import base64
import math
from pathlib import Path

import jinja2
import matplotlib
import pandas as pd

from fftbench.report import plots as plot_defs
from fftbench.report.frames import backend_colors, baseline_backend, geomean, prepare
from fftbench.report.passes import pass_rows
from fftbench.results import FAILED, SKIPPED, STATUSES, load_run

TEMPLATES = Path(__file__).parent / "templates"
PLOTS_DIR = "plots"
REPORT_FILE = "report.html"

# (header, column, format, tooltip) of the point table; format None: text.
TABLE_COLUMNS = (
    ("backend", "backend", None, "registered backend name"),
    ("point", "point", None, "batch × channels × N, dtype, mode, K, gating, frequency sparsity, pass (when not fwd)"),
    ("N", "seqlen", "d", "sequence length"),
    ("status", "status", None, ", ".join(STATUSES)),
    ("p50 µs", "t_p50_us", ".4g", "median time"),
    ("p20–p80 µs", "spread", None, "spread of the timed samples"),
    ("min µs", "t_min_us", ".4g", "fastest sample"),
    ("n", "n_samples", "d", "timed samples"),
    ("speedup", "speedup", ".3g", "the baseline backend's p50 / p50 at the same point"),
    ("rel L2 err", "rel_l2_err", ".2e", "relative L2 error vs the float64 reference"),
    ("err ratio", "err_ratio", ".3g", "error / the baseline backend's error at the same dtype"),
    ("budget", "err_budget", ".1e", "error budget of the dtype"),
    ("HBM floor", "frac_hbm_floor", ".3g", "fraction of the HBM floor (1 = at the memory limit)"),
    ("model TFLOP/s", "tflops", ".3g", "conventional FLOPs (5·n·log2 n per complex FFT) per second: the same count for every backend"),
    ("exec TFLOP/s", "tflops_executed", ".3g", "FLOPs the backend declares it executes, per second (empty: none declared)"),
    ("exec / peak", "frac_peak_executed", ".2f", "executed TFLOP/s / the matmul peak measured at the dtype"),
    ("FLOP/B", "arith_intensity", ".3g", "arithmetic intensity: model FLOPs / minimum HBM bytes"),
    ("kernels", "n_kernels", "d", "kernels one call launches (torch.profiler)"),
    ("HBM GB (ncu)", "prof_moved_gb", ".3g", "DRAM bytes read + written by one call, measured by Nsight Compute (--profile)"),
    ("IO eff", "prof_io_efficiency", ".2f", "minimal HBM bytes / measured bytes (--profile)"),
    ("tensor pipe %", "prof_tensor_active_pct", ".1f", "tensor-pipe activity, time-weighted over the call's kernels (--profile)"),
    ("issue %", "prof_issue_active_pct", ".1f", "issue slots busy, time-weighted over the call's kernels (--profile)"),
    ("L1 %", "prof_l1tex_throughput_pct", ".1f", "L1/shared-memory throughput of its peak, time-weighted (--profile)"),
    ("inst/elem", "prof_inst_per_element", ".3g", "warp instructions executed per input element (B·H·N), all kernels of the call (--profile)"),
    ("FLOPs meas/decl", "prof_flops_vs_declared", ".2f", "FLOPs counted by ncu / the backend's declared executed FLOPs (--profile)"),
    ("SM MHz", "sm_clock_mhz", ".0f", "SM clock sampled around the point"),
    ("throttled", "throttled", None, "clock throttling seen around the point"),
    ("reason", "reason", None, "why the point is not ok"),  # last: long text, empty on ok rows
)


def _fmt(value, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if fmt is None:
        return str(value)
    return format(int(value) if fmt == "d" else value, fmt)


def _sort_value(value) -> str:
    """What the table's sort script compares: numbers as numbers, blanks last."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


# Always shown; any other column of TABLE_COLUMNS only when some row of the run has a value there
# (a CPU run has no kernels, clocks or ncu profile: seven empty columns would push the table off
# the page).
_ALWAYS_SHOWN = ("backend", "point", "seqlen", "status", "reason")


def table_columns(df: pd.DataFrame) -> tuple:
    def shown(column):
        source = "t_p20_us" if column == "spread" else column
        return column in _ALWAYS_SHOWN or (source in df and df[source].notna().any())
    return tuple(c for c in TABLE_COLUMNS if shown(c[1]))


def _cells(record: dict, columns) -> list[dict]:
    cells = []
    for _, column, fmt, _ in columns:
        value = record.get(column)
        numeric = fmt is not None or column == "spread"
        sort_key = record.get("t_p20_us") if column == "spread" else value
        cls = {"status": f"status-{record['status']}", "reason": "reason"}.get(column, "num" if numeric else None)
        cells.append({"text": _fmt(value, fmt), "sort": _sort_value(sort_key) if numeric else None, "cls": cls})
    return cells


def table_rows(df: pd.DataFrame, columns=TABLE_COLUMNS) -> list[dict]:
    """Ok rows first, then failures, one row per point; then the skipped points, one row per
    backend, status and reason (their other cells would be empty)."""
    order = {s: i for i, s in enumerate(STATUSES)}
    ranked = df.assign(_rank=df["status"].map(order).fillna(len(order)))
    rows = []
    measured = ranked[~ranked["status"].isin(SKIPPED)]
    for record in measured.sort_values(["_rank", "backend", "dtype", "mode", "seqlen", "kernel_len",
                                        "freq_sparsity", "pass"]).to_dict("records"):
        record["spread"] = (f"{record['t_p20_us']:.3g}–{record['t_p80_us']:.3g}"
                            if record["t_p20_us"] == record["t_p20_us"] else None)
        rows.append({"status": record["status"], "cells": _cells(record, columns)})
    skipped = ranked[ranked["status"].isin(SKIPPED)].fillna({"reason": "(no reason recorded)"})
    for (_, backend, status, reason), group in skipped.groupby(["_rank", "backend", "status", "reason"]):
        point = group["point"].iloc[0] if len(group) == 1 else f"{len(group)} points"
        record = {"backend": backend, "status": status, "reason": reason, "point": point}
        rows.append({"status": status, "cells": _cells(record, columns)})
    return rows


def failure_groups(df: pd.DataFrame) -> list[dict]:
    """Rows that are not ok, grouped by (status, backend, reason): failures first, then skips."""
    not_ok = df[df["status"] != "ok"].fillna({"reason": "(no reason recorded)"})
    order = {s: i for i, s in enumerate(FAILED + SKIPPED)}
    groups = []
    for (status, backend, reason), g in not_ok.groupby(["status", "backend", "reason"]):
        groups.append({"status": status, "backend": backend, "reason": reason, "count": len(g),
                       "points": sorted(g["point"]), "failed": status in FAILED})
    return sorted(groups, key=lambda g: (order.get(g["status"], len(order)), g["backend"], -g["count"]))


def backend_summary(df: pd.DataFrame) -> list[dict]:
    summary = []
    for backend, g in df.groupby("backend"):
        ok = g[g["status"] == "ok"]
        summary.append({
            "backend": backend, "family": g["family"].dropna().iloc[0] if g["family"].notna().any() else "",
            "ok": len(ok), "failed": int(g["status"].isin(FAILED).sum()),
            "skipped": int(g["status"].isin(SKIPPED).sum()),
            "speedup": _fmt(geomean(ok["speedup"].dropna()), ".3g"),
            "hbm": _fmt(ok["frac_hbm_floor"].median() if ok["frac_hbm_floor"].notna().any() else None, ".3f"),
            "max_err_ratio": _fmt(ok["err_ratio"].max() if ok["err_ratio"].notna().any() else None, ".3g"),
        })
    return summary


SAMPLE_FIELDS = ("sm_clock_mhz", "mem_clock_mhz", "power_w", "temp_c", "throttle_reasons")


def _throttle_text(reasons) -> str:
    if not reasons or reasons in (["none"], "none", 0):
        return "none"
    return ", ".join(map(str, reasons)) if isinstance(reasons, (list, tuple)) else str(reasons)


def environment(meta: dict) -> dict:
    env, git = meta.get("env") or {}, meta.get("git") or {}
    l2 = env.get("l2_bytes")
    facts = [
        ("GPU", env.get("gpu")), ("driver", env.get("driver")), ("CUDA", env.get("cuda")),
        ("torch", env.get("torch")), ("triton", env.get("triton")), ("python", env.get("python")),
        ("SMs", env.get("sm_count")), ("L2", f"{l2 / 2**20:.0f} MiB" if l2 else None),
        ("CPU", f"{env.get('cpu')} ({env.get('cpu_count')} cores)" if env.get("cpu") else None),
    ]
    calibration = meta.get("calibration") or {}
    peaks = calibration.get("matmul_tflops") or {}
    # CPU runs record when each backend started but no clocks: such samples say nothing.
    measured = [s for s in meta.get("env_samples") or [] if any(s.get(k) is not None for k in SAMPLE_FIELDS)]
    samples = [{**s, "throttle": _throttle_text(s.get("throttle_reasons"))} for s in measured]
    return {
        "facts": [(k, v) for k, v in facts if v not in (None, "")],
        "git": {"sha": git.get("sha") or "unknown", "branch": git.get("branch"), "dirty": bool(git.get("dirty"))},
        "calibration": {
            "copy_gbps": _fmt(calibration.get("copy_gbps"), ".4g"),
            "peaks": ", ".join(f"{d} {v:.3g}" for d, v in peaks.items() if v),
        },
        "budgets": ", ".join(f"{d} {v:.1e}" for d, v in (meta.get("budgets") or {}).items()),
        "samples": samples,
        "throttled": any(s["throttle"] != "none" for s in samples),
    }


def _svg_data_uri(path: Path) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode()


def render_plots(df: pd.DataFrame, meta: dict, plots_dir: Path) -> list[dict]:
    """Draw every plot to plots_dir/*.png and *.svg; a plot without data becomes a note."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    colors = backend_colors(df["backend"].dropna(), baseline_backend(df))
    rendered = []
    for spec in plot_defs.PLOTS:
        with matplotlib.rc_context(plot_defs.STYLE):
            rendered.append(_render_plot(spec, df, meta, colors, plots_dir))
    return rendered


def _render_plot(spec, df, meta, colors, plots_dir: Path) -> dict:
    """One chart to SVG and PNG, or a note when the run has no data for it."""
    entry = {"name": spec.name, "title": spec.title, "caption": spec.caption}
    svg, png = plots_dir / f"{spec.name}.svg", plots_dir / f"{spec.name}.png"
    fig = spec.draw(df, meta, colors)
    if fig is None:
        svg.unlink(missing_ok=True)  # a stale chart from an earlier report must not linger
        png.unlink(missing_ok=True)
        return {**entry, "note": spec.empty_note}
    fig.savefig(svg, metadata={"Date": None})
    fig.set_layout_engine("none")  # keep the layout just computed: laying out twice costs seconds
    fig.savefig(png, dpi=110)
    return {**entry, "src": _svg_data_uri(svg), "png": f"{PLOTS_DIR}/{png.name}"}


def render_page(meta: dict, df: pd.DataFrame, plots: list[dict]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    counts = df["status"].value_counts().to_dict()
    columns = table_columns(df)
    return env.get_template("report.html.j2").render(
        meta=meta, env=environment(meta), plots=plots, columns=columns, rows=table_rows(df, columns),
        failures=failure_groups(df), summary=backend_summary(df), counts=counts, n_rows=len(df),
        passes=pass_rows(df),
    )


def write_report(run_dir: Path) -> Path:
    """Write run_dir/report.html and run_dir/plots/*.{png,svg} from the saved results; returns the page."""
    run_dir = Path(run_dir)
    meta, frame = load_run(run_dir)
    df = prepare(frame)
    plots = render_plots(df, meta, run_dir / PLOTS_DIR)
    page = run_dir / REPORT_FILE
    page.write_text(render_page(meta, df, plots), encoding="utf-8")
    return page
