"""merge RUN_DIR... --out DIR: the shards of one sweep (--shard, submit, runs on several machines)
combined into one ordinary run directory, which report, compare and --gate read like any other.

Rows are combined by point key (results.KEY_COLUMNS) and written sorted by it, and run.json lists
the shards in a canonical order, so the merged run is the same whatever order the shards are named
in. A point found in two shards is refused: overlapping shards are a mistake, and which row is
right is not a merge's call. Shards of different suites, commits or machine models are refused
unless a flag allows it, because their rows are not one experiment. Each row keeps its shard's
run_id; run.json keeps each shard's environment, calibration and clock samples.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from fftbench.results import PROFILE_FILE, RESULTS_FILE, RUN_FILE, export_tables, jsonl_text, read_rows, row_key, write_run_meta
from fftbench.shard import ShardError


def _machine(meta: dict) -> str | None:
    """The model that timed a run: its GPU, or its CPU for a CPU-sized run."""
    env = meta.get("env") or {}
    return f"CPU {env.get('cpu')}" if meta.get("cpu_sized") else env.get("gpu")


# What shards must share: (name, how run.json says it, the flag that waives the check).
IDENTITY = (
    ("suite", lambda m: m.get("suite"), "--allow-mixed-suites"),
    ("commit", lambda m: (m.get("git") or {}).get("sha"), "--allow-mixed-commits"),
    ("GPU model", _machine, "--allow-mixed-gpus"),
)


@dataclasses.dataclass
class Shard:
    path: Path
    meta: dict
    rows: list[dict]

    @property
    def order(self) -> tuple:
        """Canonical position: shard index, then run id, then path."""
        index = int(self.meta["shard"].split("/")[0]) if self.meta.get("shard") else -1
        return index, str(self.meta.get("run_id")), str(self.path.resolve())


def load_shard(path: Path) -> Shard:
    path = Path(path)
    if not (path / RUN_FILE).is_file():
        raise ShardError(f"merge: {path} is not a run directory (no {RUN_FILE})")
    return Shard(path, json.loads((path / RUN_FILE).read_text()), list(read_rows(path / RESULTS_FILE)))


def check_identity(shards: list[Shard], allowed: set[str]) -> None:
    for name, read, flag in IDENTITY:
        values = {str(read(s.meta)) for s in shards}
        if len(values) > 1 and flag not in allowed:
            raise ShardError(f"merge: runs of different {name}s ({', '.join(sorted(values))}); "
                             f"pass {flag} to merge them anyway")


def _sort_key(row: dict) -> tuple:
    return tuple((v is None, "" if v is None else v) for v in row_key(row))


def merged_rows(shards: list[Shard]) -> list[dict]:
    """Every shard's rows, each point key once, sorted by key."""
    owner: dict[tuple, Shard] = {}
    for shard in shards:
        for row in shard.rows:
            key = row_key(row)
            if key in owner:
                where = f"{owner[key].path} and {shard.path}" if owner[key] is not shard else f"{shard.path} twice"
                raise ShardError(f"merge: {row['backend']} {row['batch']}x{row['channels']}x{row['seqlen']} "
                                 f"{row['dtype']} {row['mode']} is in {where} (overlapping shards?)")
            owner[key] = shard
    return sorted((r for s in shards for r in s.rows), key=_sort_key)


def merged_meta(shards: list[Shard], run_id: str) -> dict:
    """The first shard's run.json (suite, budgets, gate, environment for the report), with each
    shard's own facts under merged_from and every clock sample tagged with its shard."""
    first = shards[0].meta
    meta = {k: v for k, v in first.items() if k not in ("shard", "argv")}
    started = sorted(s.meta["started"] for s in shards if s.meta.get("started"))
    finished = sorted(s.meta["finished"] for s in shards if s.meta.get("finished"))
    meta.update(
        run_id=run_id,
        started=started[0] if started else None,
        finished=finished[-1] if finished else None,
        env_samples=[{"run_id": s.meta.get("run_id"), **e} for s in shards for e in s.meta.get("env_samples", [])],
        merged_from=[{"run_id": s.meta.get("run_id"), "path": str(s.path.resolve()), "rows": len(s.rows),
                      **{k: s.meta.get(k) for k in ("shard", "argv", "started", "finished", "git", "env", "calibration")}}
                     for s in shards],
    )
    return meta


def missing_shards(shards: list[Shard]) -> list[str]:
    """'I/N' of the shards of an N-way split that were not given (a partial merge is allowed)."""
    specs = [s.meta.get("shard") for s in shards]
    counts = {spec.split("/")[1] for spec in specs if spec}
    if len(counts) != 1 or None in specs:
        return []
    n = int(counts.pop())
    return [f"{i}/{n}" for i in range(n) if f"{i}/{n}" not in specs]


def merge_runs(paths: list[Path], out: Path, allowed: set[str] = frozenset()) -> list[Shard]:
    """Write the merged run of `paths` to `out` (results.jsonl, profile.jsonl, errors.log, run.json,
    tables) and return the shards in canonical order; raise ShardError for runs that must not be
    merged, before anything is written."""
    out = Path(out)
    shards = sorted((load_shard(p) for p in paths), key=lambda s: s.order)
    if any(s.path.resolve() == out.resolve() for s in shards):
        raise ShardError(f"merge: --out {out} is one of the runs being merged")
    if (out / RESULTS_FILE).exists() or (out / RUN_FILE).exists():
        raise ShardError(f"merge: --out {out} already holds a run")
    check_identity(shards, allowed)
    rows = merged_rows(shards)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ShardError(f"merge: cannot write to {out}: {err.strerror or err}") from None
    (out / RESULTS_FILE).write_text(jsonl_text(rows))
    profiles = sorted((r for s in shards for r in read_rows(s.path / PROFILE_FILE)), key=_sort_key)
    if profiles:
        (out / PROFILE_FILE).write_text(jsonl_text(profiles))
    logs = [(s, s.path / "errors.log") for s in shards if (s.path / "errors.log").exists()]
    if logs:
        (out / "errors.log").write_text("".join(f"=== {s.meta.get('run_id')} ({s.path})\n{log.read_text()}"
                                                for s, log in logs))
    write_run_meta(out, merged_meta(shards, out.name))
    export_tables(out)
    return shards


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fftbench merge", description="Combine the shards of a sweep into one run.")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--out", type=Path, required=True, help="the merged run's directory (new)")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    for _, _, flag in IDENTITY:
        p.add_argument(flag, action="store_true", help="merge runs that differ in this")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    allowed = {flag for _, _, flag in IDENTITY if getattr(args, flag[2:].replace("-", "_"))}
    shards = merge_runs(args.runs, args.out, allowed)
    missing = missing_shards(shards)
    if missing:
        print(f"note: shard(s) {', '.join(missing)} not given: the merged run is partial")
    print(f"merged {len(shards)} runs ({sum(len(s.rows) for s in shards)} rows) → {args.out}")
    if not args.no_report:
        from fftbench.report import write_report

        print(f"report: {write_report(args.out)}")
    return 0
