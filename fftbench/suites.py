"""Suites are TOML files in suites/: named axes whose product is the set of points.

    [axes]              seqlen = {pow2 = [8, 22]} or a list; dtype, mode, gated,
                        kernel_frac (K/N), freq_sparsity, pass (fwd, bwd, fwd_bwd): lists
    [shape]             elements = B·H·N kept constant across N (equal work per point),
                        channels = H, max_batch; overrides = [{seqlen, batch, channels}, ...]
    [cpu]               axes/shape tables that replace the above when no GPU is present, so the
                        same command runs CPU-sized problems anywhere (and says so); minutes: how
                        long that default CPU run took on a 2-core machine (printed before it starts)
    [budgets]           relative L2 error budget per dtype (default: reference.DEFAULT_BUDGETS)
    [timing]            fields of timing.TimingOptions
    [gate]              fields of Thresholds below (what each decides: fftbench.compare)
    [[exclude]]         axis values to drop, with a reason, e.g. {dtype = "fp32", mode = "causal", reason = "..."}
    backends            list of backend names, or "all"

Every table and field is checked here, by type and range, before anything runs: a bad value is a
one-line SuiteError naming the file, the table and the field, and an unknown key is refused
(a misspelt threshold would otherwise be ignored in silence).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
from pathlib import Path
from typing import Callable

from fftbench.problem import DTYPES, MODES, PASSES, Problem, ProblemError, pow2_lengths
from fftbench.reference import DEFAULT_BUDGETS
from fftbench.timing import TimingOptions

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
AXES = ("seqlen", "dtype", "mode", "gated", "kernel_frac", "freq_sparsity", "pass")
_AXIS_DEFAULTS = {"dtype": ["fp16"], "mode": ["causal"], "gated": [False], "kernel_frac": [1.0], "freq_sparsity": [0.0],
                  "pass": ["fwd"]}

# The gate's noise interval per run: spread name -> (low, high) columns.
SPREADS = {"p20-p80": ("t_p20_us", "t_p80_us"), "min-q3": ("t_min_us", "t_q3_us")}


class SuiteError(ValueError):
    """A malformed or unknown suite, or a bad value for one; the message is one line."""


def parse_seqlen(text) -> int:
    """'4096', '4K', '1M' → int; an error echoes the text as given."""
    given = str(text).strip()
    scale = {"K": 1 << 10, "M": 1 << 20}.get(given[-1:].upper(), 1)
    digits = given[:-1] if scale > 1 else given
    if not (digits.isascii() and digits.isdigit()) or int(digits) == 0:
        raise SuiteError(f"{given!r}: expected a sequence length like 4096, 4K or 1M (a positive integer)")
    return int(digits) * scale


# --- checks: check(value, path) returns the value, normalised, or raises SuiteError ------------

Check = Callable[[object, tuple], object]


def _where(path: tuple) -> str:
    """('cpu', 'axes', 'seqlen') → '[cpu.axes] seqlen'; a top-level field is its bare name."""
    *table, field = path
    return f"[{'.'.join(table)}] {field}" if table else field


def _fail(path: tuple, expected: str, value) -> None:
    raise SuiteError(f"{_where(path)}: expected {expected}, got {value!r}")


def _number(expected: str, ok: Callable[[float], bool]) -> Check:
    def check(value, path):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
            _fail(path, expected, value)
        return value
    return check


_positive = _number("a positive number", lambda v: v > 0)
_non_negative = _number("a non-negative number", lambda v: v >= 0)
_kernel_frac = _number("a fraction K/N in (0, 1]", lambda v: 0 < v <= 1)
_sparsity = _number("a fraction in [0, 1)", lambda v: 0 <= v < 1)


def _positive_int(value, path):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(path, "a positive integer", value)
    return value


def _of_type(kind: type, expected: str) -> Check:
    def check(value, path):
        if not isinstance(value, kind):
            _fail(path, expected, value)
        return value
    return check


_bool = _of_type(bool, "true or false")
_string = _of_type(str, "a string")


def _choice(choices) -> Check:
    def check(value, path):
        if value not in choices:
            _fail(path, f"one of {', '.join(map(str, choices))}", value)
        return value
    return check


def _seqlen(value, path):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        _fail(path, "an integer or a string like 4K", value)
    try:
        return parse_seqlen(value)
    except SuiteError as err:
        raise SuiteError(f"{_where(path)}: {err}") from None


def _list_of(check: Check, allow_empty: bool = False) -> Check:
    def check_list(value, path):
        if not isinstance(value, list) or not (value or allow_empty):
            _fail(path, "a list" if allow_empty else "a non-empty list", value)
        *table, field = path
        return [check(v, (*table, f"{field} #{i + 1}")) for i, v in enumerate(value)]
    return check_list


def _backends(value, path):
    if value == "all":
        return value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        _fail(path, '"all" or a non-empty list of backend names', value)
    return value


def _seqlen_axis(value, path):
    """A list of lengths, or {pow2 = [lo, hi]}: every power of two from 2**lo to 2**hi."""
    if not isinstance(value, dict):
        return _list_of(_seqlen)(value, path)
    lo_hi = value.get("pow2")
    if set(value) != {"pow2"} or not isinstance(lo_hi, list) or len(lo_hi) != 2 or \
            not all(isinstance(e, int) and not isinstance(e, bool) for e in lo_hi) or not 1 <= lo_hi[0] <= lo_hi[1] <= 30:
        _fail(path, "a list or {pow2 = [lo, hi]} with 1 <= lo <= hi <= 30", value)
    return pow2_lengths(1 << lo_hi[0], 1 << lo_hi[1])


def _table(fields: dict[str, Check], required: tuple = ()) -> Check:
    def check(value, path):
        where = f"[{'.'.join(path)}]: " if path else ""
        if not isinstance(value, dict):
            _fail(path, "a table", value)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise SuiteError(f"{where}unknown key(s) {', '.join(unknown)} (known: {', '.join(fields)})")
        missing = [k for k in required if k not in value]
        if missing:
            raise SuiteError(f"{where}missing {', '.join(missing)}")
        return {k: fields[k](v, (*path, k)) for k, v in value.items()}
    return check


def _array_of_tables(check: Check) -> Check:
    def check_all(value, path):
        if not isinstance(value, list):
            _fail(path, "an array of tables ([[...]])", value)
        return [check(v, (f"{path[-1]} #{i + 1}",)) for i, v in enumerate(value)]
    return check_all


def _dataclass_table(cls, choices: dict[str, tuple] | None = None) -> Check:
    """A table whose keys are a dataclass's fields, each checked by its default's type (or the
    given choices), so a field added to the dataclass is accepted without touching this file."""
    by_type = {bool: _bool, int: _positive_int, float: _non_negative, str: _string}
    choices = choices or {}
    # A field whose default is None (or another type) has no type to check against here: the
    # dataclass's own checks have the last word on it.
    return _table({f.name: _choice(choices[f.name]) if f.name in choices else
                   by_type.get(type(f.default), lambda value, _path: value) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The gate's thresholds: these defaults, then a suite's [gate] table, then the command line."""

    max_slowdown: float = 0.05    # a slower point fails only when its median grew by more than this
    min_gap: float = 0.005        # relative gap between intervals needed to call slower/faster
    same_tolerance: float = 0.02  # relative median difference still called "same"
    spread: str = "p20-p80"       # which interval stands for a run's noise: a key of SPREADS
    basis: str = "time"           # time: compare times; ratio: compare time / baseline backend's time
    timing_fatal: bool = True     # False: timing verdicts are reported but never fail (CPU CI)
    accuracy_fatal: bool = True   # False: error growth within the budget is reported, never fails

    def __post_init__(self):
        gate_table(dataclasses.asdict(self), ("gate",))

    @classmethod
    def merged(cls, *sources: dict) -> "Thresholds":
        """Defaults overridden by each source in turn (None values are ignored)."""
        values = {}
        for source in sources:
            values.update({k: v for k, v in source.items() if v is not None})
        return cls(**gate_table(values, ("gate",)))

    def describe(self) -> str:
        fatal = f"fails when the median grew > {self.max_slowdown:.1%}" if self.timing_fatal else "timing is advisory"
        accuracy = f"error growth {'fails' if self.accuracy_fatal else 'is advisory'}"
        return (f"basis {self.basis}; intervals {self.spread}; slower/faster needs a {self.min_gap:.1%} gap; "
                f"same within {self.same_tolerance:.1%}; {fatal}; {accuracy}")


gate_table = _dataclass_table(Thresholds, {"spread": tuple(SPREADS), "basis": ("time", "ratio")})

_AXIS_VALUE = {"seqlen": _seqlen, "dtype": _choice(DTYPES), "mode": _choice(MODES), "gated": _bool,
               "kernel_frac": _kernel_frac, "freq_sparsity": _sparsity, "pass": _choice(PASSES)}
_AXES = {name: _seqlen_axis if name == "seqlen" else _list_of(check) for name, check in _AXIS_VALUE.items()}
_SHAPE = {
    "elements": _positive_int, "channels": _positive_int, "max_batch": _positive_int,
    "overrides": _list_of(_table({"seqlen": _seqlen, "batch": _positive_int, "channels": _positive_int},
                                 required=("seqlen", "batch", "channels")), allow_empty=True),
}
_SUITE = _table({
    "description": _string,
    "backends": _backends,
    "axes": _table(_AXES, required=("seqlen",)),
    "shape": _table(_SHAPE, required=("elements",)),
    "cpu": _table({"axes": _table(_AXES), "shape": _table(_SHAPE), "minutes": _positive}),
    "budgets": _table({d: _positive for d in DTYPES}),
    "timing": _dataclass_table(TimingOptions),
    "gate": gate_table,
    "exclude": _array_of_tables(_table({**_AXIS_VALUE, "reason": _string})),
}, required=("axes", "shape"))


@dataclasses.dataclass
class Suite:
    name: str
    path: Path
    description: str
    axes: dict           # axis -> list of values (seqlen as ints)
    shape: dict
    cpu: dict            # {"axes": ..., "shape": ..., "minutes": ...}, each optional
    budgets: dict
    timing: TimingOptions
    gate: dict           # [gate] as written; Thresholds.merged applies it
    excludes: list
    backends: list[str] | None  # None: every registered backend

    def shape_for(self, seqlen: int, shape: dict) -> tuple[int, int]:
        for o in shape.get("overrides", []):
            if o["seqlen"] == seqlen:
                return o["batch"], o["channels"]
        channels = shape.get("channels", 1)
        batch = shape["elements"] // (channels * seqlen)
        if batch >= 1:
            return min(batch, shape.get("max_batch", batch)), channels
        return 1, max(1, shape["elements"] // seqlen)

    def excluded(self, values: dict) -> str | None:
        for ex in self.excludes:
            if all(values.get(k) == v for k, v in ex.items() if k != "reason"):
                return ex.get("reason", "excluded by the suite")
        return None

    def points(self, cpu_sized: bool = False, overrides: dict | None = None) -> list[Problem]:
        """The suite's problems; `overrides` replaces axis value lists (from the command line)."""
        axes = {**_AXIS_DEFAULTS, **self.axes, **(self.cpu.get("axes", {}) if cpu_sized else {}), **(overrides or {})}
        shape = {**self.shape, **(self.cpu.get("shape", {}) if cpu_sized else {})}
        problems = []
        for combo in itertools.product(*(axes[a] for a in AXES)):
            values = dict(zip(AXES, combo))
            if self.excluded(values):
                continue
            n = values["seqlen"]
            batch, channels = self.shape_for(n, shape)
            k = max(1, round(values["kernel_frac"] * n))
            try:
                problems.append(Problem(batch=batch, channels=channels, seqlen=n, dtype=values["dtype"],
                                        mode=values["mode"], kernel_len=None if k == n else k,
                                        gated=values["gated"], freq_sparsity=values["freq_sparsity"],
                                        pass_=values["pass"]))
            except ProblemError as err:
                raise SuiteError(f"suite {self.name}: {err}") from None
        return problems


def available_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def suite_path(name_or_path: str) -> Path:
    """suites/<name>.toml for a bare name, else the file given (resolved)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise SuiteError(f"unknown suite {name_or_path!r}; available: {', '.join(available_suites())}")
    return path.resolve()


def load_suite(name_or_path: str) -> Suite:
    path = suite_path(name_or_path)
    try:
        data = _SUITE(tomllib.loads(path.read_text()), ())
    except tomllib.TOMLDecodeError as err:
        raise SuiteError(f"suite {path.name} is not valid TOML: {err}") from None
    except SuiteError as err:
        raise SuiteError(f"suite {path.name}: {err}") from None
    backends = data.get("backends", "all")
    return Suite(
        name=path.stem,
        path=path,
        description=data.get("description", ""),
        axes=data["axes"],
        shape=data["shape"],
        cpu=data.get("cpu", {}),
        budgets={**DEFAULT_BUDGETS, **data.get("budgets", {})},
        timing=TimingOptions(**data.get("timing", {})),
        gate=data.get("gate", {}),
        excludes=data.get("exclude", []),
        backends=None if backends == "all" else backends,
    )
