"""The report's plots, one function per chart.

Each function takes the prepared frame (frames.prepare), the run metadata and the backend colours
and returns a matplotlib Figure, or None when the run has no points for it (the page then says
so instead of showing an empty chart). Figures are built with matplotlib.figure.Figure, not
pyplot, so no global state or GUI backend is involved (PNG renders through Agg).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatter, LogLocator, NullFormatter

from fftbench.registry import PEER_FAMILY
from fftbench.report.frames import DTYPE_ORDER, MODE_ORDER, baseline_backend, iter_series, ordered, size_label

# Applied with matplotlib.rc_context around drawing and saving (never globally, at import).
STYLE = {
    "svg.fonttype": "none",  # text stays text in the SVG: smaller files, selectable labels
    "svg.hashsalt": "fftbench",  # stable ids, so regenerated reports diff cleanly
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 7,
}

PANEL_SIZE = (4.2, 3.0)


@dataclasses.dataclass(frozen=True)
class PlotSpec:
    name: str          # file stem under plots/
    title: str
    caption: str       # what the chart shows and how to read it
    empty_note: str    # shown instead when the run has no such points
    draw: Callable


def _grid(n_rows: int, n_cols: int) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(PANEL_SIZE[0] * n_cols, PANEL_SIZE[1] * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    return fig, axes


def _dtype_mode_panels(df):
    """Figure with one panel per (dtype, mode) present, and the panels with their rows."""
    dtypes, modes = ordered(df["dtype"], DTYPE_ORDER), ordered(df["mode"], MODE_ORDER)
    fig, axes = _grid(len(dtypes), len(modes))
    panels = []
    for i, dtype in enumerate(dtypes):
        for j, mode in enumerate(modes):
            ax = axes[i, j]
            ax.set_title(f"{dtype} · {mode}")
            panels.append((ax, df[(df["dtype"] == dtype) & (df["mode"] == mode)]))
    return fig, panels


def _plain_log(axis) -> None:
    """Plain-number tick labels on a log axis, minor ones too when it spans under two decades
    (the default mathtext labels cost seconds per figure and leave short axes unlabelled)."""
    axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _decimal_log(axis) -> None:
    """A log axis labelled in 1-2-5 steps as plain decimals (0.002, 0.005, 0.01, …), no minor
    labels: over one or two decades, labelled minor ticks (20, 30, 40, 60) run into each other."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _log2_x(ax) -> None:
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(LogLocator(base=2, numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(size_label))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("N (sequence length)")


def _log_y(ax) -> None:
    ax.set_yscale("log")
    _plain_log(ax.yaxis)


def _log2_y(ax) -> None:
    """Speedups: ticks at powers of two (…, 0.5, 1, 2, 4, …) read better than decades."""
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_locator(LogLocator(base=2))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.3g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _is_peer(s) -> bool:
    return "family" in s and bool(s["family"].eq(PEER_FAMILY).any())


def _series_style(s, label: str, color: str) -> tuple[str, dict]:
    """(label, line style) of a series. Ours: the backend's colour, dashed when gated. A peer (a
    published kernel, the registry's PEER_FAMILY) is a reference line: greyed colour, dashed
    (dotted when gated), hollow markers; one that transforms k on every call says so."""
    gated = bool(s["gated"].any())
    if not _is_peer(s):
        return label, {"color": color, "ls": "--" if gated else "-"}
    if s["precomputed_spectrum"].eq(False).any():
        label += " (k transformed per call)"
    # A grey tinted by the backend's colour: two peers still differ, and none looks like one of ours.
    greyed = to_hex(0.35 * np.array(to_rgb(color)) + 0.65 * 0.6)
    return label, {"color": greyed, "ls": ":" if gated else "--", "mfc": "none"}


def _line(ax, s, column: str, backend: str, label: str, colors) -> str:
    """Plot s[column] against N; returns the colour used (for the series' band)."""
    label, style = _series_style(s, label, colors[backend])
    ax.plot(s["seqlen"], s[column], marker="o", ms=3, label=label, **style)
    return style["color"]


def _legend(fig) -> Figure:
    """One legend for the whole figure, outside the panels, so it never hides data; the figure
    widens by the legend's width, so the panels keep theirs (a one-panel figure would otherwise
    give most of its width to the legend and squeeze its tick labels together)."""
    entries = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        legend = fig.legend(entries.values(), entries.keys(), loc="outside right upper", frameon=False)
        extra = legend.get_window_extent().width / fig.dpi
        width, height = fig.get_size_inches()
        fig.set_size_inches(width + extra, height)
    return fig


def _timed(df):
    return df[(df["status"] == "ok") & df["t_p50_us"].notna()]


def runtime_vs_n(df, meta, colors):
    data = _timed(df[df["dense"]])
    if data.empty:
        return None
    fig, panels = _dtype_mode_panels(data)
    for ax, panel in panels:
        for label, backend, s in iter_series(panel):
            color = _line(ax, s, "t_p50_us", backend, label, colors)
            ax.fill_between(s["seqlen"], s["t_p20_us"], s["t_p80_us"], color=color, alpha=0.2, lw=0)
        _log2_x(ax)
        _log_y(ax)
        ax.set_ylabel("time p50 (µs), band p20–p80")
    return _legend(fig)


def speedup_vs_n(df, meta, colors):
    data = _timed(df[df["dense"] & ~df["is_baseline"]])
    data = data[data["speedup"].notna()]
    if data.empty:
        return None
    base = baseline_backend(df)
    fig, panels = _dtype_mode_panels(data)
    for ax, panel in panels:
        ax.axhline(1.0, color=colors.get(base, "k"), lw=1, label=f"{base} (= 1)")
        for label, backend, s in iter_series(panel):
            color = _line(ax, s, "speedup", backend, label, colors)
            ax.fill_between(s["seqlen"], s["speedup_lo"], s["speedup_hi"], color=color, alpha=0.2, lw=0)
        _log2_x(ax)
        _log2_y(ax)
        ax.set_ylabel(f"speedup over {base}")
    return _legend(fig)


def hbm_floor_vs_n(df, meta, colors):
    data = _timed(df[df["dense"]])
    data = data[data["frac_hbm_floor"].notna()]
    if data.empty:
        return None
    fig, panels = _dtype_mode_panels(data)
    values = data["frac_hbm_floor"]
    spread = values.max() / values[values > 0].min() if (values > 0).any() else 1.0
    for ax, panel in panels:
        for label, backend, s in iter_series(panel):
            _line(ax, s, "frac_hbm_floor", backend, label, colors)
        _log2_x(ax)
        # Scaled to the data, not to 0..1: a CPU run sits at 0.001..0.05 and would be a flat line at
        # zero. Backends a decade or more apart get a log axis, so the slower ones stay readable.
        if spread > 10:
            ax.set_yscale("log")
            _decimal_log(ax.yaxis)
        else:
            ax.set_ylim(0, float(values.max()) * 1.15)
        if values.max() > 0.5:
            ax.axhline(1.0, color="grey", lw=1, ls=":")
        ax.set_ylabel("fraction of HBM floor (1 = memory bound)")
    return _legend(fig)


def roofline(df, meta, colors):
    data = _timed(df)
    data = data[data["arith_intensity"].notna() & data["tflops"].notna()]
    if data.empty:
        return None
    calibration = meta.get("calibration") or {}
    copy_gbps, peaks = calibration.get("copy_gbps"), calibration.get("matmul_tflops") or {}
    dtypes = ordered(data["dtype"], DTYPE_ORDER)
    fig, axes = _grid(1, len(dtypes))
    for ax, dtype in zip(axes[0], dtypes):
        panel = data[data["dtype"] == dtype]
        for backend, s in panel.groupby("backend"):
            dense, sparse = s[s["dense"]], s[~s["dense"]]
            label, style = _series_style(s, backend, colors[backend])
            ax.scatter(dense["arith_intensity"], dense["tflops"], s=12, color=style["color"], label=label,
                       marker="D" if _is_peer(s) else "o")
            ax.scatter(sparse["arith_intensity"], sparse["tflops"], s=12, facecolors="none",
                       edgecolors=style["color"], label=f"{label} partial/sparse" if len(sparse) else None)
        x = np.geomspace(panel["arith_intensity"].min() / 2, panel["arith_intensity"].max() * 4, 64)
        roofs = []
        if copy_gbps:
            roofs.append(copy_gbps * x / 1e3)
            ax.plot(x, roofs[-1], color="grey", ls="--", lw=1, label=f"copy {copy_gbps:.4g} GB/s")
        if peaks.get(dtype):
            roofs.append(np.full_like(x, peaks[dtype]))
            ax.plot(x, roofs[-1], color="grey", ls="-.", lw=1, label=f"matmul {dtype} {peaks[dtype]:.4g} TFLOP/s")
        if len(roofs) == 2:
            ax.plot(x, np.minimum(*roofs), color="black", lw=1.5, alpha=0.5)
        ax.set_xscale("log")
        _decimal_log(ax.xaxis)
        _log_y(ax)
        ax.set_title(dtype + ("" if roofs else " (no calibration in run.json)"))
        ax.set_xlabel("arithmetic intensity (FLOP / min HBM byte)")
        ax.set_ylabel("achieved TFLOP/s (model FLOPs)")
    return _legend(fig)


def error_vs_n(df, meta, colors):
    data = df[df["rel_l2_err"].notna() & (df["rel_l2_err"] > 0)]
    if data.empty:
        return None
    budgets = meta.get("budgets") or {}
    dtypes = ordered(data["dtype"], DTYPE_ORDER)
    fig, axes = _grid(1, len(dtypes))
    for ax, dtype in zip(axes[0], dtypes):
        panel = data[data["dtype"] == dtype]
        budget = budgets.get(dtype, panel["err_budget"].max())
        if budget == budget:  # not NaN
            ax.axhline(budget, color="red", lw=1, ls=":", label=f"{dtype} budget {budget:.1e}")
        for mode, by_mode in panel[panel["dense"]].groupby("mode"):
            for label, backend, s in iter_series(by_mode):
                label, style = _series_style(s, label, colors[backend])
                ax.plot(s["seqlen"], s["rel_l2_err"], marker="o" if mode == "causal" else "s", ms=3,
                        label=f"{label} · {mode}", **style)
        wrong = panel[panel["status"] == "wrong"]
        if not wrong.empty:
            ax.scatter(wrong["seqlen"], wrong["rel_l2_err"], marker="x", s=40, color="red", zorder=5, label="wrong")
        _log2_x(ax)
        ax.set_yscale("log")  # errors span decades: keep the 10^k labels here
        ax.set_title(dtype)
        ax.set_ylabel("relative L2 error vs float64")
    return _legend(fig)


def sparsity(df, meta, colors):
    """Speedup over the baseline backend against K/N and against the zeroed-bin fraction, each
    sparse series anchored by the dense point with the same other parameters."""
    timed = _timed(df[~df["is_baseline"]])
    timed = timed[timed["speedup"].notna()]
    views = (
        ("partial_frac", (timed["partial_frac"] < 1) & (timed["freq_sparsity"] == 0), "partial kernel fraction K/N"),
        ("freq_sparsity", (timed["freq_sparsity"] > 0) & (timed["partial_frac"] == 1),
         "frequency sparsity (fraction of bins zeroed)"),
    )
    if not any(mask.any() for _, mask, _ in views):
        return None
    fig, axes = _grid(1, 2)
    for ax, (column, mask, xlabel) in zip(axes[0], views):
        sparse = timed[mask]
        if sparse.empty:
            ax.text(0.5, 0.5, f"no points varying {xlabel.split(' (')[0]} in this run", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
            continue
        keys = ["backend", "dtype", "mode", "seqlen", "batch", "channels", "gated"]
        wanted = sparse[keys].drop_duplicates()
        rows = timed[mask | timed["dense"]].merge(wanted, on=keys)
        ax.axhline(1.0, color="black", lw=1)
        for key, s in rows.groupby(keys):
            backend, dtype, mode, n = key[:4]
            s = s.sort_values(column)
            ax.plot(s[column], s["speedup"], "o-", ms=3, color=colors[backend], label=f"{backend} {dtype} {mode} N={n}")
            ax.fill_between(s[column], s["speedup_lo"], s["speedup_hi"], color=colors[backend], alpha=0.2, lw=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"speedup over {baseline_backend(df)}")
    return _legend(fig)


PLOTS = (
    PlotSpec("runtime", "Runtime vs N",
             "Median time per point (line) and its p20–p80 band, dense points, one panel per dtype and mode.",
             "No timed dense points in this run.", runtime_vs_n),
    PlotSpec("speedup", "Speedup over the baseline",
             "The baseline backend's median time at the same point in this run divided by the backend's "
             "(band: the backend's p20–p80). Above 1 is faster than the baseline.",
             "No points with both a timed backend and a timed baseline.", speedup_vs_n),
    PlotSpec("hbm_floor", "Fraction of the HBM floor",
             "Time to move the minimum HBM bytes at the measured copy bandwidth, divided by the measured time: "
             "1 means the kernel runs at the memory limit.",
             "No points with an HBM floor in this run.", hbm_floor_vs_n),
    PlotSpec("roofline", "Roofline",
             "Achieved TFLOP/s (model FLOPs) against arithmetic intensity, under the ceilings measured at the "
             "start of the run: copy bandwidth and dense matmul throughput per dtype. Hollow markers: partial or "
             "frequency-sparse points, which can sit above the roof when the model counts the dense FLOPs.",
             "No points with FLOP and byte counts in this run.", roofline),
    PlotSpec("error", "Error vs N",
             "Relative L2 error against the float64 reference (circles: causal, squares: circular, dashed: gated); "
             "red crosses are points over budget; the dotted red line is the dtype's budget.",
             "No points with a measured error in this run.", error_vs_n),
    PlotSpec("sparsity", "Sparsity",
             "Speedup over the baseline as the kernel gets shorter (K/N, left) or its spectrum sparser (right); "
             "each line starts from the dense point with the same parameters.",
             "This run has no partial-kernel or frequency-sparse points.", sparsity),
)
