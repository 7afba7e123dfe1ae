"""What a reader of the report would stumble on: tick labels running into each other, a
fraction-of-floor axis that leaves CPU-sized values flat at zero, and a table that starts with
rows that were never run."""
from __future__ import annotations

import re

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from fftbench.problem import Problem
from fftbench.registry import get_backend
from fftbench.report import write_report
from fftbench.report.frames import backend_colors, baseline_backend, prepare
from fftbench.report.plots import PLOTS, STYLE, hbm_floor_vs_n
from fftbench.results import SKIPPED, load_run
from tests.fixtures.synthetic_runs import edit_rows, make_run

SEQLENS = (256, 512, 1024, 2048, 4096, 8192, 16384)  # the default CPU run's lengths


def _cpu_sized(row: dict) -> dict:
    """A CPU machine's row: one dtype, and about 1% of the HBM floor."""
    if row["frac_hbm_floor"] is not None:
        row["frac_hbm_floor"] *= 0.01
    return row


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    gpu = make_run(tmp_path_factory.mktemp("gpu") / "run", seqlens=SEQLENS, sparsity=True)
    cpu = make_run(tmp_path_factory.mktemp("cpu") / "run", seqlens=SEQLENS, sparsity=False)
    edit_rows(cpu, _cpu_sized)
    frames = {}
    for name, run_dir, dtypes in (("gpu", gpu, None), ("cpu fp16", cpu, ["fp16"])):
        meta, frame = load_run(run_dir)
        frames[name] = (meta, prepare(frame if dtypes is None else frame[frame["dtype"].isin(dtypes)]), run_dir)
    return frames


def _drawn(spec, meta, df):
    with matplotlib.rc_context(STYLE):
        fig = spec.draw(df, meta, backend_colors(df["backend"], baseline_backend(df)))
        if fig is not None:
            FigureCanvasAgg(fig).draw()
    return fig


def _overlapping_tick_labels(fig) -> list[tuple[str, str]]:
    """Pairs of neighbouring tick labels on one axis whose boxes intersect."""
    clashes = []
    for ax in fig.axes:
        box = ax.get_window_extent()
        for axis, lo, hi, ends in ((ax.xaxis, "x0", "x1", (box.x0, box.x1)), (ax.yaxis, "y0", "y1", (box.y0, box.y1))):
            labels = [(t.get_window_extent(), t.get_text()) for t in axis.get_ticklabels(which="both")
                      if t.get_visible() and t.get_text()]
            shown = sorted(((getattr(b, lo), getattr(b, hi), text) for b, text in labels
                            if ends[0] - 1 <= (getattr(b, lo) + getattr(b, hi)) / 2 <= ends[1] + 1))
            clashes += [(a[2], b[2]) for a, b in zip(shown, shown[1:]) if a[1] > b[0] + 0.5]
    return clashes


@pytest.mark.parametrize("run", ["gpu", "cpu fp16"])
@pytest.mark.parametrize("spec", PLOTS, ids=lambda spec: spec.name)
def test_no_tick_labels_overlap(runs, run, spec):
    meta, df, _ = runs[run]
    fig = _drawn(spec, meta, df)
    if fig is not None:
        assert _overlapping_tick_labels(fig) == []


def test_hbm_floor_axis_is_scaled_to_cpu_sized_values(runs):
    meta, df, _ = runs["cpu fp16"]
    fig = _drawn(next(s for s in PLOTS if s.draw is hbm_floor_vs_n), meta, df)
    top = max(v for v in df["frac_hbm_floor"] if v == v)
    for ax in fig.axes[:1]:
        lo, hi = ax.get_ylim()
        assert hi < 3 * top, f"axis 0..{hi:g} for values up to {top:g}: flat at the bottom"


def test_table_has_ok_rows_first_and_one_row_per_skipped_backend_and_reason(runs):
    _, df, run_dir = runs["gpu"]
    html = write_report(run_dir).read_text()
    statuses = re.findall(r'<tr class="row-(\w+)">', html)
    skipped = df[df["status"].isin(SKIPPED)]
    groups = skipped.groupby(["backend", "status", "reason"]).ngroups
    assert len(statuses) == (~df["status"].isin(SKIPPED)).sum() + groups
    ok_until = statuses.index(next(s for s in statuses if s != "ok"))
    assert set(statuses[:ok_until]) == {"ok"} and "ok" not in statuses[ok_until:]
    assert set(statuses[-groups:]) <= set(SKIPPED) and not set(statuses[:-groups]) & set(SKIPPED)


def test_points_skipped_for_one_reason_share_its_wording():
    """So the failed-and-skipped table and the point table group them on one line per backend."""
    twin = get_backend("monarch_long_twin")
    assert twin.unsupported_reason(Problem(4, 4, 256)) == twin.unsupported_reason(Problem(4, 4, 8192)) is not None
