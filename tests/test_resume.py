"""A run killed with kill -9 leaves no traceback behind (its worker ends quietly), and
`--resume DIR` alone, with no other flag, completes it to exactly the rows of the selection: the
suite (a file outside suites/ here), the backends and the device come from the run's run.json.
Backends unavailable on this machine are said once each, not once per point."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from fftbench.results import KEY_COLUMNS, read_rows

REPO = Path(__file__).resolve().parent.parent
SUITE = """
description = "resume suite"
backends = ["torch_fft", "monarch_cuda", "triton_monarch"]
[axes]
seqlen = [32, 64, 128, 256]
dtype = ["fp32", "fp16"]
mode = ["causal", "circular"]
[shape]
elements = 512
channels = 2
max_batch = 2
[timing]
min_samples = 3
min_time_s = 0.2
max_time_s = 0.3
"""
N_POINTS = 4 * 2 * 2


def _bench(*args, popen=False):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    cmd = [sys.executable, str(REPO / "run_bench.py"), "--no-report", *map(str, args)]
    if popen:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def _timed_rows(results: Path) -> int:
    return sum(r["backend"] == "torch_fft" for r in read_rows(results)) if results.exists() else 0


def test_kill_9_is_quiet_and_resume_alone_completes_the_run(tmp_path):
    suite = tmp_path / "resume.toml"
    suite.write_text(SUITE)
    run_dir = tmp_path / "run"
    proc = _bench("--suite", suite, "--cpu", "--out", run_dir, popen=True)
    results = run_dir / "results.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and _timed_rows(results) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=120)  # EOF only once the orphaned worker has ended too
    assert "Traceback" not in err and "BrokenPipeError" not in err, err[-3000:]
    assert 2 <= _timed_rows(results) < N_POINTS, "the kill should land mid-sweep"
    assert out.count("skip monarch_cuda: ") == 1 and "unavailable" not in err
    assert "TRITON_INTERPRET=1" in out.split("skip triton_monarch: ", 1)[1].splitlines()[0]

    resumed = _bench("--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    to_run, done = map(int, re.search(rf"{N_POINTS} points × 1 backends = (\d+) to run \((\d+) already done, resumed\)",
                                      resumed.stdout).groups())
    assert to_run + done == N_POINTS and to_run > 0, resumed.stdout
    keys = [tuple(r[c] for c in KEY_COLUMNS) for r in read_rows(results)]
    assert len(keys) == len(set(keys)), "duplicated rows after resume"
    assert len(keys) == 3 * N_POINTS
    assert {r["status"] for r in read_rows(results) if r["backend"] != "torch_fft"} == {"unavailable"}


def test_a_run_json_from_before_selections_resumes_from_its_argv(tmp_path):
    """run.json files written before "selection" existed (e.g. reports/baselines/h100-longrange)
    resume from their suite, argv and cpu_sized."""
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    argv = ["--suite", "smoke", "--cpu", "--backends", "torch_fft", "--seqlens", "256", "--dtypes", "fp32",
            "--modes", "causal", "--out", str(run_dir)]
    meta = {"run_id": "old", "suite": "smoke", "argv": argv, "cpu_sized": True, "git": {"sha": "0" * 40, "dirty": False},
            "env": {}, "calibration": {}}
    (run_dir / "run.json").write_text(json.dumps(meta))
    resumed = _bench("--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = list(read_rows(run_dir / "results.jsonl"))
    assert {(r["backend"], r["seqlen"], r["dtype"], r["mode"]) for r in rows} == {("torch_fft", 256, "fp32", "causal")}
    assert sorted(r["gated"] for r in rows) == [False, True] and {r["status"] for r in rows} == {"ok"}


def test_redo_measures_a_backend_again_and_keeps_its_old_rows(tmp_path):
    """After a kernel change, `--resume DIR --redo B` moves B's rows to superseded-results.jsonl
    and measures them again; the other backends' rows stay as they were."""
    run_dir = tmp_path / "run"
    axes = ["--suite", "smoke", "--cpu", "--backends", "torch_fft,monarch_twin", "--seqlens", "256",
            "--dtypes", "fp16", "--modes", "causal"]
    first = _bench(*axes, "--out", run_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    before = list(read_rows(run_dir / "results.jsonl"))
    assert {r["backend"] for r in before} == {"torch_fft", "monarch_twin"}

    redone = _bench("--resume", run_dir, "--redo", "monarch_twin")
    assert redone.returncode == 0, redone.stderr[-3000:]
    after = list(read_rows(run_dir / "results.jsonl"))
    old = list(read_rows(run_dir / "superseded-results.jsonl"))
    twin_before = [r for r in before if r["backend"] == "monarch_twin"]
    assert old == twin_before
    assert [r for r in after if r["backend"] == "torch_fft"] == [r for r in before if r["backend"] == "torch_fft"]
    twin_after = [r for r in after if r["backend"] == "monarch_twin"]
    assert len(twin_after) == len(twin_before) and {r["status"] for r in twin_after} == {"ok"}
    assert {r["t_p50_us"] for r in twin_after} != {r["t_p50_us"] for r in twin_before}, "measured again"
    redone_entry = json.loads((run_dir / "run.json").read_text())["redone"][0]
    assert redone_entry["backends"] == ["monarch_twin"]
    assert {r["git_sha"] for r in twin_after} == {redone_entry["git"]["sha"]}


def test_resumed_rows_name_the_commit_that_measured_them(tmp_path):
    """A run resumed at another commit: its new rows carry that commit, its old rows keep theirs."""
    run_dir = tmp_path / "run"
    axes = ["--suite", "smoke", "--cpu", "--backends", "torch_fft,monarch_twin", "--seqlens", "256",
            "--dtypes", "fp32", "--modes", "causal"]
    assert _bench(*axes, "--out", run_dir).returncode == 0
    rows = [r for r in read_rows(run_dir / "results.jsonl") if r["backend"] == "torch_fft"]
    (run_dir / "results.jsonl").write_text("".join(json.dumps({**r, "git_sha": "0" * 40}) + "\n" for r in rows))
    assert _bench("--resume", run_dir).returncode == 0
    shas = {r["backend"]: r["git_sha"] for r in read_rows(run_dir / "results.jsonl")}
    assert shas["torch_fft"] == "0" * 40 and shas["monarch_twin"] != "0" * 40


def test_redo_refuses_a_backend_the_run_does_not_measure_and_needs_resume(tmp_path):
    run_dir = tmp_path / "run"
    first = _bench("--suite", "smoke", "--cpu", "--backends", "torch_fft", "--seqlens", "256", "--dtypes", "fp32",
                   "--modes", "circular", "--out", run_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    wrong = _bench("--resume", run_dir, "--redo", "monarch_twin")
    assert wrong.returncode == 2 and "measures torch_fft" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    alone = _bench("--suite", "smoke", "--cpu", "--redo", "torch_fft")
    assert alone.returncode == 2 and "needs --resume" in alone.stderr
    assert not (run_dir / "superseded-results.jsonl").exists()
