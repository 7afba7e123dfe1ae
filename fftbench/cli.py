"""Command line: run a suite (default), list suites and backends, render a report, compare runs.

    fftbench --suite seqlen [--backends a,b] [--dtypes fp16] [--seqlens 1K,4K] [--modes causal] [--passes fwd,bwd]
    fftbench --list
    fftbench report RUN_DIR
    fftbench profile RUN_DIR [--seqlens 1K,4K] [--modes causal] [--dtypes fp16] [--backends monarch_long] [--passes bwd]
    fftbench compare BASELINE CURRENT [...]
    fftbench --suite smoke --gate BASELINE_RUN_DIR

Bad input (unknown suite or backend, malformed suite, impossible problem, unwritable output
directory) is one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fftbench import environment
from fftbench.problem import DTYPES, MODES, PASSES, ProblemError
from fftbench.results import RUN_FILE, export_tables, load_run, write_run_meta
from fftbench.suites import SuiteError, available_suites, load_suite, parse_seqlen

RUNS_DIR = environment.REPO_ROOT / "reports" / "runs"


class CliError(Exception):
    """Bad input: reported as one line, exit code 2."""


def _csv(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fftbench", description="Benchmark long FFT convolutions.",
                                epilog="subcommands: 'report RUN_DIR', 'compare BASELINE CURRENT' (see --help of each)")
    p.add_argument("--suite", default="seqlen", help=f"suite name or TOML path (default seqlen; have: {', '.join(available_suites())})")
    p.add_argument("--backends", help="comma-separated backend or family names, e.g. torch,monarch_cuda (default: the suite's)")
    p.add_argument("--dtypes", help=f"replace the suite's dtypes ({','.join(DTYPES)})")
    p.add_argument("--seqlens", help="replace the suite's sequence lengths, e.g. 1K,4K,1M")
    p.add_argument("--modes", help=f"replace the suite's modes ({','.join(MODES)})")
    p.add_argument("--passes", help=f"replace the suite's passes ({','.join(PASSES)}): forward, backward, a training step")
    p.add_argument("--list", action="store_true", help="list suites and backends (with availability) and exit")
    p.add_argument("--out", type=Path, help="run directory (default reports/runs/<suite>-<time>-<commit>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a killed run, skipping finished rows")
    p.add_argument("--cpu", action="store_true", help="run on the CPU with CPU-sized problems even if a GPU is present")
    p.add_argument("--point-timeout", type=float, default=900.0, help="seconds before a hung point is killed")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--gate", type=Path, metavar="BASELINE", help="after the run, compare with this baseline run and exit non-zero on regressions")
    p.add_argument("--recalibrate", action="store_true", help="re-measure the device's copy and matmul ceilings")
    p.add_argument("--profile", nargs="?", const="all", metavar="SEQLENS",
                   help="after the run, re-run its ok points under Nsight Compute (all, or e.g. 1K,4K,1M)")
    return p


def list_everything(has_cuda: bool) -> str:
    from fftbench.registry import load_backends

    lines = ["suites:"]
    for name in available_suites():
        lines.append(f"  {name:<10} {load_suite(name).description}")
    lines.append("backends:")
    for b in load_backends().values():
        why = b.unavailable_reason(has_cuda)
        state = "available" if why is None else f"unavailable: {why}"
        caps = f"{','.join(b.dtypes)} {','.join(b.modes)} {','.join(b.passes)} N∈[{b.seqlen_min},{b.seqlen_max}]"
        lines.append(f"  {b.name:<18} [{b.family}] {caps} — {state}\n      {b.description}")
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
        over["seqlen"] = [parse_seqlen(s) for s in _csv(args.seqlens)]
    return over


def _prepare_run_dir(args, suite_name: str, git: dict) -> tuple[Path, dict | None]:
    if args.resume:
        meta_path = args.resume / RUN_FILE
        if not meta_path.exists():
            raise CliError(f"--resume {args.resume}: no {RUN_FILE} there")
        meta, _ = load_run(args.resume)
        if meta.get("suite") != suite_name:
            raise CliError(f"--resume {args.resume}: that run is of suite {meta.get('suite')!r}, not {suite_name!r}")
        return args.resume, meta
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = args.out or RUNS_DIR / f"{suite_name}-{stamp}-{(git['sha'] or 'nogit')[:7]}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ".write-test").touch()
        (run_dir / ".write-test").unlink()
    except OSError as err:
        raise CliError(f"cannot write to {run_dir}: {err.strerror or err}") from None
    return run_dir, None


def run(args) -> int:
    import torch

    from fftbench.calibration import calibration
    from fftbench.runner import RunSpec, Sweep, default_device
    from fftbench.summary import summary_table

    suite = load_suite(args.suite)
    device = default_device(force_cpu=args.cpu)
    cpu_sized = device == "cpu"
    if cpu_sized and suite.cpu:
        print(f"note: {'--cpu given' if args.cpu else 'no GPU visible'}: running the suite's CPU-sized problems", file=sys.stderr)
    problems = suite.points(cpu_sized=cpu_sized, overrides=_axis_overrides(args))
    backends = _select_backends(suite, _csv(args.backends))
    git = environment.git_info()
    run_dir, meta = _prepare_run_dir(args, suite.name, git)
    if meta is None:
        meta = {
            "run_id": run_dir.name, "suite": suite.name, "argv": sys.argv[1:],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "git": git, "env": environment.static_environment(),
            "calibration": calibration(torch.device(device), refresh=args.recalibrate),
            "budgets": suite.budgets, "gate": suite.gate, "cpu_sized": cpu_sized, "env_samples": [],
        }
    write_run_meta(run_dir, meta)
    sweep = Sweep(RunSpec(suite=suite, problems=problems, backends=backends, device=device,
                          run_dir=run_dir, run_meta=meta, point_timeout_s=args.point_timeout))
    try:
        sweep.run()
    finally:
        meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_run_meta(run_dir, meta)
    if args.profile:
        from fftbench.profile import profile_run

        seqlens = None if args.profile == "all" else [parse_seqlen(s) for s in _csv(args.profile)]
        profile_run(run_dir, {"seqlen": seqlens})
    export_tables(run_dir)
    print(summary_table(load_run(run_dir)[1]))
    print(f"results: {run_dir}")
    if not args.no_report:
        render_report(run_dir)
    if args.gate:
        from fftbench import compare

        return compare.main([str(args.gate), str(run_dir)])
    return 0


def render_report(run_dir: Path) -> None:
    from fftbench.report import write_report

    print(f"report: {write_report(run_dir)}")


def profile_command(argv: list[str]) -> int:
    """fftbench profile RUN_DIR [--seqlens 1K,4K] [--modes causal] [--dtypes fp16] [--backends b1,b2] [--passes bwd]:
    ncu over a finished run's ok points (all of them, or those matching every filter given)."""
    p = argparse.ArgumentParser(prog="fftbench profile")
    p.add_argument("run_dir", type=Path)
    for flag in ("--seqlens", "--modes", "--dtypes", "--backends", "--passes"):
        p.add_argument(flag)
    args = p.parse_args(argv)
    if not (args.run_dir / RUN_FILE).exists():
        raise CliError(f"{args.run_dir}: not a run directory (no {RUN_FILE})")
    from fftbench.profile import profile_run

    only = {"seqlen": [parse_seqlen(s) for s in _csv(args.seqlens)] if args.seqlens else None,
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
    except (CliError, SuiteError, ProblemError) as err:
        print(f"fftbench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fftbench: interrupted; finished rows are saved (use --resume RUN_DIR)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
