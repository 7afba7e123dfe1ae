"""What every CPU twin backend shares: the size limit that keeps a twin a check rather than a
contender, and the launch closure that runs it on CPU copies of the inputs."""
from __future__ import annotations

from fftbench.problem import Problem
from fftbench.registry import Prepared


def size_reason(problem: Problem, max_elements: int) -> str | None:
    """A twin is a CPU check, not a contender: it declines problems too large to run quickly."""
    if problem.rows * problem.seqlen > max_elements:
        return f"CPU twin: B·H·N = {problem.rows * problem.seqlen} > {max_elements} elements"
    return None


def twin_prepared(twin, inputs) -> Prepared:
    """The launch closure of a twin backend: it runs on CPU copies of the inputs and returns y on
    the inputs' device (timed by the CPU clock, on_host); no work is skipped."""
    u, v, w = (t.cpu() if t is not None else None for t in (inputs.u, inputs.v, inputs.w))
    device = inputs.u.device
    return Prepared(run=lambda: twin(u, v, w).to(device), details={"decomposition": twin.plan.name, "work_skipped": "none"},
                    on_host=True)
