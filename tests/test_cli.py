"""The command line as a user meets it: --list, bad input as one line with exit code 2, and a real
CPU sweep of the smoke suite end to end."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from fftbench.cli import main
from fftbench.results import load_run

REPO = Path(__file__).resolve().parent.parent


def test_list_shows_suites_and_backend_availability(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "seqlen" in out and "smoke" in out and "torch_fft" in out
    states = {line.split()[0]: line.rsplit(" — ", 1)[1] for line in out.splitlines() if " — " in line}
    assert states["torch_fft"] == "available"  # runs anywhere
    if not torch.cuda.is_available():
        assert states["monarch_cuda"] == "unavailable: needs a CUDA GPU; none is visible"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--suite", "nope"], "unknown suite"),
        (["--suite", "smoke", "--backends", "warp_drive"], "unknown backend"),
        (["--suite", "smoke", "--dtypes", "fp8"], "--dtypes"),
        (["--suite", "smoke", "--modes", "sideways"], "--modes"),
        (["--suite", "smoke", "--passes", "sideways"], "--passes"),
        (["--suite", "smoke", "--seqlens", "4Q"], "seqlen"),
        (["--suite", "smoke", "--backends", "torch_fft", "--out", "/proc/fftbench-cannot-write"], "cannot write"),
        (["--suite", "smoke", "--backends", "torch_fft", "--resume", "/nonexistent"], "--resume"),
        (["report", "/nonexistent"], "usage: fftbench report"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_family_name_selects_its_backends():
    from fftbench.cli import _select_backends
    from fftbench.suites import load_suite

    names = [b.name for b in _select_backends(load_suite("smoke"), ["torch", "torch_fft"])]
    assert names == ["torch_fft", "torch_fft_compile"]


def test_wrong_flag_is_exit_2():
    proc = subprocess.run([sys.executable, "run_bench.py", "--no-such-flag"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr


def test_smoke_suite_end_to_end_on_cpu(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "run_bench.py", "--suite", "smoke", "--cpu", "--out", str(out),
                           "--backends", "torch_fft,monarch_twin", "--no-report"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "smoke: 16 points × 2 backends = 32 to run" in proc.stdout
    assert "fraction of the HBM floor" in proc.stdout  # the summary table's legend
    meta, frame = load_run(out)
    assert meta["git"]["sha"] and meta["env"]["cpu"] and meta["calibration"]["copy_gbps"] > 0
    assert len(frame) == 32 and set(frame["backend"]) == {"torch_fft", "monarch_twin"}
    failed = frame[~frame["status"].isin(["ok", "unsupported"])]
    assert failed.empty, failed[["backend", "status", "reason"]].to_string()
    assert frame[frame["status"] == "unsupported"]["reason"].str.startswith("dtype").all()
    ok = frame[frame["status"] == "ok"]
    assert len(ok[ok["backend"] == "torch_fft"]) == 16 and len(ok[ok["backend"] == "monarch_twin"]) >= 8
    assert (ok["rel_l2_err"] < ok["err_budget"]).all() and (ok["t_p50_us"] > 0).all()
    assert (ok["frac_hbm_floor"] > 0).all() and ok["n_samples"].min() >= 5
    assert (out / "results.csv").exists() and len(pd.read_parquet(out / "results.parquet")) == 32


def test_backward_passes_end_to_end_on_cpu(tmp_path):
    """bwd and fwd_bwd rows through the worker: every gradient checked, errors per tensor, the
    passes side by side in the report."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "run_bench.py", "--suite", "smoke", "--cpu", "--out", str(out),
                           "--backends", "torch_fft,monarch_twin", "--seqlens", "256",
                           "--dtypes", "fp16", "--passes", "fwd,bwd,fwd_bwd"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, frame = load_run(out)
    assert len(frame) == 2 * 4 * 3  # backends × (mode × gated) × passes
    ok = frame[frame["status"] == "ok"]
    assert len(ok) == len(frame), frame[frame["status"] != "ok"][["backend", "status", "reason"]].to_string()
    grads = ok[ok["pass"] != "fwd"]
    assert grads["du_rel_l2_err"].notna().all() and grads["dk_rel_l2_err"].notna().all()
    assert (grads["dw_rel_l2_err"].notna() == grads["gated"]).all()
    assert (ok[ok["pass"] == "fwd_bwd"]["y_rel_l2_err"].notna()).all() and grads[grads["pass"] == "bwd"]["y_rel_l2_err"].isna().all()
    worst = grads[["du_rel_l2_err", "dk_rel_l2_err", "dv_rel_l2_err", "dw_rel_l2_err", "y_rel_l2_err"]].max(axis=1)
    assert (grads["rel_l2_err"] == worst).all() and (grads["rel_l2_err"] < grads["err_budget"]).all()
    assert (ok["t_p50_us"] > 0).all()
    page = (out / "report.html").read_text()
    assert 'id="passes"' in page and "step / fwd" in page
    # the passes are part of the run's selection: --resume DIR alone keeps them (nothing left to run)
    meta, _ = load_run(out)
    assert meta["selection"]["axes"]["pass"] == ["fwd", "bwd", "fwd_bwd"]
    again = subprocess.run([sys.executable, "run_bench.py", "--resume", str(out), "--no-report"],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "24 already done" in again.stdout and len(load_run(out)[1]) == 24
