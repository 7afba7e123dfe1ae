"""Measured ceilings of this machine: copy bandwidth and matmul throughput, cached per device name.

Fractions of peak are only honest against what the machine really reaches (on the project's H100:
3.02 TB/s copy vs 3.35 datasheet; 657-686 dense fp16/bf16 TFLOP/s vs 989), so the suite measures
its own ceilings once per device and caches them.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

CACHE_FILE = Path(os.environ.get("FFTBENCH_CACHE", Path.home() / ".cache" / "fftbench")) / "calibration.json"


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from fftbench.environment import static_environment

    return f"cpu:{static_environment()['cpu']}"


def _median_time_s(fn, reps: int, sync) -> float:
    fn()
    sync()
    times = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def _copy_gbps(device: torch.device, nbytes: int, sync) -> float:
    """Device-to-device copy bandwidth, counting bytes read plus bytes written."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).normal_()
    dst = torch.empty_like(src)
    return 2 * nbytes / _median_time_s(lambda: dst.copy_(src), reps=20, sync=sync) / 1e9


def measure(device: torch.device) -> dict:
    gpu = device.type == "cuda"
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    copy_gbps = _copy_gbps(device, (2 << 30) if gpu else (128 << 20), sync)
    tflops = {}
    n = 8192 if gpu else 1024
    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    prev_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32, not TF32
    try:
        for name, dtype in dtypes.items():
            if not gpu and dtype != torch.float32:
                continue
            size = n if dtype != torch.float32 or not gpu else n // 2
            a = torch.randn(size, size, device=device, dtype=dtype)
            b = torch.randn(size, size, device=device, dtype=dtype)
            t = _median_time_s(lambda: a @ b, reps=10, sync=sync)
            tflops[name] = 2 * size**3 / t / 1e12
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev_tf32
    if not gpu:  # the CPU's reduced-precision matmuls are emulated: use the fp32 ceiling for all
        tflops = {k: tflops["fp32"] for k in dtypes}
    return {"copy_gbps": copy_gbps, "matmul_tflops": tflops,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def calibration(device: torch.device, refresh: bool = False) -> dict:
    """The cached calibration of this device (measured on first use)."""
    name = _device_name(device)
    cache = json.loads(CACHE_FILE.read_text()) if CACHE_FILE.exists() else {}
    if refresh or name not in cache:
        cache[name] = measure(device)
        CACHE_FILE.parent.mkdir(parents=True, exist_ok=True)
        tmp = CACHE_FILE.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=2))
        os.replace(tmp, CACHE_FILE)
    return {"device": name, **cache[name]}
