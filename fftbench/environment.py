"""Where a number came from: machine, software, commit, and the GPU's state around each point.

GPU state comes from NVML (nvidia-ml-py): clocks, power, temperature and the clock-event
(throttle) reasons. Clocks are only read, never set. NVML numbers every GPU of the machine in PCI
order and ignores CUDA_VISIBLE_DEVICES, so the GPU CUDA uses is found by its UUID (else its PCI
bus id), never by CUDA's index.
"""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent

# NVML clock-event reason bits that mean the GPU ran slower than it would have (not idle/app clocks).
_SLOWDOWN_REASONS = {
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x20: "sw_thermal",
    0x40: "hw_thermal",
    0x80: "hw_power_brake",
}


def git_info() -> dict:
    def git(*args):
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    if os.environ.get("FFTBENCH_GIT_SHA"):
        # A copy of the tree on a remote GPU machine: its .git, if any, may be stale (the lent H100's
        # copy carried the session's starting commit with the new work as uncommitted changes),
        # so the launcher's statement of the commit wins.
        return {"sha": os.environ["FFTBENCH_GIT_SHA"], "dirty": os.environ.get("FFTBENCH_GIT_DIRTY") == "1",
                "branch": os.environ.get("FFTBENCH_GIT_BRANCH")}
    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"sha": sha, "dirty": bool(status) if status is not None else None, "branch": git("rev-parse", "--abbrev-ref", "HEAD")}


def _nvml():
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # no driver, no library: the GPU fields are simply absent
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def static_environment() -> dict:
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
        "gpu": None,
        "driver": None,
    }
    try:
        import triton

        env["triton"] = triton.__version__
    except ImportError:
        env["triton"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_uuid=gpu_uuid(props), sm_count=props.multi_processor_count,
                   l2_bytes=getattr(props, "L2_cache_size", None), capability=f"{props.major}.{props.minor}",
                   gpu_memory_bytes=props.total_memory)
        nvml = _nvml()
        if nvml is not None:
            env["driver"] = nvml.nvmlSystemGetDriverVersion()
            env["cuda_driver"] = nvml.nvmlSystemGetCudaDriverVersion_v2()
    return env


def gpu_uuid(props) -> str:
    """A CUDA device's UUID as NVML and nvidia-smi write it ("GPU-…"): torch reports it without
    the prefix, and rows, run.json and the NVML lookup must name a GPU the same way."""
    raw = str(props.uuid)
    return raw if raw.startswith(("GPU-", "MIG-")) else f"GPU-{raw}"


def nvml_handle(nvml, device: int | None = None):
    """The NVML handle of CUDA's device `device` (the current one when None), or None if NVML
    knows no GPU with its UUID or PCI bus id."""
    props = torch.cuda.get_device_properties(torch.cuda.current_device() if device is None else device)
    lookups = [(nvml.nvmlDeviceGetHandleByUUID, gpu_uuid(props))]
    if hasattr(props, "pci_bus_id"):
        bus_id = f"{props.pci_domain_id:08X}:{props.pci_bus_id:02X}:{props.pci_device_id:02X}.0"
        lookups.append((nvml.nvmlDeviceGetHandleByPciBusId, bus_id))
    for lookup, key in lookups:
        try:
            return lookup(key)
        except nvml.NVMLError:
            continue
    return None


def nvml_index(device: int) -> int | None:
    """nvidia-smi's (NVML's) index of CUDA's device `device`; None without NVML."""
    nvml = _nvml()
    handle = nvml_handle(nvml, device) if nvml is not None else None
    return None if handle is None else nvml.nvmlDeviceGetIndex(handle)


def gpu_state(device: int | None = None) -> dict:
    """Clocks, power, temperature and slowdown reasons of CUDA's device right now; {} without NVML."""
    nvml = _nvml() if torch.cuda.is_available() else None
    h = nvml_handle(nvml, device) if nvml is not None else None
    if h is None:
        return {}
    get_reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    bits = get_reasons(h)
    reasons = [name for bit, name in _SLOWDOWN_REASONS.items() if bits & bit]
    return {
        "sm_clock_mhz": nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM),
        "mem_clock_mhz": nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_MEM),
        "power_w": nvml.nvmlDeviceGetPowerUsage(h) / 1000.0,
        "temp_c": nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU),
        "throttle_reasons": ",".join(reasons),
        "throttled": bool(reasons),
    }


def merge_states(before: dict, after: dict) -> dict:
    """One row's machine state: clocks after timing, slowdown if seen before or after."""
    if not after:
        return {}
    reasons = sorted({r for s in (before, after) for r in (s.get("throttle_reasons") or "").split(",") if r})
    return {**after, "throttle_reasons": ",".join(reasons), "throttled": bool(reasons)}
