"""Suites are TOML files in suites/: named axes whose product is the set of points.

    [axes]              seqlen = {pow2 = [8, 22]} or a list; dtype, mode, gated,
                        kernel_frac (K/N), freq_sparsity, pass (fwd, bwd, fwd_bwd): lists
    [shape]             elements = B·H·N kept constant across N (equal work per point),
                        channels = H, max_batch; overrides = [{seqlen, batch, channels}, ...]
    [cpu]               axes/shape tables that replace the above when no GPU is present, so the
                        same command runs CPU-sized problems anywhere (and says so)
    [budgets]           relative L2 error budget per dtype (default: reference.DEFAULT_BUDGETS)
    [timing]            fields of timing.TimingOptions
    [gate]              thresholds for `compare` (see fftbench.compare)
    [[exclude]]         axis values to drop, with a reason, e.g. {dtype = "fp32", mode = "causal", reason = "..."}
    backends            list of backend names, or "all"
"""
from __future__ import annotations

import dataclasses
import itertools
import tomllib
from pathlib import Path

from fftbench.problem import Problem, ProblemError
from fftbench.reference import DEFAULT_BUDGETS
from fftbench.timing import TimingOptions

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
AXES = ("seqlen", "dtype", "mode", "gated", "kernel_frac", "freq_sparsity", "pass")
_AXIS_DEFAULTS = {"dtype": ["fp16"], "mode": ["causal"], "gated": [False], "kernel_frac": [1.0], "freq_sparsity": [0.0],
                  "pass": ["fwd"]}


class SuiteError(ValueError):
    """A malformed or unknown suite; the message is one line."""


def parse_seqlen(text: str) -> int:
    """'4096', '4K', '1M' → int."""
    text = str(text).strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    if not digits.isdigit():
        raise SuiteError(f"seqlen {text!r}: expected an integer like 4096, 4K or 1M")
    return int(digits) * scale


def _axis_values(name: str, spec) -> list:
    if name == "seqlen" and isinstance(spec, dict):
        if set(spec) != {"pow2"} or len(spec["pow2"]) != 2:
            raise SuiteError("axes.seqlen: expected a list or {pow2 = [lo, hi]}")
        lo, hi = spec["pow2"]
        return [1 << e for e in range(lo, hi + 1)]
    if not isinstance(spec, list) or not spec:
        raise SuiteError(f"axes.{name}: expected a non-empty list")
    return [parse_seqlen(v) for v in spec] if name == "seqlen" else spec


@dataclasses.dataclass
class Suite:
    name: str
    description: str
    axes: dict
    shape: dict
    cpu: dict
    budgets: dict
    timing: TimingOptions
    gate: dict
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
        axes = {**_AXIS_DEFAULTS, **self.axes, **(self.cpu.get("axes", {}) if cpu_sized else {})}
        axes = {k: _axis_values(k, v) for k, v in axes.items()}
        axes.update(overrides or {})
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


def load_suite(name_or_path: str) -> Suite:
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES_DIR / f"{name_or_path}.toml"
    if not path.exists():
        raise SuiteError(f"unknown suite {name_or_path!r}; available: {', '.join(available_suites())}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SuiteError(f"suite {path.name} is not valid TOML: {err}") from None
    unknown = set(data) - {"description", "axes", "shape", "cpu", "budgets", "timing", "gate", "exclude", "backends"}
    if unknown:
        raise SuiteError(f"suite {path.name}: unknown table(s) {sorted(unknown)}")
    axes = data.get("axes", {})
    if "seqlen" not in axes or set(axes) - set(AXES):
        raise SuiteError(f"suite {path.name}: axes must include seqlen and only {', '.join(AXES)}")
    if "elements" not in data.get("shape", {}):
        raise SuiteError(f"suite {path.name}: [shape] needs elements (B·H·N per point)")
    backends = data.get("backends", "all")
    try:
        timing = TimingOptions(**data.get("timing", {}))
    except TypeError as err:
        raise SuiteError(f"suite {path.name}: [timing]: {err}") from None
    return Suite(
        name=path.stem,
        description=data.get("description", ""),
        axes=axes,
        shape=data["shape"],
        cpu=data.get("cpu", {}),
        budgets={**DEFAULT_BUDGETS, **data.get("budgets", {})},
        timing=timing,
        gate=data.get("gate", {}),
        excludes=data.get("exclude", []),
        backends=None if backends == "all" else list(backends),
    )
