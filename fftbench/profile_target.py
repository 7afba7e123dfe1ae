"""The process Nsight Compute profiles: one backend call on one problem, inside NVTX range "fftbench".

    python -m fftbench.profile_target BACKEND '{"batch": 64, ...}'

Setup, a warm-up call and an L2 flush happen before the range, so only the call's kernels are profiled.
"""
import json
import sys

import torch

from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.registry import get_backend
from fftbench.timing import L2Flush


def main(backend: str, problem_json: str) -> None:
    problem = Problem.from_key(json.loads(problem_json))
    inputs = make_inputs(problem, "cuda")
    run = get_backend(backend).prepare(problem, inputs).run
    run()
    # Evict the warm-up's inputs from the L2: DRAM counters then see every read. Write then read, so
    # that no dirty flush line is written back during the call and counted as the call's writes.
    L2Flush(torch.device("cuda"))("write-read")
    torch.cuda.synchronize()
    with torch.cuda.nvtx.range("fftbench"):
        run()
        torch.cuda.synchronize()


if __name__ == "__main__":
    main(*sys.argv[1:3])
