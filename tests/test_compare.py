"""The regression gate on synthetic runs: what must fail CI, what must not, and bad input."""
from __future__ import annotations

import json

import pytest

from fftbench.compare import Interval, Thresholds, compare_runs, main, timing_verdict
from tests.fixtures.synthetic_runs import edit_rows, make_run

SMALL = dict(seqlens=(1024, 16384), sparsity=False)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "baseline", seed=1, **SMALL)


def _current(tmp_path, seed=2, **kwargs):
    return make_run(tmp_path / "current", seed=seed, **{**SMALL, **kwargs})


def test_rerun_differing_only_by_noise_passes(baseline, tmp_path, capsys):
    assert main([str(baseline), str(_current(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "### Regressions" not in out


def test_ten_percent_slowdown_of_one_backend_fails(baseline, tmp_path, capsys):
    current = _current(tmp_path, slowdown={"monarch_cuda": 1.10})
    assert main([str(baseline), str(current)]) == 1
    result = compare_runs(baseline, current)
    assert result.regressions and {p.backend for p in result.regressions} == {"monarch_cuda"}
    assert all(p.verdict == "slower" and 0.07 < p.p50_change < 0.13 for p in result.regressions)
    # every timed monarch_cuda point is caught, and the table lists the worst first
    timed = [p for p in result.points if p.backend == "monarch_cuda" and p.verdict != "n/a"]
    assert len(result.regressions) == len(timed)
    changes = [p.p50_change for p in result.regressions]
    assert changes == sorted(changes, reverse=True)
    out = capsys.readouterr().out
    assert out.index("### Regressions") < out.index("| monarch_cuda |")


def test_small_slowdown_below_threshold_does_not_fail(baseline, tmp_path):
    result = compare_runs(baseline, _current(tmp_path, slowdown={"monarch_cuda": 1.03}))
    assert result.exit_code == 0
    assert any(p.verdict == "slower" for p in result.points)  # seen, reported, not fatal


def test_timing_nonfatal_still_reports_the_slowdown(baseline, tmp_path, capsys):
    current = _current(tmp_path, slowdown={"monarch_cuda": 1.10})
    assert main([str(baseline), str(current), "--timing-nonfatal"]) == 0
    out = capsys.readouterr().out
    assert "### Other changes" in out and "slower" in out


def test_newly_wrong_point_fails(baseline, tmp_path, capsys):
    current = _current(tmp_path, failures=[("wrong", ("monarch_cuda", 16384, "fp16", "causal"))])
    assert main([str(baseline), str(current), "--timing-nonfatal"]) == 1
    (regression,) = compare_runs(baseline, current).regressions
    assert regression.status == ("ok", "wrong") and regression.failures[0].startswith("now wrong")
    assert "now wrong" in capsys.readouterr().out


def test_error_over_budget_fails_even_when_status_says_ok(baseline, tmp_path):
    current = _current(tmp_path)

    def inflate(row):
        if (row["backend"], row["seqlen"], row["dtype"], row["mode"]) == ("torch_fft", 1024, "fp32", "causal"):
            row["rel_l2_err"] = row["err_budget"] * 3
        return row

    edit_rows(current, inflate)
    (regression,) = compare_runs(baseline, current).regressions
    assert "exceeds budget" in regression.failures[0]


def _scale_error(target, factor):
    def scale(row):
        if (row["backend"], row["seqlen"], row["dtype"], row["mode"]) == target:
            row["rel_l2_err"] *= factor
        return row
    return scale


def test_error_grown_past_twice_fails_within_the_budget(baseline, tmp_path, capsys):
    """A fused fp16 kernel 2.5× less accurate, still well inside the 2e-3 budget, fails the gate."""
    current = _current(tmp_path)
    edit_rows(current, _scale_error(("monarch_cuda", 16384, "fp16", "causal"), 2.5))
    (regression,) = compare_runs(baseline, current, {"timing_fatal": False}).regressions
    assert regression.backend == "monarch_cuda" and regression.err[1] < 2e-3
    assert regression.failures[0].startswith("accuracy: rel L2 error grew")
    assert main([str(baseline), str(current), "--timing-nonfatal"]) == 1
    assert "### Regressions" in capsys.readouterr().out


def test_error_growth_is_nonfatal_on_request_and_ignored_below_the_floor(baseline, tmp_path, capsys):
    current = _current(tmp_path)
    edit_rows(current, _scale_error(("monarch_cuda", 16384, "fp16", "causal"), 2.5))
    edit_rows(current, _scale_error(("monarch_cuda", 1024, "fp32", "causal"), 4.0))  # 1e-7 → 4e-7: noise
    assert main([str(baseline), str(current), "--timing-nonfatal", "--accuracy-nonfatal"]) == 0
    assert "accuracy: rel L2 error grew" in capsys.readouterr().out  # still reported
    fp32 = next(p for p in compare_runs(baseline, current).points if p.label.endswith("x1024 fp32 causal")
                and p.backend == "monarch_cuda")
    assert fp32.err_change > 3 and not fp32.failures


def test_error_grown_from_zero_is_a_regression(baseline, tmp_path):
    target = ("monarch_cuda", 16384, "fp16", "causal")
    base, current = make_run(tmp_path / "zero", seed=1, **SMALL), _current(tmp_path)
    edit_rows(base, _scale_error(target, 0.0))
    (regression,) = compare_runs(base, current, {"timing_fatal": False}).regressions
    assert "grew ×inf" in regression.failures[0]


def test_error_grown_just_under_twice_passes(baseline, tmp_path):
    current = _current(tmp_path)
    edit_rows(current, _scale_error(("monarch_cuda", 16384, "fp16", "causal"), 1.5))  # ≤ 1.84× with noise
    assert compare_runs(baseline, current, {"timing_fatal": False}).exit_code == 0


def test_point_that_became_unavailable_is_reported_not_fatal(baseline, tmp_path):
    current = _current(tmp_path)

    def unavailable(row):
        if row["backend"] == "triton_monarch":
            row.update(status="unavailable", reason="triton not installed", t_p50_us=None)
        return row

    edit_rows(current, unavailable)
    result = compare_runs(baseline, current)
    assert result.exit_code == 0
    assert any("now unavailable" in note for p in result.points for note in p.notes)


@pytest.mark.parametrize(
    "old, new, fails",
    [("ok", "error", True), ("unsupported", "error", True), ("error", "wrong", False), ("wrong", "ok", False)],
)
def test_status_transitions(tmp_path, old, new, fails):
    target = ("torch_fft", 1024, "fp16", "causal")

    def set_status(status):
        def change(row):
            if (row["backend"], row["seqlen"], row["dtype"], row["mode"]) == target:
                row.update(status=status, reason=f"synthetic {status}", t_p50_us=None)
                row["rel_l2_err"] = row["err_budget"] * 5 if status == "wrong" else row["rel_l2_err"]
            return row
        return change

    base, cur = make_run(tmp_path / "a", seed=1, **SMALL), make_run(tmp_path / "b", seed=2, **SMALL)
    edit_rows(base, set_status(old))
    edit_rows(cur, set_status(new))
    result = compare_runs(base, cur, {"timing_fatal": False})
    assert [p.backend for p in result.regressions] == (["torch_fft"] if fails else [])


def test_gate_thresholds_come_from_run_json_and_the_command_line_overrides_them(baseline, tmp_path):
    current = _current(tmp_path, slowdown={"monarch_cuda": 1.10}, gate={"max_slowdown": 0.25})
    assert main([str(baseline), str(current)]) == 0
    assert main([str(baseline), str(current), "--max-slowdown", "0.05"]) == 1


def test_ratio_basis_cancels_a_uniformly_slower_machine(baseline, tmp_path):
    everyone_slower = {b: 1.15 for b in ("torch_fft", "torch_fft_compile", "monarch_cuda", "triton_monarch")}
    current = _current(tmp_path, slowdown=everyone_slower)
    assert compare_runs(baseline, current).exit_code == 1
    assert compare_runs(baseline, current, {"basis": "ratio"}).exit_code == 0


def test_slowdown_explained_by_a_lower_sm_clock_is_unclear(baseline, tmp_path):
    current = _current(tmp_path, slowdown={"monarch_cuda": 1.10})
    edit_rows(current, lambda row: {**row, "sm_clock_mhz": 1800} if row["backend"] == "monarch_cuda" else row)
    result = compare_runs(baseline, current)
    assert result.exit_code == 0
    assert {p.verdict for p in result.points if p.backend == "monarch_cuda" and p.verdict != "n/a"} == {"unclear"}


@pytest.mark.parametrize(
    "old, new, verdict",
    [
        (Interval(100, 99, 101), Interval(110, 109, 111), "slower"),
        (Interval(100, 99, 101), Interval(90, 89, 91), "faster"),
        (Interval(100, 99, 101), Interval(100.5, 99.4, 101.6), "same"),
        (Interval(100, 95, 105), Interval(104, 99, 109), "unclear"),  # overlapping, medians 4% apart
        (Interval(100, 99, 101), Interval(101.3, 101.2, 101.4), "unclear"),  # apart, but gap < min_gap
    ],
)
def test_timing_verdict(old, new, verdict):
    assert timing_verdict(old, new, Thresholds()) == verdict


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fftbench: error:")
    return lines[0]


def test_unknown_baseline_is_bad_input(tmp_path, capsys):
    current = _current(tmp_path)
    assert main([str(tmp_path / "no-such-run"), str(current)]) == 2
    assert "baseline" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "results, run_json",
    [
        ("{not json\n", None),
        ('{"status": "ok"}\n', None),  # JSON, but not a results row
        ("", None),  # no rows at all
        (None, "{broken"),  # corrupt run.json beside good rows
    ],
)
def test_corrupt_baseline_is_bad_input(baseline, tmp_path, capsys, results, run_json):
    bad = tmp_path / "bad"
    bad.mkdir()
    good_rows = (baseline / "results.jsonl").read_text()
    (bad / "results.jsonl").write_text(good_rows if results is None else results)
    if run_json is not None:
        (bad / "run.json").write_text(run_json)
    assert main([str(bad), str(baseline)]) == 2
    assert "baseline" in _one_line_error(capsys)


def test_unknown_gate_threshold_is_bad_input(baseline, tmp_path, capsys):
    current = _current(tmp_path, gate={"max_slowdwn": 0.1})
    assert main([str(baseline), str(current)]) == 2
    assert "max_slowdwn" in _one_line_error(capsys)


def test_results_file_path_works_and_summary_file_is_written(baseline, tmp_path):
    current = _current(tmp_path)
    summary = tmp_path / "summary.md"
    assert main([str(baseline / "results.jsonl"), str(current / "results.jsonl"), "--summary", str(summary)]) == 0
    assert summary.read_text().startswith("## fftbench compare")


def test_gpu_change_is_warned_about(baseline, tmp_path):
    current = _current(tmp_path)
    meta = json.loads((current / "run.json").read_text())
    meta["env"]["gpu"] = "NVIDIA H200"
    (current / "run.json").write_text(json.dumps(meta))
    assert any("gpu differs" in w for w in compare_runs(baseline, current).warnings)
