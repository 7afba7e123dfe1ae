"""submit --executor slurm|local --shards N [--out DIR] [run flags]: one sweep as N shard jobs through
submitit (`pip install -e .[cluster]`), merged into DIR when they all finish.

submitit does the scheduling, not fftbench: on SLURM one array task per shard (sbatch --array),
with the local executor one process per shard on this machine, all at once (each pinned to one GPU,
round-robin, where there are GPUs). Each task runs `run_bench.py [run flags] --shard I/N
--out DIR/shards/I` — what a user would type — so every shard is an ordinary, resumable run.
Submitting again with the same --out resumes each shard where it stopped. Shards skip their
reports; the merged run gets the report and, with --gate, the gate.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from fftbench import environment
from fftbench.results import RUN_FILE
from fftbench.shard import ShardError

RUN_BENCH = environment.REPO_ROOT / "run_bench.py"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fftbench submit", description="Run a sweep as N shard jobs through submitit and merge them.",
        allow_abbrev=False,  # --gpus is the run's flag, not short for --gpus-per-shard
        epilog="Every other flag is the run's (--suite, --backends, --seqlens, --cpu, --gpus, --profile, ...).")
    p.add_argument("--executor", choices=("slurm", "local"), required=True)
    p.add_argument("--shards", type=int, required=True, help="number of shard jobs (array tasks)")
    p.add_argument("--out", type=Path, help="merged run directory; shards go under OUT/shards (default reports/runs/...)")
    p.add_argument("--timeout-min", type=int, default=720, help="time limit of each shard job (720)")
    p.add_argument("--partition", help="SLURM partition")
    p.add_argument("--gpus-per-shard", type=int, help="GPUs per SLURM task (default 1, 0 with --cpu; "
                   "with more, add --gpus all)")
    p.add_argument("--gate", type=Path, metavar="BASELINE", help="compare the merged run with this baseline")
    p.add_argument("--no-report", action="store_true", help="skip the merged run's HTML report")
    return p


def shard_dir(out: Path, index: int, count: int) -> Path:
    return out / "shards" / f"shard-{index}of{count}"


def shard_commands(run_argv: list[str], out: Path, count: int) -> list[list[str]]:
    """Each shard's command line; a shard directory that already holds a run is resumed."""
    commands = []
    for i in range(count):
        run_dir = shard_dir(out, i, count)
        where = f"--resume={run_dir}" if (run_dir / RUN_FILE).exists() else f"--out={run_dir}"
        commands.append([sys.executable, str(RUN_BENCH), *run_argv, "--no-report", f"--shard={i}/{count}", where])
    return commands


def submit_jobs(executor: str, commands: list[list[str]], folder: Path, opts: argparse.Namespace, cpu: bool) -> list:
    """Hand the commands to submitit: a SLURM job array, or local processes pinned round-robin to
    this machine's GPUs (none with --cpu)."""
    try:
        import submitit
    except ImportError:
        raise ShardError("submit needs submitit: pip install -e .[cluster]") from None
    from submitit.helpers import CommandFunction

    if executor == "slurm":
        try:
            ex = submitit.AutoExecutor(folder, cluster="slurm")
        except RuntimeError as err:  # no srun/sbatch here
            raise ShardError(f"submit --executor slurm: {err}") from None
        gpus = opts.gpus_per_shard if opts.gpus_per_shard is not None else (0 if cpu else 1)
        ex.update_parameters(name="fftbench", timeout_min=opts.timeout_min, tasks_per_node=1, gpus_per_node=gpus,
                             slurm_array_parallelism=len(commands),
                             **({"slurm_partition": opts.partition} if opts.partition else {}))
        return ex.submit_array([CommandFunction(c, cwd=Path.cwd()) for c in commands])
    from fftbench.gpus import visible_gpus

    gpus = [] if cpu else visible_gpus()
    if len(commands) > len(gpus) > 0:
        print(f"note: {len(commands)} shards on {len(gpus)} GPUs: shards share GPUs and disturb each other's times")
    ex = submitit.LocalExecutor(folder)
    ex.update_parameters(timeout_min=opts.timeout_min)
    # LocalExecutor would set CUDA_VISIBLE_DEVICES="" (no GPU) for every job: each command gets its own.
    envs = [dict(os.environ, CUDA_VISIBLE_DEVICES=gpus[i % len(gpus)].visible) if gpus else None
            for i in range(len(commands))]
    return ex.submit_array([CommandFunction(c, cwd=Path.cwd(), env=e) for c, e in zip(commands, envs)])


def wait_for(jobs: list) -> list[str]:
    """Wait for every job; one line per failed shard."""
    failures = []
    for i, job in enumerate(jobs):
        try:
            job.result()
        except Exception as err:  # noqa: BLE001 — submitit's job errors carry the shard's stderr
            failures.append(f"shard {i}/{len(jobs)} (job {job.job_id}, log {job.paths.stderr}): {_why(str(err))}")
    return failures


def _why(text: str) -> str:
    """The telling line of a failed shard's error: fftbench's own one-line error if it gave one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("fftbench: ")]
    raised = [line.split("Error: ", 1)[1] for line in lines if "Error: " in line]
    return (ours or raised or lines or ["no message"])[-1]


def main(argv: list[str]) -> int:
    from fftbench import cli, merge
    from fftbench.suites import load_suite

    opts, run_argv = build_parser().parse_known_args(argv)
    run_args = cli.build_parser().parse_args(run_argv)  # unknown flags: argparse's message, exit 2
    if opts.shards < 1:
        raise ShardError(f"submit --shards {opts.shards}: need at least 1")
    for flag in ("out", "resume", "shard"):
        if getattr(run_args, flag):
            raise ShardError(f"submit: --{flag} is set by submit for each shard (use submit's --out)")
    suite = load_suite(run_args.suite)
    sha = environment.git_info()["sha"] or "nogit"
    out = opts.out or cli.RUNS_DIR / f"{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}-{sha[:7]}-{opts.shards}shards"
    out = out.resolve()  # the shard commands run from this directory, maybe on another node
    if (out / RUN_FILE).exists():
        raise ShardError(f"submit: {out} already holds a merged run")
    jobs = submit_jobs(opts.executor, shard_commands(run_argv, out, opts.shards), out / "submitit", opts, run_args.cpu)
    print(f"submitted {len(jobs)} shard jobs ({opts.executor}: {', '.join(str(j.job_id) for j in jobs)}); "
          f"logs in {out / 'submitit'}; waiting", flush=True)
    failures = wait_for(jobs)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        print(f"fftbench: {len(failures)} of {len(jobs)} shards failed (their logs say why); the same submit "
              "command resumes them", file=sys.stderr)
        return 1
    merge.main([*(str(shard_dir(out, i, opts.shards)) for i in range(opts.shards)), "--out", str(out),
                *(["--no-report"] if opts.no_report else [])])
    if opts.gate:
        from fftbench import compare

        return compare.main([str(opts.gate), str(out)])
    return 0
