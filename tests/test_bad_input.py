"""Every bad input a new user can give is one line on stderr, `fftbench: error: ...`, exit code 2,
and nothing runs: bad flags, a bad --gate, malformed suite files, and a --resume whose flags
disagree with the run being resumed."""
from __future__ import annotations

import json

import pytest
import torch

from fftbench.cli import main
from fftbench.results import RUN_FILE

SUITE = """
description = "tiny"
backends = ["torch_fft"]
[axes]
seqlen = [32]
dtype = ["fp32"]
[shape]
elements = 64
"""


def _one_line_error(argv, capsys) -> str:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("fftbench: error: ")
    return lines[0]


@pytest.mark.parametrize("argv, needle", [
    (["--seqlens", "0"], "--seqlens: '0'"),
    (["--seqlens", "abc"], "--seqlens: 'abc'"),  # echoed as given, not upper-cased
    (["--point-timeout", "-1"], "--point-timeout -1"),
    (["--point-timeout", "0"], "--point-timeout 0"),
    (["--point-timeout", "nan"], "--point-timeout nan"),
    (["--profile", "1K,zz"], "--profile: 'zz'"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["compare", "a", "b", "--max-slowdown", "-1"], "max_slowdown: expected a non-negative number"),
])
def test_bad_flag(argv, needle, capsys, tmp_path):
    out = tmp_path / "run"
    assert needle in _one_line_error([*argv, "--out", str(out)] if argv[0] != "compare" else argv, capsys)
    assert not out.exists(), "nothing may run on bad input"


def test_gate_baseline_is_checked_before_the_sweep(tmp_path, capsys):
    out = tmp_path / "run"
    line = _one_line_error(["--suite", "smoke", "--gate", str(tmp_path / "nonexistent"), "--out", str(out)], capsys)
    assert "--gate" in line and "nonexistent" in line
    assert not out.exists(), "the sweep must not start when the gate cannot be read"


@pytest.mark.parametrize("edit, needle", [
    (('elements = 64', 'elements = "lots"'), "[shape] elements: expected a positive integer, got 'lots'"),
    (('backends = ["torch_fft"]', 'backends = 5'), "backends: expected \"all\" or a non-empty list of backend names, got 5"),
    (('[shape]', '[timing]\nmax_time_s = "slow"\n[shape]'), "[timing] max_time_s: expected a non-negative number, got 'slow'"),
    (('[shape]', '[gate]\nslower_threshold = 0.05\n[shape]'), "[gate]: unknown key(s) slower_threshold"),
    (('[shape]', '[gate]\ntiming_fatal = "no"\n[shape]'), "[gate] timing_fatal: expected true or false, got 'no'"),
    (('elements = 64', 'elements = 64\nmax_bach = 2'), "[shape]: unknown key(s) max_bach"),
    (('dtype = ["fp32"]', 'dtype = "fp32"'), "[axes] dtype: expected a non-empty list, got 'fp32'"),
    (('seqlen = [32]', 'seqlen = [32, "4Q"]'), "[axes] seqlen #2: '4Q'"),
    (('[shape]', '[[exclude]]\nmode = "sideways"\n[shape]'), "[exclude #1] mode: expected one of circular, causal"),
    (('[shape]', '[budgets]\nfp16 = -1\n[shape]'), "[budgets] fp16: expected a positive number, got -1"),
])
def test_malformed_suite_names_file_table_and_field(edit, needle, tmp_path, capsys):
    suite = tmp_path / "mine.toml"
    suite.write_text(SUITE.replace(*edit))
    line = _one_line_error(["--suite", str(suite), "--out", str(tmp_path / "run")], capsys)
    assert "suite mine.toml: " in line and needle in line, line


def _finished_run(tmp_path, **selection) -> str:
    """A run directory as a killed run leaves it: run.json with its selection, no rows yet."""
    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    meta = {"run_id": "killed", "suite": "smoke", "argv": [], "git": {"sha": None, "dirty": False}, "env": {},
            "selection": {"suite": "smoke", "backends": ["torch_fft"], "axes": {"seqlen": [256]}, "device": "cpu",
                          **selection}}
    (run_dir / RUN_FILE).write_text(json.dumps(meta))
    return str(run_dir)


@pytest.mark.parametrize("flags, selection, needle", [
    (["--suite", "seqlen"], {}, "--suite seqlen: the run in"),
    (["--backends", "monarch_twin"], {}, "--backends monarch_twin: the run in"),
    (["--seqlens", "1K"], {}, "--seqlens 1K: the run in"),
    (["--dtypes", "fp16"], {}, "--dtypes fp16: the run in"),
    (["--passes", "bwd"], {}, "--passes bwd: the run in"),
    (["--cpu"], {"device": "cuda"}, "--cpu: the run in"),
    ([], {"device": "cuda"}, "that run ran on a GPU"),
])
def test_resume_refuses_flags_that_disagree_with_the_run(flags, selection, needle, tmp_path, capsys):
    if selection.get("device") == "cuda" and not flags and torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    run_dir = _finished_run(tmp_path, **selection)
    assert needle in _one_line_error(["--resume", run_dir, *flags], capsys)



def test_out_on_an_existing_run_is_refused_instead_of_silently_resuming(tmp_path):
    """A second run with the same --out would skip every point the first one finished (and mix
    the two runs' rows): it is refused in one line that names --resume."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, str(repo / "run_bench.py"), "--suite", "smoke", "--cpu", "--backends", "torch_fft",
           "--seqlens", "256", "--dtypes", "fp32", "--modes", "causal", "--no-report", "--out", str(tmp_path / "run")]
    assert subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600).returncode == 0
    again = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "--resume" in again.stderr and len(again.stderr.strip().splitlines()) == 1
