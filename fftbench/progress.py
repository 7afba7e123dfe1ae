"""Progress of a sweep: a tqdm bar with the current point and an ETA on a terminal, one plain line
per finished row otherwise (CI logs)."""
from __future__ import annotations

import sys
import time

from fftbench.problem import point_label


def describe(row: dict, widths: tuple[int, int] = (18, 0)) -> str:
    """One row as a progress line; `widths` (backend, point label) are the sweep's widest, so the
    status and time columns line up on every row, gated and partial ones included."""
    backend_width, label_width = widths
    text = f"{row['backend']:<{backend_width}} {point_label(row):<{label_width}}  {row['status']:<11}"
    if row.get("t_p50_us") is not None:
        text += f" {row['t_p50_us']:10.1f} us"
        if row.get("frac_hbm_floor") is not None:
            text += f"  {row['frac_hbm_floor']:.2f} of floor"
    if row.get("rel_l2_err") is not None:
        text += f"  err {row['rel_l2_err']:.1e}"
    if row.get("reason"):
        text += f"  ({row['reason']})"
    return text


class Progress:
    def __init__(self, total: int, widths: tuple[int, int] = (18, 0), stream=sys.stderr):
        self.total = total
        self.widths = widths
        self.done = 0
        self.stream = stream
        self.started = time.monotonic()
        self.bar = None
        if stream.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, file=stream, dynamic_ncols=True, unit="pt")
            except ImportError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def advance(self, row: dict) -> None:
        self.done += 1
        line = describe(row, self.widths)
        if self.bar is not None:
            self.bar.set_postfix_str(f"{row['backend']} N={row['seqlen']}", refresh=False)
            self.bar.write(line, file=self.stream)
            self.bar.update(1)
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        print(f"[{self.done:>4}/{self.total}] {line}  eta {eta:.0f}s", file=self.stream, flush=True)
