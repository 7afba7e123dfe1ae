"""Parsing a real Nsight Compute export (captured on the project's H100: torch_fft, 8×768×4K fp16
causal, `ncu --csv --page raw` with fftbench.profile.NCU_METRICS) and the derived figures."""
import json
from pathlib import Path

import pytest
import torch

from fftbench import cost
from fftbench.problem import Problem
from fftbench.profile import NCU_METRICS, parse_ncu_csv, profile_point, summarize

FIXTURE = Path(__file__).parent / "fixtures" / "ncu_torch_fft_b8_h768_4k_fp16_causal.csv"
PROBLEM = Problem(batch=8, channels=768, seqlen=4096, dtype="fp16", mode="causal")


def test_parses_every_kernel_of_the_call():
    kernels = parse_ncu_csv(FIXTURE.read_text())
    names = [k["name"] for k in kernels]
    assert len(kernels) == 7
    assert any("vector_fft_r2c<8192" in n for n in names) and any("vector_fft_c2r<8192" in n for n in names)
    for k in kernels:
        assert set(NCU_METRICS) <= set(k), f"metric missing for {k['name']}"
        assert k["kernel_ns"] > 0 and k["registers"] > 0


def test_summary_sums_counters_and_derives_efficiency():
    kernels = parse_ncu_csv(FIXTURE.read_text())
    s = summarize(kernels, PROBLEM, flops_declared=None)
    moved = s["prof_dram_read_bytes"] + s["prof_dram_write_bytes"]
    assert s["prof_kernel_us"] == pytest.approx(sum(k["kernel_ns"] for k in kernels) / 1e3)
    # torch.fft's causal path pads, transforms, multiplies, inverts and scales in separate kernels:
    # it moves several times the minimal bytes.
    assert moved > 5 * cost.min_hbm_bytes(PROBLEM)
    assert s["prof_io_efficiency"] == pytest.approx(cost.min_hbm_bytes(PROBLEM) / moved)
    assert s["prof_fma_pipe_flops"] > 0 and s["prof_registers"] == 48
    assert 0 < s["prof_occupancy_pct"] <= 100
    assert summarize(kernels, PROBLEM, flops_declared=s["prof_flops_measured"] / 2)["prof_flops_vs_declared"] == pytest.approx(2.0)


def test_ncu_noise_and_empty_output():
    assert parse_ncu_csv("==PROF== Disconnected\n") == []


def test_missing_ncu_is_a_reason_not_a_failure(monkeypatch):
    monkeypatch.setattr("fftbench.profile.ncu_path", lambda: None)
    assert profile_point(PROBLEM, "torch_fft", None) == {"prof_reason": "ncu (Nsight Compute) not found"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_kernel_breakdown_lists_the_calls_kernels():
    from fftbench.inputs import make_inputs
    from fftbench.registry import get_backend
    from fftbench.worker import kernel_breakdown

    problem = Problem(batch=2, channels=4, seqlen=1024, dtype="fp16", mode="causal")
    run = get_backend("torch_fft").prepare(problem, make_inputs(problem, "cuda")).run
    run()
    kernels = kernel_breakdown(run)
    assert len(kernels) >= 3 and all(k["us"] > 0 for k in kernels)


def test_profile_run_filters_rows_by_any_column(tmp_path, monkeypatch):
    from fftbench.profile import profile_run
    from fftbench.results import read_rows

    rows = [{"backend": b, "batch": 1, "channels": 2, "seqlen": n, "dtype": "fp16", "mode": "causal", "gated": False,
             "freq_sparsity": 0.0, "kernel_len": n, "status": "ok"} for b in ("torch_fft", "monarch_cuda") for n in (1024, 4096)]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    profiled = []
    monkeypatch.setattr("fftbench.profile.profile_point",
                        lambda problem, backend, flops: profiled.append((backend, problem.seqlen)) or {"prof_reason": "test"})
    profile_run(tmp_path, {"backend": ["monarch_cuda"], "seqlen": [4096], "mode": None})
    assert profiled == [("monarch_cuda", 4096)]
    assert len(list(read_rows(tmp_path / "profile.jsonl"))) == 1
    profile_run(tmp_path)  # the rest; the profiled row is not repeated
    assert sorted(profiled) == sorted((r["backend"], r["seqlen"]) for r in rows)


def test_profile_run_selects_passes_and_profiles_the_rows_pass(tmp_path, monkeypatch):
    from fftbench.profile import profile_run

    base = {"backend": "torch_fft", "batch": 1, "channels": 2, "seqlen": 1024, "dtype": "fp16", "mode": "causal",
            "gated": False, "freq_sparsity": 0.0, "kernel_len": 1024, "status": "ok"}
    rows = [base, {**base, "pass": "bwd"}, {**base, "pass": "fwd_bwd"}]  # the first predates the pass axis: fwd
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    profiled = []
    monkeypatch.setattr("fftbench.profile.profile_point",
                        lambda problem, backend, flops: profiled.append(problem.pass_) or {"prof_reason": "test"})
    profile_run(tmp_path, {"pass": ["bwd", "fwd"]})
    assert profiled == ["fwd", "bwd"]
