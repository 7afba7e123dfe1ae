"""Fault isolation: a backend that raises, aborts, hangs, runs out of memory or returns NaN costs
only its own point; a killed run resumes to exactly the rows of an uninterrupted one."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fftbench.results import KEY_COLUMNS, read_rows

REPO = Path(__file__).resolve().parent.parent
SUITE = """
description = "fault-injection suite"
backends = ["torch_fft", "test_raise", "test_abort", "test_hang", "test_oom", "test_nan"]
[axes]
seqlen = [32, 64, 128]
dtype = ["fp32"]
mode = ["causal"]
[shape]
elements = 256
channels = 2
max_batch = 2
[timing]
min_samples = 3
min_time_s = 0.0
max_time_s = 0.05
"""


def run_bench(tmp_path, *args, timeout=240, **popen):
    env = dict(os.environ, FFTBENCH_PLUGINS="tests.plugins.faulty_backends", PYTHONPATH=str(REPO))
    cmd = [sys.executable, str(REPO / "run_bench.py"), "--no-report", *map(str, args)]
    if popen:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def rows_by(path):
    return {(r["backend"], r["seqlen"]): r for r in read_rows(path / "results.jsonl")}


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_each_fault_costs_only_its_point(tmp_path, device):
    suite = tmp_path / "faults.toml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    cpu_flag = ["--cpu"] if device == "cpu" else []
    proc = run_bench(tmp_path, "--suite", suite, "--out", out, *cpu_flag, "--point-timeout", 20)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = rows_by(out)
    assert len(rows) == 6 * 3
    expected = {"test_raise": "error", "test_abort": "error", "test_hang": "timeout", "test_oom": "oom", "test_nan": "wrong"}
    for backend, status in expected.items():
        assert rows[(backend, 64)]["status"] == status, rows[(backend, 64)]
        assert rows[(backend, 32)]["status"] == rows[(backend, 128)]["status"] == "ok"
    assert "SIGABRT" in rows[("test_abort", 64)]["reason"]
    assert "non-finite" in rows[("test_nan", 64)]["reason"] and rows[("test_nan", 64)]["t_p50_us"] is None
    assert all(r["status"] == "ok" for (b, _), r in rows.items() if b == "torch_fft")


def test_a_wrong_gradient_is_wrong_and_a_forward_only_backend_says_why(tmp_path):
    suite = tmp_path / "grads.toml"
    suite.write_text(SUITE.replace('"test_raise", "test_abort", "test_hang", "test_oom", "test_nan"', '"test_wrong_dk", "test_raise"')
                     .replace("seqlen = [32, 64, 128]", 'seqlen = [32]\npass = ["fwd", "bwd", "fwd_bwd"]'))
    out = tmp_path / "run"
    proc = run_bench(tmp_path, "--suite", suite, "--out", out, "--cpu")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {(r["backend"], r["pass"]): r for r in read_rows(out / "results.jsonl")}
    assert len(rows) == 3 * 3 and all(rows[("torch_fft", p)]["status"] == "ok" for p in ("fwd", "bwd", "fwd_bwd"))
    assert rows[("test_wrong_dk", "fwd")]["status"] == "ok"
    for p in ("bwd", "fwd_bwd"):
        row = rows[("test_wrong_dk", p)]
        assert row["status"] == "wrong" and "of dk" in row["reason"] and row["t_p50_us"] is None
        assert row["dk_rel_l2_err"] > 0.09 and row["du_rel_l2_err"] < 1e-5 and row["err_ratio"] > 1e3
    for p in ("bwd", "fwd_bwd"):
        assert rows[("test_raise", p)]["status"] == "unsupported"
        assert rows[("test_raise", p)]["reason"] == f"pass {p} not supported (runs fwd)"


def test_kill_and_resume_gives_exactly_the_uninterrupted_rows(tmp_path):
    suite = tmp_path / "resume.toml"
    suite.write_text(SUITE.replace('backends = [', 'backends = ["torch_fft_compile", ').replace(
        '"test_abort", "test_hang", "test_oom", ', ""))
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert run_bench(tmp_path, "--suite", suite, "--out", full, "--cpu").returncode == 0
    proc = run_bench(tmp_path, "--suite", suite, "--out", killed, "--cpu", popen=True)
    results = killed / "results.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline and (not results.exists() or len(results.read_text().splitlines()) < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(list(read_rows(results)))
    assert 2 <= partial < 12, "the kill should land mid-sweep"
    resumed = run_bench(tmp_path, "--suite", suite, "--resume", killed, "--cpu")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    key = lambda r: tuple(r[c] for c in KEY_COLUMNS if c != "suite")
    got = [key(r) for r in read_rows(results)]
    assert len(got) == len(set(got)), "duplicated rows after resume"
    assert sorted(got) == sorted(key(r) for r in read_rows(full / "results.jsonl"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fault_is_an_error_row_and_the_sweep_goes_on(tmp_path):
    suite = tmp_path / "cuda_fault.toml"
    suite.write_text(SUITE.replace('backends = [', 'backends = ["test_cuda_oob", ').replace('"test_hang", ', ""))
    out = tmp_path / "run"
    proc = run_bench(tmp_path, "--suite", suite, "--out", out, "--point-timeout", 60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = rows_by(out)
    assert rows[("test_cuda_oob", 64)]["status"] == "error"
    assert rows[("test_cuda_oob", 32)]["status"] == rows[("test_cuda_oob", 128)]["status"] == "ok"
    assert all(r["status"] == "ok" for (b, _), r in rows.items() if b == "torch_fft")
