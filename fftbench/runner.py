"""The sweep: every (point, backend) of a suite, each measured in a worker process, each row
appended to the run's JSON Lines file as soon as it exists.

Isolation costs one process start (and CUDA context) per backend, plus one per crash; in return a
backend that segfaults, aborts, hits an illegal address or hangs loses only its current point
(recorded as `error` or `timeout`) and the sweep resumes in a fresh worker at the next point.
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import threading
import time
from pathlib import Path

import torch

from fftbench.gpus import Gpu
from fftbench.lanes import Stopped, run_lanes, split_tasks
from fftbench.problem import Problem
from fftbench.progress import Progress
from fftbench.registry import Backend
from fftbench.results import ResultStore, row_key, write_run_meta
from fftbench.suites import Suite
from fftbench.worker import WorkerJob, worker_main


@dataclasses.dataclass
class RunSpec:
    suite: Suite
    problems: list[Problem]
    backends: list[Backend]
    device: str  # "cuda" or "cpu"
    run_dir: Path
    run_meta: dict  # run.json contents so far (env, git, calibration); env_samples are appended
    point_timeout_s: float = 900.0
    gpus: list[Gpu] = dataclasses.field(default_factory=list)  # one lane each; [] → one CPU lane
    pin: bool = False  # pin each lane's workers to its GPU (--gpus), else they inherit the parent's view
    # The measuring process's git and environment when they are not run_meta's (a resumed or
    # redone run measures with today's commit, which its rows must name).
    git: dict | None = None
    env: dict | None = None


def problem_columns(problem: Problem) -> dict:
    return {**problem.key(), "fft_size": problem.fft_size}


class Sweep:
    def __init__(self, spec: RunSpec):
        self.spec = spec
        self.store = ResultStore(spec.run_dir)
        meta = spec.run_meta
        git, env = spec.git or meta["git"], spec.env or meta["env"]
        self.base = {
            "run_id": meta["run_id"], "suite": spec.suite.name, "git_sha": git["sha"],
            "dirty": git["dirty"], "gpu": env.get("gpu"), "driver": env.get("driver"),
        }
        self.env_samples = meta.setdefault("env_samples", [])
        self._lock = threading.Lock()  # lanes are threads; rows, progress and run.json go through it
        self._stop = threading.Event()  # set when a lane fails or on Ctrl-C: nothing more is written

    def _row(self, backend: Backend, problem: Problem, values: dict) -> dict:
        return {
            **self.base, "backend": backend.name, "family": backend.family, "is_baseline": backend.baseline,
            "precomputed_spectrum": backend.precomputed_spectrum, **problem_columns(problem),
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S"), **values,
        }

    def tasks(self) -> list[tuple[Backend, list[Problem]]]:
        done = self.store.finished_keys()
        out = []
        for backend in self.spec.backends:
            todo = [p for p in self.spec.problems
                    if row_key({**self.base, "backend": backend.name, **problem_columns(p)}) not in done]
            if todo:
                out.append((backend, todo))
        return out

    def run(self) -> None:
        has_cuda = self.spec.device == "cuda"
        unavailable = {b.name: why for b in self.spec.backends if (why := b.unavailable_reason(has_cuda))}
        tasks = self.tasks()
        runnable = [(b, ps) for b, ps in tasks if b.name not in unavailable]
        total = sum(len(ps) for _, ps in runnable)
        n_backends = len(self.spec.backends) - len(unavailable)
        done = len(self.spec.problems) * n_backends - total
        pinned = self.spec.pin and self.spec.gpus
        print(f"{self.spec.suite.name}: {len(self.spec.problems)} points × {n_backends} backends"
              f" = {total} to run" + (f" ({done} already done, resumed)" if done else "") + f" → {self.spec.run_dir}"
              + (f" on GPUs {','.join(str(g.index) for g in self.spec.gpus)}, one worker each" if pinned else ""),
              flush=True)
        for backend, problems in tasks:
            if backend.name in unavailable:
                self._skip(backend, problems, unavailable[backend.name])
        widths = (max((len(b.name) for b, _ in runnable), default=0),
                  max((len(p.label()) for p in self.spec.problems), default=0))
        lanes = self.spec.gpus or [None]
        with Progress(total, widths) as progress:
            run_lanes(split_tasks(runnable, len(lanes)), lanes,
                      lambda task, gpu: self._run_backend(*task, progress, gpu), self._stop)

    def _skip(self, backend: Backend, problems: list[Problem], reason: str) -> None:
        """A backend that cannot run on this machine: its rows are kept (status unavailable, for
        the report and the gate), and it is said once, not once per point."""
        for p in problems:
            self.store.append(self._row(backend, p, {"status": "unavailable", "reason": reason}))
        print(f"skip {backend.name}: {reason} ({len(problems)} points recorded as unavailable)", flush=True)

    def _record(self, backend, problem, values, progress, gpu: Gpu | None = None) -> None:
        where = {"gpu_index": gpu.index, "gpu_uuid": gpu.uuid} if gpu else {}
        row = self._row(backend, problem, {**values, **where})
        with self._lock:
            if self._stop.is_set():
                raise Stopped
            self.store.append(row)
            progress.advance(row)

    def _run_backend(self, backend: Backend, problems: list[Problem], progress: Progress, gpu: Gpu | None) -> None:
        """Rows that need no worker (unsupported) are written here; the rest go to workers,
        restarted after a crash or a timeout at the next point."""
        runnable = []
        for p in problems:
            why = backend.unsupported_reason(p)
            if why:
                self._record(backend, p, {"status": "unsupported", "reason": why}, progress)
            else:
                runnable.append(p)
        while runnable:
            finished = self._run_worker(backend, runnable, progress, gpu)
            runnable = runnable[finished:]

    def _run_worker(self, backend: Backend, problems: list[Problem], progress: Progress, gpu: Gpu | None) -> int:
        """Run one worker over `problems`; return how many were recorded (including a failed one)."""
        spec = self.spec
        job = WorkerJob(backend=backend.name, problems=tuple(problems), device=spec.device,
                        timing=spec.suite.timing, budgets=spec.suite.budgets,
                        calibration=spec.run_meta.get("calibration", {}),
                        error_log=str(spec.run_dir / "errors.log"))
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=worker_main, args=(job, child), daemon=True)
        _start_pinned(proc, gpu.visible if gpu and spec.pin else None)
        child.close()
        recorded, current = 0, None
        last_news = time.monotonic()
        try:
            while True:
                if parent.poll(1.0):
                    try:
                        msg = parent.recv()
                    except EOFError:
                        msg = None  # the pipe closed: the worker is gone
                    if msg is not None:
                        last_news = time.monotonic()
                        kind = msg[0]
                        if kind == "start":
                            current = msg[1]
                        elif kind == "row":
                            self._record(backend, problems[msg[1]], msg[2], progress, gpu)
                            recorded, current = msg[1] + 1, None
                        elif kind == "env":
                            with self._lock:
                                self.env_samples.append({"backend": backend.name, "when": msg[1],
                                                         "gpu_index": gpu.index if gpu else None, **msg[2]})
                                write_run_meta(spec.run_dir, spec.run_meta)  # clock samples survive a kill too
                        elif kind == "done":
                            return len(problems)
                        continue
                elif proc.is_alive():
                    if time.monotonic() - last_news > spec.point_timeout_s:
                        proc.kill()
                        hung = recorded if current is None else current
                        self._record(backend, problems[hung], {"status": "timeout",
                                     "reason": f"no result after {spec.point_timeout_s:.0f} s; worker killed"}, progress, gpu)
                        return hung + 1
                    continue
                # The worker died: blame the point it had started (or the next one, if between points).
                proc.join(5)
                failed = recorded if current is None else current
                if failed >= len(problems):
                    return len(problems)
                self._record(backend, problems[failed], {"status": "error", "reason": _exit_reason(proc.exitcode)},
                             progress, gpu)
                return failed + 1
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
            parent.close()


_SPAWN_LOCK = threading.Lock()


def _start_pinned(proc, visible: str | None) -> None:
    """Start a spawn-context worker with CUDA_VISIBLE_DEVICES = visible (None: inherited). Spawn
    execs a fresh interpreter inside start(), so the child sees the variable from its first
    instruction; the lock keeps concurrent lanes from seeing each other's value."""
    with _SPAWN_LOCK:
        old = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = visible
        try:
            proc.start()
        finally:
            if old is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = old


def _exit_reason(code: int | None) -> str:
    import signal

    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process died ({name}); see errors.log"
    return f"worker process exited with code {code} mid-point; see errors.log"


def default_device(force_cpu: bool = False) -> str:
    return "cuda" if torch.cuda.is_available() and not force_cpu else "cpu"
