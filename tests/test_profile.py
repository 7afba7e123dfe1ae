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
# The metrics that capture requested (NCU_METRICS before the issue-slot, L1, instruction and L2
# counters were added); those newer ones are checked on an H200 export of monarch_long's passes.
FIXTURE_METRICS = ("dram_read_bytes", "dram_write_bytes", "kernel_ns", "tensor_fp16_flops", "tensor_bf16_flops",
                   "fadd", "fmul", "ffma", "hadd", "hmul", "hfma", "tensor_active_pct", "occupancy_pct", "registers")
H200_EXPORT = Path(__file__).parent.parent / "kernels/monarch_long/measurements/h200-8593f54-ncu-1m-causal-raw.csv"


def test_parses_every_kernel_of_the_call():
    kernels = parse_ncu_csv(FIXTURE.read_text())
    names = [k["name"] for k in kernels]
    assert len(kernels) == 7
    assert any("vector_fft_r2c<8192" in n for n in names) and any("vector_fft_c2r<8192" in n for n in names)
    for k in kernels:
        assert set(FIXTURE_METRICS) <= set(k), f"metric missing for {k['name']}"
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


def test_issue_l1_and_instruction_counters_from_an_h200_export():
    """monarch_long's three passes at 1×768×1M fp16 causal (ncu on the H200, sections exported raw):
    the new counters parse per kernel and summarise as time-weighted percentages and per-element
    instruction counts; their metric names are the ones this H200's ncu writes."""
    kernels = parse_ncu_csv(H200_EXPORT.read_text())
    assert [k["name"].split("::")[1].split("<")[0] for k in kernels] == ["outer_forward", "inner", "outer_inverse"]
    issue = [k["issue_active_pct"] for k in kernels]
    assert issue == pytest.approx([71.678497, 72.426397, 67.161342])
    problem = Problem(batch=1, channels=768, seqlen=1 << 20, dtype="fp16", mode="causal")
    s = summarize(kernels, problem, flops_declared=None)
    weights = [k["kernel_ns"] for k in kernels]
    assert s["prof_issue_active_pct"] == pytest.approx(sum(i * w for i, w in zip(issue, weights)) / sum(weights))
    assert 40 < s["prof_l1tex_throughput_pct"] < 60
    assert s["prof_inst_per_element"] == pytest.approx((2800484352 + 4842142464 + 2786328576) / (768 << 20))
    assert set(NCU_METRICS) - set(FIXTURE_METRICS) <= set(kernels[0]) | {"l2_bytes"}


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
