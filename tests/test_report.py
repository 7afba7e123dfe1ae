"""The HTML report of a synthetic run: files written, self-contained, every row and failure shown."""
from __future__ import annotations

import json
import re

import pytest

from fftbench.report import write_report
from fftbench.report.frames import backend_colors, prepare
from fftbench.report.plots import PLOTS, sparsity
from fftbench.results import SKIPPED, load_run
from tests.fixtures.synthetic_runs import edit_rows, make_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run_dir = make_run(tmp_path_factory.mktemp("report") / "run", seqlens=(1024, 4096, 16384))
    return write_report(run_dir)


def test_writes_page_and_every_plot_as_png_and_svg(report):
    assert report.name == "report.html"
    for spec in PLOTS:
        png, svg = report.parent / "plots" / f"{spec.name}.png", report.parent / "plots" / f"{spec.name}.svg"
        assert png.read_bytes()[:8] == PNG_MAGIC, spec.name
        assert b"<svg" in svg.read_bytes()[:2000], spec.name


def test_page_is_self_contained(report):
    html = report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page must not load anything over the network"
    assert "<link" not in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == len(PLOTS) and all(src.startswith("data:image/svg+xml;base64,") for src in images)


def test_table_lists_every_row_with_its_status(report):
    html = report.read_text()
    rows = [json.loads(line) for line in (report.parent / "results.jsonl").read_text().splitlines()]
    skips = {(r["backend"], r["status"], r["reason"]) for r in rows if r["status"] in SKIPPED}
    assert html.count('<tr class="row-') == sum(r["status"] not in SKIPPED for r in rows) + len(skips)
    for status in {r["status"] for r in rows}:
        assert f'class="row-{status}"' in html


def test_failed_and_skipped_points_are_listed_with_reasons(report):
    html = report.read_text()
    failures = html[html.index("Failed and skipped points"):html.index("All points")]
    for reason in ("cudaErrorIllegalAddress", "CUDA out of memory", "rel_l2_err", "nvcc not found", "not supported"):
        assert reason in failures, reason
    assert failures.index("wrong") < failures.index("unavailable")  # failures before skips


def test_environment_header(report):
    header = report.read_text().split("<h2>", 1)[0]
    for fact in ("NVIDIA H100 80GB HBM3", "580.65", "2.11.0+cu130", "0123456789ab", "dirty tree", "sw_power_cap",
                 "throttling seen", "3000"):
        assert fact in header, fact


def test_sparsity_plot_is_skipped_without_sparse_points(tmp_path):
    meta, frame = load_run(make_run(tmp_path / "dense", seqlens=(1024,), sparsity=False))
    df = prepare(frame)
    assert sparsity(df, meta, backend_colors(df["backend"])) is None


def test_run_without_timed_points_gets_notes_instead_of_plots(tmp_path):
    run_dir = make_run(tmp_path / "broken", seqlens=(1024,), sparsity=False)
    edit_rows(run_dir, lambda row: {**row, "status": "error", "reason": "boom", "t_p50_us": None, "rel_l2_err": None})
    html = write_report(run_dir).read_text()
    assert "<img" not in html and html.count("Skipped:") == len(PLOTS)
    assert not list((run_dir / "plots").glob("*.png"))


def test_empty_run_still_renders(tmp_path):
    (tmp_path / "results.jsonl").write_text("")
    assert "0 rows" in write_report(tmp_path).read_text()


def test_passes_table_puts_forward_and_backward_side_by_side():
    import pandas as pd

    from fftbench.report.passes import pass_rows
    from fftbench.results import COLUMNS, complete_row

    times = {("torch_fft", "fwd"): 100.0, ("torch_fft", "bwd"): 250.0, ("torch_fft", "fwd_bwd"): 400.0,
             ("monarch_cuda", "fwd"): 20.0, ("monarch_cuda", "bwd"): 30.0, ("monarch_cuda", "fwd_bwd"): 50.0}
    rows = [complete_row({"backend": b, "batch": 2, "channels": 3, "seqlen": 4096, "kernel_len": 4096, "mode": "causal",
                          "dtype": "fp16", "gated": False, "freq_sparsity": 0.0, "pass": p, "status": "ok",
                          "is_baseline": b == "torch_fft", "t_p50_us": t, "t_p20_us": t, "t_p80_us": t,
                          "du_rel_l2_err": {"bwd": 1e-3, "fwd_bwd": 5e-3}.get(p), "dk_rel_l2_err": 2e-7 if p != "fwd" else None})
            for (b, p), t in times.items()]
    table = {r["backend"]: r for r in pass_rows(prepare(pd.DataFrame(rows, columns=list(COLUMNS))))}
    assert set(table) == {"torch_fft", "monarch_cuda"} and table["monarch_cuda"]["point"] == "2x3x4096 fp16 causal"
    assert (table["monarch_cuda"]["fwd"], table["monarch_cuda"]["bwd"], table["monarch_cuda"]["fwd_bwd"]) == ("20", "30", "50")
    assert table["monarch_cuda"]["step_over_fwd"] == "2.50" and table["torch_fft"]["step_over_fwd"] == "4.00"
    assert table["monarch_cuda"]["speedup"] == "8.00" and table["torch_fft"]["speedup"] == ""
    assert table["monarch_cuda"]["errors"] == "du 1.0e-03 · dk 2.0e-07"  # the bwd row's, not fwd_bwd's
    forward_only = [{**r, "pass": "fwd"} for r in rows[:1]]
    assert pass_rows(prepare(pd.DataFrame(forward_only, columns=list(COLUMNS)))) == []
