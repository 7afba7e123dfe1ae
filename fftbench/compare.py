"""Compare two runs point by point and decide whether the current one regressed (the CI gate).

Points are matched on KEY_COLUMNS less `suite` (so two suites that share points can be compared;
a suite mismatch is warned about). Each matched point gets a timing verdict in the spirit of
NVBench's robust compare: every run gives an interval per point ([p20, p80] by default, or
NVBench's [min, q3]), and

  slower / faster  the intervals do not overlap and the gap is at least `min_gap` of the slower
                   side's bound; when both rows carry the SM clock, the gap must also hold in
                   clock cycles (time x clock), so a throttled run is not read as a slower kernel;
  same             the medians differ by at most `same_tolerance` and the intervals overlap by at
                   least half of the narrower one;
  unclear          anything else: too noisy to tell.

The gate fails (exit 1) on: a `slower` point whose median grew by more than `max_slowdown`
(unless timing is non-fatal), a point whose error newly exceeds its budget, an accuracy
regression (an ok point whose relative error grew more than ERROR_GROWTH× and now exceeds
ERROR_FLOOR: a budget loose enough for torch.fft's fp16 error would let a kernel become 4× less
accurate unnoticed; unless accuracy is non-fatal), or a point that did not fail and now fails
(wrong, error, oom, timeout; this includes a newly supported point that crashes). A point that
became unsupported or unavailable, or vanished, is reported but does not fail: capabilities
change on purpose. A point failing in both runs is not a new regression.

With basis="ratio" the verdict is computed on each point's time divided by the baseline backend's
time (the row marked is_baseline) at the same point in the same run, which cancels a uniformly
faster or slower machine.

Thresholds (fftbench.suites.Thresholds) come from, in increasing precedence: the defaults, the
current run's run.json "gate" dict (written from the suite file), and the command line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

from fftbench import badinput
from fftbench.problem import point_label
from fftbench.results import (
    FAILED, KEY_COLUMNS, RESULTS_FILE, RUN_FILE, SCHEMA_VERSION, SKIPPED, with_legacy_defaults,
)
from fftbench.suites import SPREADS, SuiteError, Thresholds

MATCH_COLUMNS = tuple(c for c in KEY_COLUMNS if c != "suite")
ERROR_GROWTH = 2.0  # relative L2 error grown by more than this factor is an accuracy regression...
ERROR_FLOOR = 1e-5  # ...once it is above this (below it, fp32 rounding noise moves freely)


class BadInput(Exception):
    """A run that cannot be compared; the message is the one line printed on stderr."""


@dataclasses.dataclass
class Run:
    """One side of a comparison: metadata and rows keyed by point."""

    path: Path
    meta: dict
    rows: dict[tuple, dict]
    baseline_backend: str | None  # the backend whose rows are marked is_baseline (the registry's baseline)

    @property
    def label(self) -> str:
        env, git = self.meta.get("env", {}), self.meta.get("git", {})
        sha = (git.get("sha") or "?")[:10] + ("+dirty" if git.get("dirty") else "")
        machine = env.get("gpu") or env.get("cpu") or "unknown machine"
        return f"{self.meta.get('run_id', self.path.name)} ({machine}, {sha})"

    def baseline_row(self, row: dict) -> dict | None:
        return self.rows.get(point_key({**row, "backend": self.baseline_backend}))


def point_key(row: dict) -> tuple:
    return tuple(row.get(c) for c in MATCH_COLUMNS)


def load_side(path: str | Path, role: str) -> Run:
    """A run directory, or a results.jsonl file (run.json beside it is used when present).

    Stricter than results.read_rows: a committed baseline with a corrupt line is an error, not
    a smaller baseline. Only an unterminated last line (a killed run) is skipped.
    """
    path = Path(path)
    results = path / RESULTS_FILE if path.is_dir() else path
    if not results.is_file():
        raise BadInput(f"{role} {path}: no {RESULTS_FILE} found")
    meta_path = results.parent / RUN_FILE
    try:
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"{role} {meta_path}: not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise BadInput(f"{role} {meta_path}: not a JSON object")
    rows = {}
    try:
        lines = results.read_text().split("\n")
    except UnicodeDecodeError:
        raise BadInput(f"{role} {results}: not a text file") from None
    for number, line in enumerate(lines[:-1], start=1):  # lines[-1] is "" or a torn last line
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise BadInput(f"{role} {results}:{number}: not a JSON row") from None
        if isinstance(row, dict):
            row = with_legacy_defaults(row)
        if not isinstance(row, dict) or any(c not in row for c in MATCH_COLUMNS + ("status",)):
            raise BadInput(f"{role} {results}:{number}: not a results row (missing key columns)")
        if row.get("schema_version") != SCHEMA_VERSION:
            raise BadInput(f"{role} {results}:{number}: schema_version {row.get('schema_version')!r}, "
                           f"expected {SCHEMA_VERSION}")
        rows[point_key(row)] = row  # a resumed point appears again: the last row wins
    if not rows:
        raise BadInput(f"{role} {results}: no result rows")
    baseline = next((r["backend"] for r in rows.values() if r.get("is_baseline")), None)
    return Run(path=path, meta=meta, rows=rows, baseline_backend=baseline)


@dataclasses.dataclass(frozen=True)
class Interval:
    center: float
    lo: float
    hi: float

    def scaled(self, factor: float) -> "Interval":
        return Interval(self.center * factor, self.lo * factor, self.hi * factor)


def _interval(row: dict, spread: str) -> Interval | None:
    lo_col, hi_col = SPREADS[spread]
    values = (row.get("t_p50_us"), row.get(lo_col), row.get(hi_col))
    if any(v is None or not math.isfinite(v) or v <= 0 for v in values):
        return None
    return Interval(*values)


def _ratio_interval(row: dict, base: dict | None, spread: str) -> Interval | None:
    """time / the baseline backend's time; the bounds combine both spreads (conservative)."""
    mine, theirs = _interval(row, spread), base and _interval(base, spread)
    if mine is None or not theirs:
        return None
    return Interval(mine.center / theirs.center, mine.lo / theirs.hi, mine.hi / theirs.lo)


def _gap_verdict(old: Interval, new: Interval, min_gap: float) -> str | None:
    if new.lo > old.hi and (new.lo - old.hi) / old.hi >= min_gap:
        return "slower"
    if new.hi < old.lo and (old.lo - new.hi) / new.hi >= min_gap:
        return "faster"
    return None


def timing_verdict(old: Interval, new: Interval, t: Thresholds, clocks: tuple | None = None) -> str:
    """slower / faster / same / unclear from two intervals (see the module docstring)."""
    gap = _gap_verdict(old, new, t.min_gap)
    if gap:
        if clocks and _gap_verdict(old.scaled(clocks[0]), new.scaled(clocks[1]), t.min_gap) != gap:
            return "unclear"
        return gap
    center_change = abs(new.center - old.center) / min(new.center, old.center)
    overlap = min(old.hi, new.hi) - max(old.lo, new.lo)
    narrower = min(old.hi - old.lo, new.hi - new.lo)
    overlaps = overlap >= 0.5 * narrower if narrower > 0 else overlap >= 0
    return "same" if center_change <= t.same_tolerance and overlaps else "unclear"


def _error_growth(old: dict, new: dict) -> str | None:
    """The accuracy regression message of two ok rows, or None."""
    before, after = old.get("rel_l2_err"), new.get("rel_l2_err")
    if not (old["status"] == new["status"] == "ok") or before is None or after is None:
        return None
    if after > ERROR_FLOOR and after > ERROR_GROWTH * before:
        growth = after / before if before > 0 else math.inf
        return f"accuracy: rel L2 error grew ×{growth:.3g} ({before:.2e} → {after:.2e}; limit ×{ERROR_GROWTH:g})"
    return None


def _exceeds_budget(row: dict) -> bool:
    err, budget = row.get("rel_l2_err"), row.get("err_budget")
    if row.get("status") == "wrong":
        return True
    return err is not None and budget is not None and not err <= budget


@dataclasses.dataclass
class PointDiff:
    """What changed at one point between the runs, and whether it fails the gate."""

    key: tuple
    backend: str
    label: str
    status: tuple[str | None, str | None]
    verdict: str                     # slower/faster/same/unclear, or "n/a" without timings
    change: float | None = None      # relative change of the compared quantity (time or ratio)
    p50_us: tuple[float | None, float | None] = (None, None)
    ratio: tuple[float | None, float | None] = (None, None)  # time / baseline backend's time, each run
    err: tuple[float | None, float | None] = (None, None)
    failures: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def p50_change(self) -> float | None:
        return _change(*self.p50_us)

    @property
    def ratio_change(self) -> float | None:
        return _change(*self.ratio)

    @property
    def err_change(self) -> float | None:
        old, new = self.err
        return new / old if old and new is not None else None

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    def severity(self) -> tuple:
        """Sort key, worst first: status failures, then budget failures, then the biggest slowdown."""
        kind = 0 if any(f.startswith("now") for f in self.failures) else 1 if self.failures else 2
        return (not self.failed, kind, -(self.change or 0.0))


def _change(old, new) -> float | None:
    return new / old - 1.0 if old and new is not None else None


def diff_point(base: Run, cur: Run, key: tuple, t: Thresholds) -> PointDiff:
    old, new = base.rows[key], cur.rows[key]
    old_base, new_base = base.baseline_row(old), cur.baseline_row(new)
    old_ratio = _ratio_interval(old, old_base, t.spread)
    new_ratio = _ratio_interval(new, new_base, t.spread)
    diff = PointDiff(
        key=key, backend=new["backend"], label=point_label(new), status=(old["status"], new["status"]),
        verdict="n/a", p50_us=(old.get("t_p50_us"), new.get("t_p50_us")),
        ratio=(old_ratio and old_ratio.center, new_ratio and new_ratio.center),
        err=(old.get("rel_l2_err"), new.get("rel_l2_err")),
    )
    if new["status"] in FAILED and old["status"] not in FAILED:
        diff.failures.append(f"now {new['status']}: {new.get('reason') or 'no reason given'}")
    elif _exceeds_budget(new) and not _exceeds_budget(old) and old["status"] not in FAILED:
        diff.failures.append(f"error {new['rel_l2_err']:.2e} exceeds budget {new['err_budget']:.1e}")
    elif old["status"] == "ok" and new["status"] in SKIPPED:
        diff.notes.append(f"now {new['status']}: {new.get('reason') or 'no reason given'}")
    elif old["status"] != "ok" and new["status"] == "ok":
        diff.notes.append(f"was {old['status']}, now ok")
    elif grown := _error_growth(old, new):
        (diff.failures if t.accuracy_fatal else diff.notes).append(grown)

    pair = (old_ratio, new_ratio) if t.basis == "ratio" else (_interval(old, t.spread), _interval(new, t.spread))
    if old["status"] == new["status"] == "ok" and None not in pair:
        clocks = (old.get("sm_clock_mhz"), new.get("sm_clock_mhz"))
        clocks = clocks if t.basis == "time" and all(clocks) else None
        diff.verdict = timing_verdict(*pair, t, clocks)
        diff.change = _change(pair[0].center, pair[1].center)
        if diff.verdict == "unclear" and clocks and _gap_verdict(*pair, t.min_gap):
            diff.notes.append(f"gap not confirmed in cycles (SM clock {clocks[0]:g} -> {clocks[1]:g} MHz)")
        if diff.verdict == "slower" and diff.change > t.max_slowdown:
            message = f"{t.basis} +{diff.change:.1%} (> {t.max_slowdown:.1%}), outside both spreads"
            (diff.failures if t.timing_fatal else diff.notes).append(message)
    return diff


@dataclasses.dataclass
class CompareResult:
    baseline: Run
    current: Run
    thresholds: Thresholds
    points: list[PointDiff]
    missing: list[tuple]   # in the baseline, not in the current run
    added: list[tuple]     # in the current run only
    warnings: list[str]

    @property
    def regressions(self) -> list[PointDiff]:
        return [p for p in self.points if p.failed]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def to_markdown(self, max_rows: int = 50) -> str:
        return render_markdown(self, max_rows)


def _machine_warnings(base: Run, cur: Run, t: Thresholds) -> list[str]:
    warnings = []
    if base.meta.get("suite") and cur.meta.get("suite") and base.meta["suite"] != cur.meta["suite"]:
        warnings.append(f"suites differ: {base.meta['suite']} vs {cur.meta['suite']} (only shared points compared)")
    for field in ("gpu", "driver", "torch", "cuda"):
        old, new = base.meta.get("env", {}).get(field), cur.meta.get("env", {}).get(field)
        if old and new and old != new:
            hint = " (consider --basis ratio)" if field == "gpu" and t.basis == "time" else ""
            warnings.append(f"{field} differs: {old} vs {new}{hint}")
    if base.meta.get("cpu_sized") != cur.meta.get("cpu_sized") and "cpu_sized" in base.meta and "cpu_sized" in cur.meta:
        warnings.append("one run was CPU-sized and the other was not")
    return warnings


def compare_runs(baseline: str | Path, current: str | Path,
                 thresholds: Thresholds | dict | None = None) -> CompareResult:
    """Compare two runs (directories or results.jsonl files).

    thresholds: a Thresholds used as is, or a dict of overrides applied on top of the current
    run's run.json "gate" dict (None: that dict alone). Raises BadInput for unusable input.
    """
    base, cur = load_side(baseline, "baseline"), load_side(current, "current")
    if not isinstance(thresholds, Thresholds):
        thresholds = Thresholds.merged(cur.meta.get("gate") or {}, thresholds or {})
    shared = [k for k in cur.rows if k in base.rows]
    points = sorted((diff_point(base, cur, k, thresholds) for k in shared), key=PointDiff.severity)
    return CompareResult(
        baseline=base, current=cur, thresholds=thresholds, points=points,
        missing=[k for k in base.rows if k not in cur.rows], added=[k for k in cur.rows if k not in base.rows],
        warnings=_machine_warnings(base, cur, thresholds),
    )


# --- Markdown summary (CI log / job summary) --------------------------------------------------

_TABLE_HEADER = (
    "| backend | point | status | p50 µs (base → cur) | Δ p50 | Δ vs baseline | rel L2 err (base → cur) "
    "| verdict | why |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def _num(value, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _pct(value) -> str:
    return "–" if value is None else f"{value:+.1%}"


def _table_row(p: PointDiff) -> str:
    status = p.status[1] if p.status[0] == p.status[1] else f"{p.status[0]} → {p.status[1]}"
    why = "; ".join(p.failures + p.notes).replace("|", "\\|")
    err_change = f" (×{p.err_change:.2g})" if p.err_change is not None else ""
    return (f"| {p.backend} | {p.label} | {status} | {_num(p.p50_us[0], '.4g')} → {_num(p.p50_us[1], '.4g')} "
            f"| {_pct(p.p50_change)} | {_pct(p.ratio_change)} | {_num(p.err[0], '.2e')} → {_num(p.err[1], '.2e')}"
            f"{err_change} | {p.verdict} | {why} |")


def _table(points: list[PointDiff], max_rows: int) -> list[str]:
    lines = [_TABLE_HEADER] + [_table_row(p) for p in points[:max_rows]]
    if len(points) > max_rows:
        lines.append(f"\n… and {len(points) - max_rows} more (raise --max-rows to see them)")
    return lines


def _is_notable(p: PointDiff) -> bool:
    err_moved = p.err_change is not None and not 0.5 <= p.err_change <= 2.0
    return p.verdict in ("slower", "faster", "unclear") or bool(p.notes) or err_moved


def _key_label(key: tuple) -> str:
    row = dict(zip(MATCH_COLUMNS, key))
    return f"{row['backend']} {point_label(row)}"


def render_markdown(result: CompareResult, max_rows: int = 50) -> str:
    """Worst regressions first, then other notable changes, then what could not be matched."""
    regressions = result.regressions
    head = f"FAIL: {len(regressions)} regression(s)" if regressions else "PASS: no regressions"
    counts = {}
    for p in result.points:
        counts[p.verdict] = counts.get(p.verdict, 0) + 1
    tally = " · ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    lines = [
        f"## fftbench compare — {head}", "",
        f"- baseline: {result.baseline.label}", f"- current: {result.current.label}",
        f"- thresholds: {result.thresholds.describe()}",
        f"- {len(result.points)} points compared: {tally}; {len(result.missing)} missing, {len(result.added)} new", "",
    ]
    lines += [f"> warning: {w}" for w in result.warnings] + ([""] if result.warnings else [])
    if regressions:
        lines += ["### Regressions", ""] + _table(regressions, max_rows) + [""]
    notable = [p for p in result.points if not p.failed and _is_notable(p)]
    if notable:
        lines += ["### Other changes", ""] + _table(notable, max_rows) + [""]
    for title, keys in (("Missing from the current run", result.missing), ("New in the current run", result.added)):
        if keys:
            lines += [f"### {title} ({len(keys)})", ""] + [f"- {_key_label(k)}" for k in keys[:max_rows]] + [""]
    return "\n".join(lines).rstrip()


def build_parser() -> argparse.ArgumentParser:
    parser = badinput.Parser(
        prog="fftbench compare", description="Compare two fftbench runs; exit 1 on a regression, 2 on bad input.")
    parser.add_argument("baseline", help="baseline run directory or results.jsonl")
    parser.add_argument("current", help="current run directory or results.jsonl")
    parser.add_argument("--max-slowdown", type=float, help="fail a slower point only beyond this fraction (0.05)")
    parser.add_argument("--min-gap", type=float, help="relative gap between intervals for slower/faster (0.005)")
    parser.add_argument("--same-tolerance", type=float, help="relative median change still 'same' (0.02)")
    parser.add_argument("--spread", choices=tuple(SPREADS), help="noise interval per run (p20-p80)")
    parser.add_argument("--basis", choices=("time", "ratio"), help="compare times, or times relative to the baseline backend's")
    parser.add_argument("--timing-nonfatal", action="store_const", const=False, dest="timing_fatal",
                        help="report timing verdicts but fail only on correctness and status changes")
    parser.add_argument("--accuracy-nonfatal", action="store_const", const=False, dest="accuracy_fatal",
                        help=f"report a relative error grown > {ERROR_GROWTH:g}x but do not fail on it")
    parser.add_argument("--max-rows", type=int, default=50, help="rows per Markdown table (50)")
    parser.add_argument("--summary", type=Path, help="also write the Markdown summary to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {k: getattr(args, k) for k in ("max_slowdown", "min_gap", "same_tolerance", "spread", "basis",
                                               "timing_fatal", "accuracy_fatal")}
    try:
        Thresholds.merged(overrides)  # a bad threshold is refused before any run is read
        result = compare_runs(args.baseline, args.current, overrides)
    except (BadInput, SuiteError) as err:
        return badinput.report(str(err))
    text = result.to_markdown(args.max_rows)
    print(text)
    if args.summary:
        args.summary.write_text(text + "\n")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
