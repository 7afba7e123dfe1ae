"""A backend that records the CUDA_VISIBLE_DEVICES its worker process saw (loaded through
FFTBENCH_PLUGINS), so the --gpus tests can check each worker was pinned to its lane's GPU."""
from __future__ import annotations

import os

from fftbench.problem import Problem
from fftbench.registry import Prepared, register_backend
from kernels.torch_fft import torch_fft


@register_backend("test_pinned", family="test", device="any", dtypes=("fp32",))
def test_pinned(problem: Problem, inputs) -> Prepared:
    """torch_fft, with the worker's CUDA_VISIBLE_DEVICES in the row's details."""
    return Prepared(run=torch_fft(problem, inputs).run, details={"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")})
