"""The results store: one flat JSON Lines row per (point, backend), appended as each finishes.

Rows are written with a single write() of one complete line followed by fsync, so a run killed at
any moment leaves only whole rows (a torn last line, if the OS ever leaves one, is ignored on
load); `--resume` reads the finished keys and skips them. Units are in the column names.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pandas as pd

SCHEMA_VERSION = 1

RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"
PROFILE_FILE = "profile.jsonl"  # Nsight Compute rows (fftbench.profile), joined on KEY_COLUMNS
SUPERSEDED_PREFIX = "superseded-"  # rows `--redo` replaced, kept beside the run as its history

# Every row has every column (None where it does not apply), in this order.
COLUMNS = (
    # identity
    "schema_version", "run_id", "suite", "git_sha", "dirty", "gpu", "driver",
    "backend", "family", "is_baseline", "precomputed_spectrum",
    # problem
    "batch", "channels", "seqlen", "kernel_len", "mode", "dtype", "gated", "freq_sparsity", "pass", "fft_size",
    # outcome
    "status", "reason",
    # timing (device time on GPU, monotonic clock on CPU)
    "timer", "t_p50_us", "t_p20_us", "t_p80_us", "t_min_us", "t_max_us", "t_q1_us", "t_q3_us",
    "t_iqr_us", "t_rel_spread", "n_samples", "host_us", "cold_ms", "setup_ms",
    # accuracy
    "rel_l2_err", "max_abs_err", "nonfinite", "err_budget", "baseline_rel_l2_err", "err_ratio",
    # each output tensor's error (the row's rel_l2_err is the worst of them): y, gradients.GRAD_NAMES
    "y_rel_l2_err", "du_rel_l2_err", "dk_rel_l2_err", "dv_rel_l2_err", "dw_rel_l2_err",
    "ref_seed", "ref_rows",  # the rows checked against float64: reference.checked_rows(problem, ref_seed)
    # cost model and derived metrics
    "min_hbm_bytes", "spectrum_bytes", "floor_us", "hbm_gbps", "frac_hbm_floor",
    "flops_model", "flops_executed", "tflops", "frac_peak_flops", "tflops_executed", "frac_peak_executed",
    "arith_intensity",
    # machine state around the point
    "sm_clock_mhz", "mem_clock_mhz", "power_w", "temp_c", "throttled", "throttle_reasons",
    # the GPU the worker ran on: nvidia-smi index and UUID (--gpus runs one worker per GPU)
    "gpu_index", "gpu_uuid",
    # kernels one call launches, with their device times (torch.profiler; GPU only)
    "n_kernels", "kernels",
    # backend-specific facts (decomposition, autotuned config, ...)
    "details", "ts",
)

# The columns that identify a point: a resumed or compared run matches rows on these.
KEY_COLUMNS = (
    "suite", "backend", "batch", "channels", "seqlen", "kernel_len", "mode", "dtype", "gated", "freq_sparsity", "pass",
)

# Columns added after rows were first written, with the value an older row (or a row that does
# not set them) means.
LEGACY_DEFAULTS = {"pass": "fwd"}


def with_legacy_defaults(row: dict) -> dict:
    return {**row, **{c: v for c, v in LEGACY_DEFAULTS.items() if row.get(c) is None}}


# Every status a row can have: ok, a failure (the gate and the report count it against the
# backend), or a skip (the backend cannot run the point here; capabilities change on purpose).
FAILED = ("wrong", "oom", "error", "timeout")
SKIPPED = ("unsupported", "unavailable")
STATUSES = ("ok", *FAILED, *SKIPPED)


def row_key(row: dict) -> tuple:
    return tuple(row.get(c) for c in KEY_COLUMNS)


def complete_row(values: dict) -> dict:
    """Fill every column (unknown keys are a bug: the schema is the contract with reports)."""
    extra = set(values) - set(COLUMNS)
    if extra:
        raise KeyError(f"not in the results schema: {sorted(extra)}")
    row = with_legacy_defaults({c: values.get(c) for c in COLUMNS})
    row["schema_version"] = SCHEMA_VERSION
    return row


class ResultStore:
    """Append-only JSON Lines file of rows for one run directory."""

    def __init__(self, run_dir: Path, filename: str = RESULTS_FILE):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / filename
        self._drop_torn_tail()

    def _drop_torn_tail(self) -> None:
        """A run killed mid-write may leave a last line without its newline: cut it, or the next
        append would glue a good row onto it."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    def append(self, row: dict) -> None:
        self.append_raw(complete_row(row))

    def append_raw(self, row: dict) -> None:
        line = json.dumps(row, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def rows(self) -> list[dict]:
        return list(read_rows(self.path))

    def finished_keys(self) -> set[tuple]:
        return {row_key(r) for r in self.rows()}


def jsonl_text(rows) -> str:
    """Rows as JSON Lines text, one complete line each (the results and profile file format)."""
    return "".join(json.dumps(r, default=str) + "\n" for r in rows)


def supersede_backends(run_dir: Path, backends: set[str]) -> int:
    """Move every row of `backends` out of the run's results and profile files into
    superseded-<file> beside them, so that a resume measures those backends again (after a kernel
    change) while the rest of the run stands. The moved rows are appended to the history first and
    the live file is then replaced atomically: a kill at any moment loses no row. Returns the
    number of result rows moved."""
    moved = 0
    for name in (RESULTS_FILE, PROFILE_FILE):
        path = Path(run_dir) / name
        rows = list(read_rows(path))
        keep = [r for r in rows if r.get("backend") not in backends]
        gone = [r for r in rows if r.get("backend") in backends]
        if not gone:
            continue
        with (path.parent / (SUPERSEDED_PREFIX + name)).open("a") as f:
            f.write(jsonl_text(gone))
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(jsonl_text(keep))
        os.replace(tmp, path)
        if name == RESULTS_FILE:
            moved = len(gone)
    return moved


def read_rows(path: Path) -> Iterator[dict]:
    """Rows of a results file; a torn (half-written) line from a killed run is skipped; a column
    older rows lack gets its LEGACY_DEFAULTS value."""
    path = Path(path)
    if not path.exists():
        return
    with path.open() as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                yield with_legacy_defaults(json.loads(line))
            except json.JSONDecodeError:
                continue


def load_run(run_dir: Path) -> tuple[dict, "pd.DataFrame"]:
    """(run metadata, results DataFrame) of a run directory."""
    run_dir = Path(run_dir)
    meta_path = run_dir / RUN_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    frame = pd.DataFrame(list(read_rows(run_dir / RESULTS_FILE)), columns=list(COLUMNS))
    profiles = pd.DataFrame(list(read_rows(run_dir / PROFILE_FILE)))
    if not profiles.empty:
        frame = frame.merge(profiles.drop_duplicates(list(KEY_COLUMNS), keep="last"), on=list(KEY_COLUMNS), how="left")
    return meta, frame


def write_run_meta(run_dir: Path, meta: dict) -> None:
    path = Path(run_dir) / RUN_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2, default=str))
    os.replace(tmp, path)


def export_tables(run_dir: Path) -> list[Path]:
    """Write results.csv and results.parquet beside the JSON Lines file."""
    _, frame = load_run(run_dir)
    nested = [c for c in ("details", "kernels", "prof_kernels") if c in frame]
    frame = frame.assign(**{c: frame[c].map(lambda d: json.dumps(d) if d is not None else None) for c in nested})
    written = []
    csv = Path(run_dir) / "results.csv"
    frame.to_csv(csv, index=False)
    written.append(csv)
    try:
        parquet = Path(run_dir) / "results.parquet"
        frame.to_parquet(parquet, index=False)
        written.append(parquet)
    except ImportError as err:  # pyarrow missing: CSV and JSON Lines still hold everything
        print(f"note: results.parquet not written ({err})")
    return written
