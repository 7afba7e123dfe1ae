"""Command line: run a suite (default), list suites and backends, render a report, compare runs.

    fftbench --suite seqlen [--backends a,b] [--dtypes fp16] [--seqlens 1K,4K] [--modes causal] [--passes fwd,bwd]
    fftbench --list
    fftbench report RUN_DIR
    fftbench profile RUN_DIR [--seqlens 1K,4K] [--modes causal] [--dtypes fp16] [--backends monarch_long] [--passes bwd]
    fftbench compare BASELINE CURRENT [...]
    fftbench --suite smoke --gate BASELINE_RUN_DIR
    fftbench --suite seqlen --gpus all | --shard I/N      (see fftbench.shard, fftbench.lanes)
    fftbench merge RUN_DIR... --out DIR
    fftbench submit --executor slurm|local --shards N [run flags]

Bad input (unknown suite or backend, malformed suite, impossible problem, unwritable output
directory, a --resume that disagrees with the run) is one line on stderr and exit code 2, never a
traceback (fftbench.badinput).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fftbench import badinput, environment
from fftbench.compare import BadInput
from fftbench.problem import DTYPES, MODES, PASSES, ProblemError
from fftbench.results import (RESULTS_FILE, RUN_FILE, SUPERSEDED_PREFIX, export_tables, load_run, supersede_backends,
                              write_run_meta)
from fftbench.shard import ShardError
from fftbench.suites import SuiteError, available_suites, load_suite, parse_seqlen, suite_path

RUNS_DIR = environment.REPO_ROOT / "reports" / "runs"
DEFAULT_SUITE = "seqlen"
AXIS_FLAGS = {"dtype": "--dtypes", "seqlen": "--seqlens", "mode": "--modes", "pass": "--passes"}


class CliError(Exception):
    """Bad input: reported as one line, exit code 2."""


def _csv(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def build_parser() -> argparse.ArgumentParser:
    p = badinput.Parser(prog="fftbench", description="Benchmark long FFT convolutions.",
                        epilog="subcommands: 'report RUN_DIR', 'compare BASELINE CURRENT' (see --help of each)")
    p.add_argument("--suite", help=f"suite name or TOML path (default {DEFAULT_SUITE}; have: {', '.join(available_suites())})")
    p.add_argument("--backends", help="comma-separated backend or family names, e.g. torch,monarch_cuda (default: the suite's)")
    p.add_argument("--dtypes", help=f"replace the suite's dtypes ({','.join(DTYPES)})")
    p.add_argument("--seqlens", help="replace the suite's sequence lengths, e.g. 1K,4K,1M")
    p.add_argument("--modes", help=f"replace the suite's modes ({','.join(MODES)})")
    p.add_argument("--passes", help=f"replace the suite's passes ({','.join(PASSES)}): forward, backward, a training step")
    p.add_argument("--list", action="store_true", help="list suites and backends (with availability) and exit")
    p.add_argument("--out", type=Path, help="run directory (default reports/runs/<suite>-<time>-<commit>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue a killed run, skipping finished rows (its suite, backends, axes and device come from its run.json)")
    p.add_argument("--redo", metavar="BACKENDS",
                   help="with --resume: measure these backends' rows again (after a kernel change); "
                        "their old rows move to superseded-results.jsonl in the run directory")
    p.add_argument("--cpu", action="store_true", help="run on the CPU with CPU-sized problems even if a GPU is present")
    p.add_argument("--point-timeout", type=float, default=900.0, help="seconds before a hung point is killed")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--gate", type=Path, metavar="BASELINE", help="after the run, compare with this baseline run and exit non-zero on regressions")
    p.add_argument("--accuracy-nonfatal", action="store_true", help="with --gate: report error growth, do not fail on it")
    p.add_argument("--recalibrate", action="store_true", help="re-measure the device's copy and matmul ceilings")
    p.add_argument("--profile", nargs="?", const="all", metavar="SEQLENS",
                   help="after the run, re-run its ok points under Nsight Compute (all, or e.g. 1K,4K,1M)")
    p.add_argument("--gpus", metavar="all|0,1", help="one worker per GPU (nvidia-smi indices), tasks split over them")
    p.add_argument("--shard", metavar="I/N", help="run only shard I (0..N-1) of N of the suite's points")
    return p


def list_everything(has_cuda: bool) -> str:
    from fftbench.registry import load_backends

    lines = ["suites:"]
    for name in available_suites():
        lines.append(f"  {name:<10} {load_suite(name).description}")
    lines.append("backends:")
    backends = load_backends().values()
    width = max(len(b.name) for b in backends)
    for b in backends:
        why = b.unavailable_reason(has_cuda)
        state = "available" if why is None else f"unavailable: {why}"
        caps = f"{','.join(b.dtypes)} {','.join(b.modes)} {','.join(b.passes)} N∈[{b.seqlen_min},{b.seqlen_max}]"
        lines.append(f"  {b.name:<{width}} [{b.family}] {caps} — {state}\n      {b.description}")
    return "\n".join(lines)


def _select_backends(suite, names: list[str] | None):
    from fftbench.registry import load_backends

    known = load_backends()
    families = {}
    for b in known.values():
        families.setdefault(b.family, []).append(b.name)
    wanted = []
    for name in names or suite.backends or list(known):
        if name not in known and name not in families:
            raise CliError(f"unknown backend {name!r}; backends: {', '.join(known)}; families: {', '.join(families)}")
        wanted += [n for n in ([name] if name in known else families[name]) if n not in wanted]
    return [known[n] for n in wanted]


def _axis_overrides(args) -> dict:
    over = {}
    if args.dtypes:
        bad = [d for d in _csv(args.dtypes) if d not in DTYPES]
        if bad:
            raise CliError(f"--dtypes: unknown {', '.join(bad)} (have {', '.join(DTYPES)})")
        over["dtype"] = _csv(args.dtypes)
    if args.modes:
        bad = [m for m in _csv(args.modes) if m not in MODES]
        if bad:
            raise CliError(f"--modes: unknown {', '.join(bad)} (have {', '.join(MODES)})")
        over["mode"] = _csv(args.modes)
    if args.passes:
        bad = [m for m in _csv(args.passes) if m not in PASSES]
        if bad:
            raise CliError(f"--passes: unknown {', '.join(bad)} (have {', '.join(PASSES)})")
        over["pass"] = _csv(args.passes)
    if args.seqlens:
        over["seqlen"] = _seqlens("--seqlens", args.seqlens)
    return over


def _seqlens(flag: str, text: str) -> list[int]:
    try:
        return [parse_seqlen(s) for s in _csv(text)]
    except SuiteError as err:
        raise CliError(f"{flag}: {err}") from None


def _new_run_dir(args, suite_name: str, git: dict) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = args.out or RUNS_DIR / f"{suite_name}-{stamp}-{(git['sha'] or 'nogit')[:7]}"
    if (run_dir / RESULTS_FILE).exists() or (run_dir / RUN_FILE).exists():
        # a new run must not silently skip the points an older run left there (or mix with them)
        raise CliError(f"--out {run_dir}: already holds a run; continue it with --resume {run_dir}, or choose another --out")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ".write-test").touch()
        (run_dir / ".write-test").unlink()
    except OSError as err:
        raise CliError(f"cannot write to {run_dir}: {err.strerror or err}") from None
    return run_dir


def _check_flags(args) -> None:
    """Flags that would only fail after the sweep (or make every point fail) are refused first."""
    if not args.point_timeout > 0:
        raise CliError(f"--point-timeout {args.point_timeout:g}: must be a positive number of seconds")
    if args.gate:
        from fftbench.compare import load_side

        load_side(args.gate, "--gate baseline")
    if args.profile and args.profile != "all":
        _seqlens("--profile", args.profile)
    if args.redo and not args.resume:
        raise CliError(f"--redo {args.redo}: needs --resume RUN_DIR (it re-measures backends of an existing run)")


def _selection_from_flags(args):
    """(suite, backends, axis overrides, device) for a new run."""
    from fftbench.runner import default_device

    suite = load_suite(args.suite or DEFAULT_SUITE)
    return suite, _select_backends(suite, _csv(args.backends)), _axis_overrides(args), default_device(args.cpu)


def _selection_record(suite, backends, overrides: dict, device: str) -> dict:
    """What run.json keeps so that `--resume DIR` alone runs the same selection again."""
    from fftbench.suites import SUITES_DIR

    return {"suite": suite.name if suite.path.parent == SUITES_DIR else str(suite.path),
            "backends": [b.name for b in backends], "axes": overrides, "device": device}


def _selection_of_old_run(meta: dict) -> dict:
    """A run.json from before "selection" was recorded: the same, from its suite, argv and cpu_sized."""
    old = build_parser().parse_args(meta.get("argv") or [])
    suite = load_suite(meta.get("suite") or old.suite or DEFAULT_SUITE)
    return _selection_record(suite, _select_backends(suite, _csv(old.backends)), _axis_overrides(old),
                             "cpu" if meta.get("cpu_sized") else "cuda")


def _selection_from_run(args, meta: dict):
    """(suite, backends, axis overrides, device) of the run being resumed; a flag given as well
    must agree with it, or the resume is refused (one line)."""
    from fftbench.runner import default_device

    where = f"the run in {args.resume}"
    stored = meta.get("selection") or _selection_of_old_run(meta)
    suite = load_suite(stored["suite"])
    if args.suite and suite_path(args.suite) != suite.path:
        raise CliError(f"--suite {args.suite}: {where} is of suite {stored['suite']!r} (drop --suite to resume it)")
    device = stored["device"]
    if args.cpu and device != "cpu":
        raise CliError(f"--cpu: {where} ran on the GPU (drop --cpu to resume it)")
    if device == "cuda" and default_device() != "cuda":
        raise CliError(f"--resume {args.resume}: that run ran on a GPU, and none is visible here")
    backends = _select_backends(suite, stored["backends"])
    if args.backends and {b.name for b in _select_backends(suite, _csv(args.backends))} != set(stored["backends"]):
        raise CliError(f"--backends {args.backends}: {where} measures {','.join(stored['backends'])}")
    overrides = stored["axes"]
    problems = suite.points(cpu_sized=device == "cpu", overrides=overrides)
    for axis, values in _axis_overrides(args).items():
        have = sorted({getattr(p, "pass_" if axis == "pass" else axis) for p in problems})
        if sorted(set(values)) != have:
            raise CliError(f"{AXIS_FLAGS[axis]} {getattr(args, AXIS_FLAGS[axis][2:])}: {where} has "
                           f"{axis} {','.join(map(str, have))}")
    return suite, backends, overrides, device


def _redo(run_dir: Path, names: list[str], backends) -> None:
    """Supersede the rows of the named backends (each must be one the run measures)."""
    measured = {b.name for b in backends}
    unknown = [n for n in names if n not in measured]
    if unknown:
        raise CliError(f"--redo {','.join(unknown)}: the run in {run_dir} measures {','.join(sorted(measured))}")
    moved = supersede_backends(run_dir, set(names))
    print(f"redo: {moved} rows of {','.join(names)} moved to {SUPERSEDED_PREFIX}{RESULTS_FILE}; measuring them again")


def _resumed_meta(run_dir: Path) -> dict:
    if not (run_dir / RUN_FILE).exists():
        raise CliError(f"--resume {run_dir}: no {RUN_FILE} there")
    return load_run(run_dir)[0]


def _cpu_note(args, suite, problems) -> str:
    """Said before a CPU run starts: that its problems are CPU-sized, and for the suite's own
    selection how long it took on a 2-core machine."""
    why = "--cpu given" if args.cpu else "no GPU visible"
    sizes = sorted({p.seqlen for p in problems})
    note = f"note: {why}: running the {suite.name} suite's CPU-sized problems (N {sizes[0]}…{sizes[-1]})"
    default = not (args.resume or args.backends or args.dtypes or args.seqlens or args.modes or args.passes)
    if default and suite.cpu.get("minutes"):
        note += f"; this takes about {suite.cpu['minutes']:g} minutes on a 2-core machine"
    return note


def run(args) -> int:
    import torch

    from fftbench import shard
    from fftbench.calibration import calibration
    from fftbench.gpus import pick_gpus, visible_gpus
    from fftbench.runner import RunSpec, Sweep
    from fftbench.summary import summary_table

    _check_flags(args)
    git = environment.git_info()  # the measuring commit: a resumed run's new rows name it, not the run's first
    if args.resume:
        run_dir, meta = args.resume, _resumed_meta(args.resume)
        suite, backends, overrides, device = _selection_from_run(args, meta)
        if args.redo:
            _redo(run_dir, _csv(args.redo), backends)
            meta.setdefault("redone", []).append({"backends": _csv(args.redo), "git": git,
                                                  "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    else:
        suite, backends, overrides, device = _selection_from_flags(args)
        run_dir, meta = None, None
    cpu_sized = device == "cpu"
    problems = suite.points(cpu_sized=cpu_sized, overrides=overrides)
    if cpu_sized and suite.cpu:
        print(_cpu_note(args, suite, problems), file=sys.stderr)
    shard_spec = args.shard or (meta or {}).get("shard")  # a resumed shard keeps its partition
    if shard_spec:
        problems = shard.select(problems, shard_spec)
    gpus = pick_gpus(args.gpus, visible_gpus() if device == "cuda" else [])
    if meta is None:
        run_dir = _new_run_dir(args, suite.name, git)
        meta = {
            "run_id": run_dir.name, "suite": suite.name, "argv": sys.argv[1:],
            "selection": _selection_record(suite, backends, overrides, device),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "git": git, "env": environment.static_environment(),
            "calibration": calibration(torch.device(device), refresh=args.recalibrate),
            "budgets": suite.budgets, "gate": suite.gate, "cpu_sized": cpu_sized, "env_samples": [],
        }
        if shard_spec:
            meta["shard"] = "{}/{}".format(*shard.parse_shard(shard_spec))
    write_run_meta(run_dir, meta)
    sweep = Sweep(RunSpec(suite=suite, problems=problems, backends=backends, device=device,
                          run_dir=run_dir, run_meta=meta, point_timeout_s=args.point_timeout,
                          gpus=gpus, pin=args.gpus is not None, git=git,
                          env=environment.static_environment() if args.resume else None))
    try:
        sweep.run()
    finally:
        meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_run_meta(run_dir, meta)
    if args.profile:
        from fftbench.profile import profile_run

        seqlens = None if args.profile == "all" else _seqlens("--profile", args.profile)
        profile_run(run_dir, {"seqlen": seqlens})
    export_tables(run_dir)
    print(summary_table(load_run(run_dir)[1]))
    print(f"results: {run_dir}")
    if not args.no_report:
        render_report(run_dir)
    if args.gate:
        from fftbench import compare

        return compare.main([str(args.gate), str(run_dir)] + (["--accuracy-nonfatal"] if args.accuracy_nonfatal else []))
    return 0


def render_report(run_dir: Path) -> None:
    from fftbench.report import write_report

    print(f"report: {write_report(run_dir)}")


def profile_command(argv: list[str]) -> int:
    """fftbench profile RUN_DIR [--seqlens 1K,4K] [--modes causal] [--dtypes fp16] [--backends b1,b2] [--passes bwd]:
    ncu over a finished run's ok points (all of them, or those matching every filter given)."""
    p = badinput.Parser(prog="fftbench profile")
    p.add_argument("run_dir", type=Path)
    for flag in ("--seqlens", "--modes", "--dtypes", "--backends", "--passes"):
        p.add_argument(flag)
    args = p.parse_args(argv)
    if not (args.run_dir / RUN_FILE).exists():
        raise CliError(f"{args.run_dir}: not a run directory (no {RUN_FILE})")
    from fftbench.profile import profile_run

    only = {"seqlen": _seqlens("--seqlens", args.seqlens) if args.seqlens else None,
            "mode": _csv(args.modes), "dtype": _csv(args.dtypes), "backend": _csv(args.backends),
            "pass": _csv(args.passes)}
    print(f"profile: {profile_run(args.run_dir, only)}")
    export_tables(args.run_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["compare"]:
            from fftbench import compare

            return compare.main(argv[1:])
        if argv[:1] == ["profile"]:
            return profile_command(argv[1:])
        if argv[:1] == ["merge"]:
            from fftbench import merge

            return merge.main(argv[1:])
        if argv[:1] == ["submit"]:
            from fftbench import submit

            return submit.main(argv[1:])
        if argv[:1] == ["report"]:
            if len(argv) != 2 or not (Path(argv[1]) / RUN_FILE).exists():
                raise CliError("usage: fftbench report RUN_DIR (a directory holding run.json and results.jsonl)")
            render_report(Path(argv[1]))
            return 0
        args = build_parser().parse_args(argv)
        if args.list:
            import torch

            print(list_everything(torch.cuda.is_available()))
            return 0
        return run(args)
    except (CliError, SuiteError, ProblemError, BadInput, ShardError) as err:
        return badinput.report(str(err))
    except KeyboardInterrupt:
        print("fftbench: interrupted; finished rows are saved (use --resume RUN_DIR)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
