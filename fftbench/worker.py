"""One backend's points, measured inside a worker process.

The runner starts one worker per backend (and a fresh one after a crash), so a CUDA fault, a
segfault or an abort costs only the point that caused it. For each point the worker draws fresh
random inputs, computes the float64 references for rows drawn from a seed it records (of every
output the pass produces: y, or the gradients du, dk, dv, dw; gradients.Checker), runs the
baseline backend at the same dtype (for err_ratio), prepares the backend (setup, outside any
timing), makes one cold call into a NaN-poisoned output, checks it, and only if it is within
budget times it — then checks the output again, since an error that moves between runs is a race.
"""
from __future__ import annotations

import dataclasses
import signal
import time
import traceback

import torch

from fftbench import environment
from fftbench.gradients import Checker
from fftbench.inputs import make_inputs
from fftbench.metrics import MetricContext, compute_metrics
from fftbench.problem import Problem
from fftbench.reference import draw_seed
from fftbench.registry import Backend, Prepared, load_backends
from fftbench.timing import GpuTimer, TimingOptions, TimingStats, time_cpu


@dataclasses.dataclass(frozen=True)
class WorkerJob:
    backend: str
    problems: tuple[Problem, ...]
    device: str
    timing: TimingOptions
    budgets: dict
    calibration: dict
    error_log: str


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:500]


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, (torch.cuda.OutOfMemoryError, MemoryError)) or "out of memory" in str(err).lower()


def kernel_breakdown(run) -> list[dict]:
    """The device work of one call (kernels, memsets, copies) with each one's time, via CUPTI."""
    from torch.profiler import ProfilerActivity, profile

    # acc_events: one profiling cycle, kept as is (without it torch warns on every point that a
    # cycle's events are cleared, a line in the middle of the progress output).
    with profile(activities=[ProfilerActivity.CUDA], acc_events=True) as prof:
        run()
        torch.cuda.synchronize()
    device_events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    return [{"name": e.name[:120], "us": e.time_range.elapsed_us()} for e in device_events]


class PointMeasurer:
    """Measures one backend's points on one device (state: the timer's flush buffer)."""

    def __init__(self, job: WorkerJob, backends: dict[str, Backend]):
        self.job = job
        self.backend = backends[job.backend]
        self.baseline = next((b for b in backends.values() if b.baseline), None)
        self.device = torch.device(job.device)
        self.gpu_timer = GpuTimer(self.device) if self.device.type == "cuda" else None

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _baseline_error(self, problem: Problem, inputs, check: Checker) -> float | None:
        b = self.baseline
        if b is None or b is self.backend or b.unsupported_reason(problem) or b.unavailable_reason(self.device.type == "cuda"):
            return None
        return check(b.prepare(problem, inputs).run()).overall.rel_l2_err

    def _time(self, prepared: Prepared) -> TimingStats:
        """CUDA events for device work; the CPU clock on the CPU and for a call computed on the host
        (events around a spin kernel would time the spin, not the host's work)."""
        if self.gpu_timer is not None and not prepared.on_host:
            return self.gpu_timer.time(prepared.run, self.job.timing)
        return time_cpu(prepared.run, self.job.timing)

    def measure(self, problem: Problem) -> dict:
        row: dict = {"status": "ok", "reason": None}
        budget = self.job.budgets[problem.dtype]
        row["err_budget"] = budget
        flops_exec = self.backend.flops(problem) if self.backend.flops else None
        inputs = make_inputs(problem, self.device)
        seed = draw_seed()
        check = Checker(problem, inputs, seed)
        row.update(ref_seed=seed, ref_rows=len(check.rows))
        base_err = self._baseline_error(problem, inputs, check)
        row["baseline_rel_l2_err"] = base_err

        t0 = time.perf_counter()
        prepared = self.backend.prepare(problem, inputs)
        self._sync()
        row["setup_ms"] = (time.perf_counter() - t0) * 1e3
        row["details"] = prepared.details

        inputs.poison_output()
        self._sync()
        t0 = time.perf_counter()
        out = prepared.run()
        self._sync()
        row["cold_ms"] = (time.perf_counter() - t0) * 1e3

        errors = check(out)
        err = errors.overall
        row.update(rel_l2_err=err.rel_l2_err, max_abs_err=err.max_abs_err, nonfinite=err.nonfinite, **errors.columns())
        if base_err:
            row["err_ratio"] = err.rel_l2_err / base_err
        t_us = None
        if not errors.within(budget):
            row["status"] = "wrong"
            row["reason"] = errors.failure(budget)
        else:
            before = environment.gpu_state()
            stats = self._time(prepared)
            state = environment.merge_states(before, environment.gpu_state())
            row.update(stats.as_row(), **state)
            # The timed runs' last output must still be right: a moving error is a race.
            inputs.poison_output()
            again = check(prepared.run())
            if not again.within(budget):
                row.update(status="wrong", reason=f"output changed between runs ({again.failure(budget)}): a race?")
                for k in stats.as_row():
                    row[k] = None
            else:
                t_us = stats.median
                if self.device.type == "cuda":
                    kernels = kernel_breakdown(prepared.run)
                    row.update(n_kernels=len(kernels), kernels=kernels)
        ctx = MetricContext(
            copy_gbps=self.job.calibration.get("copy_gbps"),
            peak_tflops=self.job.calibration.get("matmul_tflops", {}).get(problem.dtype),
            flops_executed=flops_exec,
        )
        row.update(compute_metrics(problem, t_us, ctx))
        return row

    def safe_measure(self, problem: Problem) -> dict:
        """measure(), with failures turned into rows (oom / error) and memory released after."""
        try:
            return self.measure(problem)
        except BaseException as err:  # noqa: BLE001 — every failure must become a row
            if isinstance(err, KeyboardInterrupt):
                raise
            status = "oom" if _is_oom(err) else "error"
            with open(self.job.error_log, "a") as log:  # the full traceback, for whoever debugs it
                log.write(f"--- {self.backend.name} {problem.label()}\n{traceback.format_exc()}\n")
            return {"status": status, "reason": one_line(err)}
        finally:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()


def worker_main(job: WorkerJob, conn) -> None:
    """Entry of the worker process: sends ("env", when, state), ("start", i), ("row", i, row), ("done",).

    Ctrl-C is the parent's to handle (it stops its workers); a parent that is gone (kill -9)
    breaks the pipe, and the worker ends quietly at its next message, as nobody is left to read it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _measure_all(job, conn)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _measure_all(job: WorkerJob, conn) -> None:
    backends = load_backends()
    if job.device == "cuda":
        torch.cuda.init()
    else:
        # One thread: on a shared (CI) machine, waits in a loaded thread pool (24 ms for a 50 µs
        # FFT, seen here) would otherwise be what gets measured.
        torch.set_num_threads(1)
    conn.send(("env", "before", environment.gpu_state()))
    measurer = PointMeasurer(job, backends)
    for i, problem in enumerate(job.problems):
        conn.send(("start", i))
        conn.send(("row", i, measurer.safe_measure(problem)))
    conn.send(("env", "after", environment.gpu_state()))
    conn.send(("done",))
