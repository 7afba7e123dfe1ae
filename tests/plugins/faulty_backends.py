"""Deliberately bad backends for the fault-isolation tests (loaded through FFTBENCH_PLUGINS).

Each misbehaves only at seqlen == FAULT_SEQLEN, so a test can check that the other points of the
same backend still come out `ok` after the fault.
"""
from __future__ import annotations

import ctypes
import dataclasses
import os
import time
from pathlib import Path

import torch

from fftbench.cuda_build import COMMON_SOURCES, CudaLibrary, check_launch, nvcc_path
from fftbench.problem import PASSES, Problem
from fftbench.registry import Prepared, register_backend
from kernels.torch_fft import torch_fft

FAULT_SEQLEN = 64


def _faulty(name: str, fault, device: str = "any", requires=None):
    """Register a backend that behaves like the torch baseline except at FAULT_SEQLEN."""

    def factory(problem: Problem, inputs):
        good = torch_fft(problem, inputs)
        if problem.seqlen != FAULT_SEQLEN:
            return good
        return Prepared(run=lambda: fault(problem, inputs), details={"fault": name})

    factory.__doc__ = f"Test backend that fails by {name} at seqlen {FAULT_SEQLEN}."
    register_backend(f"test_{name}", family="test", device=device, requires=requires)(factory)


def _raise(problem, inputs):
    raise RuntimeError("deliberate failure")


def _abort(problem, inputs):
    os.abort()


def _hang(problem, inputs):
    time.sleep(3600)


def _oom(problem, inputs):
    if inputs.u.is_cuda:
        return torch.empty(1 << 50, dtype=torch.uint8, device=inputs.u.device)  # far beyond any GPU
    raise MemoryError("deliberate host out-of-memory (emulated)")


def _nan(problem, inputs):
    return torch.full_like(inputs.out, float("nan"))


for _name, _fault in {"raise": _raise, "abort": _abort, "hang": _hang, "oom": _oom, "nan": _nan}.items():
    _faulty(_name, _fault)


# A CUDA kernel that writes far out of bounds: an illegal address that poisons the CUDA context.
_OOB = CudaLibrary("test_oob_write", sources=(Path(__file__).with_name("oob_write.cu"), *COMMON_SOURCES))


def _oob_requires() -> str | None:
    return None if nvcc_path() else "nvcc not found"


def _oob(problem, inputs):
    lib = _OOB.load()
    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
    check_launch(lib, lib.oob_write(ctypes.c_void_p(inputs.out.data_ptr()), stream), "oob_write")
    torch.cuda.synchronize()
    return inputs.out


_faulty("cuda_oob", _oob, device="cuda", requires=_oob_requires)


@register_backend("test_wrong_dk", family="test", device="any", passes=PASSES)
def wrong_dk(problem: Problem, inputs):
    """Test backend whose filter gradient is 10% too large (its y, du, dv, dw are torch_fft's)."""
    good = torch_fft(problem, inputs)
    if problem.pass_ == "fwd":
        return good

    def run():
        grads = good.run()
        return dataclasses.replace(grads, dk=grads.dk * 1.1)

    return Prepared(run=run, details={"fault": "dk scaled by 1.1"})
