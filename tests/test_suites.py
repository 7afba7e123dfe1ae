import re

import pytest

from fftbench.suites import SUITES_DIR, SuiteError, Thresholds, available_suites, load_suite, parse_seqlen


def test_every_shipped_suite_loads_and_has_points():
    assert {"seqlen", "precision", "sparsity", "gated", "smoke"} <= set(available_suites())
    for name in available_suites():
        suite = load_suite(name)
        assert suite.points() and suite.points(cpu_sized=True)


def test_seqlen_suite_shapes_keep_work_constant():
    pts = {(p.seqlen, p.mode): p for p in load_suite("seqlen").points()}
    assert min(n for n, _ in pts) == 256 and max(n for n, _ in pts) == 4 << 20
    assert (pts[(8192, "causal")].batch, pts[(8192, "causal")].channels) == (64, 768)
    assert (pts[(256, "causal")].batch, pts[(16384, "causal")].batch) == (64, 32)
    assert (pts[(1 << 20, "causal")].batch, pts[(1 << 20, "causal")].channels) == (1, 768)
    assert pts[(4 << 20, "causal")].channels == 64
    cpu = load_suite("seqlen").points(cpu_sized=True)
    assert max(p.seqlen for p in cpu) <= 16384 and max(p.rows * p.seqlen for p in cpu) <= 131072


def test_sparsity_axes_make_partial_and_sparse_problems():
    pts = load_suite("sparsity").points()
    assert any(p.is_partial and p.K == p.seqlen // 4 for p in pts)
    assert any(p.freq_sparsity == 0.75 for p in pts)


def test_overrides_replace_axes():
    pts = load_suite("seqlen").points(overrides={"seqlen": [4096], "dtype": ["bf16"]})
    assert {(p.seqlen, p.dtype) for p in pts} == {(4096, "bf16")}


def test_parse_seqlen():
    assert parse_seqlen("4K") == 4096 and parse_seqlen("1m") == 1 << 20 and parse_seqlen(300) == 300
    with pytest.raises(SuiteError):
        parse_seqlen("4Q")


def test_bad_suites_give_one_line_errors(tmp_path):
    with pytest.raises(SuiteError, match="unknown suite"):
        load_suite("nope")
    cases = {
        "broken.toml": "axes = [",
        "noaxes.toml": "[shape]\nelements = 10\n",
        "extra.toml": "[axes]\nseqlen=[16]\n[shape]\nelements=64\n[bogus]\n",
        "badtiming.toml": "[axes]\nseqlen=[16]\n[shape]\nelements=64\n[timing]\nwarp=1\n",
        "badvalue.toml": "[axes]\nseqlen=[16]\ndtype=['fp8']\n[shape]\nelements=64\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SuiteError) as err:
            load_suite(str(path)).points()
        assert "\n" not in str(err.value).strip()


def test_longrange_suite_has_the_issue_points_and_one_partial_point():
    pts = load_suite("longrange").points()
    assert {p.seqlen for p in pts} == {1 << 16, 1 << 18, 1 << 20, 1 << 22}
    assert {(p.dtype, p.mode, p.gated) for p in pts if p.seqlen == 1 << 20 and not p.is_partial} == {
        (d, m, g) for d in ("fp16", "bf16") for m in ("causal", "circular") for g in (False, True)}
    partial = [p for p in pts if p.is_partial]
    assert [(p.seqlen, p.K, p.dtype, p.mode, p.gated) for p in partial] == [(1 << 20, 1 << 16, "fp16", "causal", False)]
    assert len(pts) == 33


def test_training_suite_sweeps_the_passes():
    suite = load_suite("training")
    pts = suite.points()
    assert {p.pass_ for p in pts} == {"fwd", "bwd", "fwd_bwd"} and {p.dtype for p in pts} == {"fp16", "bf16"}
    assert {p.seqlen for p in pts} == {1 << e for e in range(10, 16)} and {p.mode for p in pts} == {"causal"}
    assert len(pts) == 6 * 2 * 3 and {"torch_fft", "monarch_cuda"} <= set(suite.backends)
    cpu = suite.points(cpu_sized=True)
    assert max(p.rows * p.seqlen for p in cpu) <= 16384 and 8192 in {p.seqlen for p in cpu}


def test_suites_without_a_pass_axis_stay_forward():
    assert {p.pass_ for name in available_suites() if name != "training" for p in load_suite(name).points()} == {"fwd"}
    pts = load_suite("smoke").points(overrides={"pass": ["bwd"]})
    assert pts and {p.pass_ for p in pts} == {"bwd"}


def test_unknown_pass_is_a_one_line_suite_error(tmp_path):
    path = tmp_path / "badpass.toml"
    path.write_text("[axes]\nseqlen=[16]\npass=['sideways']\n[shape]\nelements=64\n")
    # refused when the suite is loaded, like every other axis (fftbench.suites), naming the field
    with pytest.raises(SuiteError, match=r"\[axes\] pass #1: expected one of fwd, bwd, fwd_bwd, got 'sideways'") as err:
        load_suite(str(path))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", available_suites())
def test_every_suite_file_builds_its_gate_thresholds(name):
    """What `--suite NAME --gate BASELINE` does with the suite's [gate] table (an unknown key
    there made every gated seqlen run exit 2)."""
    suite = load_suite(name)
    thresholds = Thresholds.merged(suite.gate)
    assert all(getattr(thresholds, key) == value for key, value in suite.gate.items())


def test_suite_files_cite_only_files_that_exist():
    repo = SUITES_DIR.parent
    for path in SUITES_DIR.glob("*.toml"):
        for cited in re.findall(r"reports/[\w./-]+", path.read_text()):
            assert (repo / cited.rstrip(".")).exists(), f"{path.name} cites {cited}"


def test_cpu_default_run_declares_its_duration():
    assert load_suite("seqlen").cpu["minutes"] > 0
