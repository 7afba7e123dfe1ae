#!/usr/bin/env python3
"""One Markdown row per kernel of an Nsight Compute raw export, for the kernels' NOTES files.

    ncu -i REPORT.ncu-rep --page raw --csv > RAW.csv      # or: ncu --csv --page raw ... > RAW.csv
    python tools/ncu_table.py RAW.csv [--stalls 3]

Columns: device time, DRAM bytes read and written, DRAM throughput (bytes over time, and ncu's
percentage of the peak), issue slots busy, tensor pipe active, achieved occupancy, cycles between
a warp's instructions and the largest stall reasons in those cycles (WarpStateStats' breakdown,
cycles per issued instruction). Values are scaled by the export's units row, so an export with or
without `--print-units base` reads alike. A metric the export lacks is shown as "—"; a last row
sums time and bytes over the kernels (one call's passes).
"""
from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from pathlib import Path

_SCALE = {"": 1.0, "ns": 1e-9, "us": 1e-6, "usecond": 1e-6, "ms": 1e-3, "msecond": 1e-3, "s": 1.0, "second": 1.0,
          "byte": 1.0, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "Tbyte": 1e12,
          "byte/s": 1.0, "Kbyte/s": 1e3, "Mbyte/s": 1e6, "Gbyte/s": 1e9, "Tbyte/s": 1e12}
_STALL = re.compile(r"^smsp__average_warps_issue_stalled_(\w+)_per_issue_active\.ratio$")
COLUMNS = {  # short name -> ncu metric
    "time_s": "gpu__time_duration.sum",
    "read_b": "dram__bytes_read.sum",
    "write_b": "dram__bytes_write.sum",
    "dram_pct": "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed",
    "issue_pct": "smsp__issue_active.avg.pct_of_peak_sustained_active",
    "tensor_pct": "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
    "occupancy_pct": "sm__warps_active.avg.pct_of_peak_sustained_active",
    "cycles_per_inst": "smsp__average_warp_latency_per_inst_issued.ratio",
}


def _value(text: str, unit: str) -> float | None:
    try:
        return float(text.replace(",", "").strip()) * _SCALE.get(unit.strip(), 1.0)
    except ValueError:
        return None


def read_kernels(text: str) -> list[dict]:
    """Each kernel's COLUMNS (SI units: s, bytes) and its stall breakdown {reason: cycles}."""
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]  # ncu's log lines start with ==
    table = list(csv.reader(io.StringIO("\n".join(lines))))
    if len(table) < 2:
        return []
    header, units = table[0], table[1]
    kernels = []
    for values in table[2:]:
        if not values or not values[0].strip().isdigit():
            continue
        raw = {col: (val, unit) for col, val, unit in zip(header, values, units)}
        kernel = {"name": raw.get("Kernel Name", ("?", ""))[0]}
        for short, metric in COLUMNS.items():
            kernel[short] = _value(*raw[metric]) if metric in raw else None
        kernel["stalls"] = {m.group(1): v for col, pair in raw.items()
                            if (m := _STALL.match(col)) and (v := _value(*pair)) is not None}
        kernels.append(kernel)
    return kernels


def short_name(name: str, width: int = 48) -> str:
    """`void <unnamed>::inner<0>(<unnamed>::LongParams)` -> `inner<0>`: the name without its return
    type, namespaces and parameter list (template arguments kept), cut to `width` characters."""
    depth, cut, start = 0, len(name), 0
    for i, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0 and ch == "(":
            cut = i
            break
        elif depth == 0 and ch == " ":
            start = i + 1  # a return type before the name
        elif depth == 0 and ch == ":" and name[i - 1:i] == ":":
            start = i + 1  # a namespace or class before the name
    short = name[start:cut] or name
    return short if len(short) <= width else short[: width - 1] + "…"


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def markdown(kernels: list[dict], n_stalls: int = 3) -> str:
    head = ("| kernel | time ms | DRAM read GB | DRAM write GB | DRAM TB/s | DRAM % of peak | issue slots busy % "
            "| tensor pipe % | occupancy % | cycles per issued inst. | largest stalls (cycles per issued inst.) |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for k in kernels:
        moved = (k["read_b"] or 0) + (k["write_b"] or 0)
        rate = moved / k["time_s"] / 1e12 if k["time_s"] and (k["read_b"] is not None or k["write_b"] is not None) else None
        stalls = ", ".join(f"{r} {c:.2f}" for r, c in sorted(k["stalls"].items(), key=lambda rc: -rc[1])
                           if r != "selected")  # "selected" is the issuing cycle itself, 1 by definition
        stalls = ", ".join(stalls.split(", ")[:n_stalls]) if stalls else "—"
        out.append(f"| `{short_name(k['name'])}` | {_fmt(k['time_s'] and k['time_s'] * 1e3, '.3f')} "
                   f"| {_fmt(k['read_b'] and k['read_b'] / 1e9, '.2f')} | {_fmt(k['write_b'] and k['write_b'] / 1e9, '.2f')} "
                   f"| {_fmt(rate, '.2f')} | {_fmt(k['dram_pct'], '.1f')} | {_fmt(k['issue_pct'], '.1f')} "
                   f"| {_fmt(k['tensor_pct'], '.1f')} | {_fmt(k['occupancy_pct'], '.1f')} "
                   f"| {_fmt(k['cycles_per_inst'], '.2f')} | {stalls} |")
    if len(kernels) > 1:
        t = sum(k["time_s"] or 0 for k in kernels)
        r = sum(k["read_b"] or 0 for k in kernels)
        w = sum(k["write_b"] or 0 for k in kernels)
        out.append(f"| all {len(kernels)} | {t * 1e3:.3f} | {r / 1e9:.2f} | {w / 1e9:.2f} "
                   f"| {(r + w) / t / 1e12 if t else 0:.2f} | | | | | | |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", type=Path, help="ncu --page raw --csv export")
    ap.add_argument("--stalls", type=int, default=3, help="how many stall reasons per kernel (default 3)")
    args = ap.parse_args(argv)
    kernels = read_kernels(args.csv.read_text())
    if not kernels:
        print(f"ncu_table: no kernel rows in {args.csv}", file=sys.stderr)
        return 2
    print(markdown(kernels, args.stalls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
