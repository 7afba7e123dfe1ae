"""Measured HBM traffic and FLOPs: each chosen point re-run under Nsight Compute in a subprocess.

Only the kernels of one call are profiled: the target (fftbench.profile_target) warms up, then
makes the call inside the NVTX range "fftbench", and ncu is limited to that range. Always
`--clock-control none` (ncu otherwise locks clocks to base and kernel times lie). Metrics are
summed over every kernel the call launches (torch.fft launches several). Results go to
profile.jsonl beside results.jsonl, one row per (point, backend), joined to the results on load.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fftbench import cost
from fftbench.problem import Problem
from fftbench.results import KEY_COLUMNS, PROFILE_FILE, read_rows

# Short name → ncu metric (all seen working on the project's H100, ../shared/measurement.md).
NCU_METRICS = {
    "dram_read_bytes": "dram__bytes_read.sum",
    "dram_write_bytes": "dram__bytes_write.sum",
    "kernel_ns": "gpu__time_duration.sum",
    "tensor_fp16_flops": "sm__ops_path_tensor_src_fp16.sum",
    "tensor_bf16_flops": "sm__ops_path_tensor_src_bf16_dst_fp32.sum",
    "fadd": "smsp__sass_thread_inst_executed_op_fadd_pred_on.sum",
    "fmul": "smsp__sass_thread_inst_executed_op_fmul_pred_on.sum",
    "ffma": "smsp__sass_thread_inst_executed_op_ffma_pred_on.sum",
    "hadd": "smsp__sass_thread_inst_executed_op_hadd_pred_on.sum",
    "hmul": "smsp__sass_thread_inst_executed_op_hmul_pred_on.sum",
    "hfma": "smsp__sass_thread_inst_executed_op_hfma_pred_on.sum",
    "tensor_active_pct": "sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_active",
    "occupancy_pct": "sm__warps_active.avg.pct_of_peak_sustained_active",
    "registers": "launch__registers_per_thread",
    # What limits a kernel that is not memory-bound (names as this H200's ncu exports them,
    # kernels/monarch_long/measurements/h200-8593f54-ncu-1m-causal-raw.csv):
    "inst_executed": "smsp__inst_executed.sum",
    "issue_active_pct": "smsp__issue_active.avg.pct_of_peak_sustained_active",
    "l1tex_throughput_pct": "l1tex__throughput.avg.pct_of_peak_sustained_active",
    "l2_bytes": "lts__t_bytes.sum",
}
_TIME_WEIGHTED = ("tensor_active_pct", "occupancy_pct", "issue_active_pct", "l1tex_throughput_pct")


def ncu_path() -> str | None:
    found = shutil.which("ncu")
    if found:
        return found
    for root in (Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "bin", *Path("/opt/nvidia").glob("nsight-compute/*")):
        if (root / "ncu").exists():
            return str(root / "ncu")
    return None


def _number(text: str) -> float | None:
    text = text.replace(",", "").strip()
    try:
        return float(text)
    except ValueError:
        return None


def parse_ncu_csv(text: str) -> list[dict]:
    """Per-kernel metric values (short names) from `ncu --csv --page raw` output."""
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]  # ncu's own log lines start with ==
    if not lines:
        return []
    reader = list(csv.reader(io.StringIO("\n".join(lines))))
    header, body = reader[0], reader[1:]
    by_metric = {full: short for short, full in NCU_METRICS.items()}
    kernels = []
    for values in body:
        row = dict(zip(header, values))
        if not row.get("ID", "").strip().isdigit():
            continue  # the units row
        kernel = {"name": row.get("Kernel Name", "")}
        for col, val in row.items():
            if col in by_metric:
                kernel[by_metric[col]] = _number(val)
        kernels.append(kernel)
    return kernels


def summarize(kernels: list[dict], problem: Problem, flops_declared: float | None) -> dict:
    """Sum per-kernel counters over one call and derive IO efficiency, measured FLOPs, utilisation."""
    def total(key):
        return sum(k.get(key) or 0.0 for k in kernels)

    time_ns = total("kernel_ns")
    moved = total("dram_read_bytes") + total("dram_write_bytes")
    tensor = total("tensor_fp16_flops") + total("tensor_bf16_flops")
    fma_pipe = total("fadd") + total("fmul") + 2 * total("ffma") + total("hadd") + total("hmul") + 2 * total("hfma")
    out = {
        "prof_n_kernels": len(kernels),
        "prof_kernel_us": time_ns / 1e3,
        "prof_dram_read_bytes": total("dram_read_bytes"),
        "prof_dram_write_bytes": total("dram_write_bytes"),
        "prof_io_efficiency": cost.min_hbm_bytes(problem) / moved if moved else None,
        "prof_tensor_flops": tensor,
        "prof_fma_pipe_flops": fma_pipe,
        "prof_flops_measured": tensor + fma_pipe,
        "prof_flops_vs_declared": (tensor + fma_pipe) / flops_declared if flops_declared else None,
        "prof_registers": max((k.get("registers") or 0 for k in kernels), default=None),
        # warp instructions per input element: the budget an issue-bound kernel is judged by
        "prof_inst_per_element": (total("inst_executed") / (problem.rows * problem.seqlen)
                                  if any(k.get("inst_executed") is not None for k in kernels) else None),
        "prof_l2_bytes": total("l2_bytes") if any(k.get("l2_bytes") is not None for k in kernels) else None,
    }
    for key in _TIME_WEIGHTED:  # a call's utilisation: each kernel's share weighted by its time
        out[f"prof_{key}"] = (sum((k.get(key) or 0) * (k.get("kernel_ns") or 0) for k in kernels) / time_ns
                              if time_ns else None)
    return out


def profile_point(problem: Problem, backend: str, flops_declared: float | None, timeout_s: float = 600) -> dict:
    ncu = ncu_path()
    if ncu is None:
        return {"prof_reason": "ncu (Nsight Compute) not found"}
    cmd = [ncu, "--clock-control", "none", "--csv", "--page", "raw", "--print-units", "base",
           "--nvtx", "--nvtx-include", "fftbench/", "--metrics", ",".join(NCU_METRICS.values()),
           sys.executable, "-m", "fftbench.profile_target", backend, json.dumps(problem.key())]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"prof_reason": f"ncu took longer than {timeout_s:.0f} s"}
    kernels = parse_ncu_csv(proc.stdout)
    if proc.returncode != 0 or not kernels:
        err = next((ln for ln in (proc.stderr + proc.stdout).splitlines() if "ERR" in ln or "rror" in ln), None)
        return {"prof_reason": (err or f"ncu exited {proc.returncode} with no kernel rows").strip()[:300]}
    return {**summarize(kernels, problem, flops_declared), "prof_reason": None,
            "prof_kernels": [{"name": k["name"][:120], "us": (k.get("kernel_ns") or 0) / 1e3} for k in kernels]}


def profile_run(run_dir: Path, only: dict[str, list] | None = None) -> Path:
    """Profile every `ok` row of a run, or only the rows whose columns take the listed values
    (e.g. {"seqlen": [1 << 20], "backend": ["monarch_long"]}); append to profile.jsonl."""
    from fftbench.registry import get_backend
    from fftbench.results import ResultStore

    path = Path(run_dir) / PROFILE_FILE
    done = {tuple(r.get(c) for c in KEY_COLUMNS) for r in read_rows(path)}
    store = ResultStore(run_dir, filename=PROFILE_FILE)
    for row in read_rows(Path(run_dir) / "results.jsonl"):
        key = tuple(row.get(c) for c in KEY_COLUMNS)
        if row["status"] != "ok" or key in done or any(row.get(c) not in v for c, v in (only or {}).items() if v):
            continue
        problem = Problem.from_key(row)
        backend = get_backend(row["backend"])
        result = profile_point(problem, backend.name, backend.flops(problem) if backend.flops else None)
        store.append_raw({**{c: row.get(c) for c in KEY_COLUMNS}, **result})
        moved = (result.get("prof_dram_read_bytes") or 0) + (result.get("prof_dram_write_bytes") or 0)
        print(f"profiled {backend.name} {problem.label()}: "
              + (f"{moved / 1e6:.1f} MB moved (min {cost.min_hbm_bytes(problem) / 1e6:.1f} MB), "
                 f"{result['prof_n_kernels']} kernels, tensor pipe {result['prof_tensor_active_pct'] or 0:.1f}%"
                 if result.get("prof_reason") is None else f"no profile: {result['prof_reason']}"), flush=True)
    return path
