"""Which GPUs a run uses (--gpus), and how a worker is pinned to one.

A GPU is named by its nvidia-smi (NVML) index, the number a user sees and the one rows record
beside its UUID. A worker is pinned by giving it CUDA_VISIBLE_DEVICES = the parent's own entry for
that device, so the pin composes with a CUDA_VISIBLE_DEVICES already set by SLURM or a user (and
with the parent's CUDA_DEVICE_ORDER, which the worker inherits); the worker's clocks come from
environment.gpu_state, which finds its one visible device in NVML by UUID.
"""
from __future__ import annotations

import dataclasses
import os

from fftbench.shard import ShardError


@dataclasses.dataclass(frozen=True)
class Gpu:
    index: int         # nvidia-smi / NVML index (the CUDA ordinal when NVML is missing)
    uuid: str          # "GPU-…" as nvidia-smi prints it
    name: str
    visible: str       # the CUDA_VISIBLE_DEVICES value that pins a child process to this GPU


def visible_gpus() -> list[Gpu]:
    """The GPUs this process can use, in CUDA's order; [] without CUDA."""
    import torch

    from fftbench.environment import gpu_uuid, nvml_index

    if not torch.cuda.is_available():
        return []
    inherited = os.environ.get("CUDA_VISIBLE_DEVICES")
    entries = [e.strip() for e in inherited.split(",")] if inherited else None
    gpus = []
    for ordinal in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(ordinal)
        index = nvml_index(ordinal)
        gpus.append(Gpu(index=ordinal if index is None else index, uuid=gpu_uuid(props), name=props.name,
                        visible=entries[ordinal] if entries else str(ordinal)))
    return gpus


def pick_gpus(spec: str | None, visible: list[Gpu]) -> list[Gpu]:
    """The GPUs of a run: no --gpus → the first visible one (unpinned, as before sharding);
    'all' → every visible one; '0,2' → those nvidia-smi indices. [] means the CPU."""
    if spec is None:
        return visible[:1]
    if spec.strip() == "all":
        chosen = visible
    else:
        parts = [p.strip() for p in spec.split(",")]
        if not all(p.isdigit() for p in parts) or len(set(parts)) != len(parts):
            raise ShardError(f"--gpus {spec!r}: expected 'all' or distinct GPU indices like 0,1")
        by_index = {g.index: g for g in visible}
        missing = [p for p in parts if int(p) not in by_index]
        if missing:
            have = ",".join(str(g.index) for g in visible) or "none"
            raise ShardError(f"--gpus {spec}: no visible GPU {','.join(missing)} (visible: {have})")
        chosen = [by_index[int(p)] for p in parts]
    models = sorted({g.name for g in chosen})
    if len(models) > 1:
        raise ShardError(f"--gpus {spec}: mixed GPU models ({', '.join(models)}); one run's calibration "
                         "and gate assume one model: pick GPUs of one model")
    return chosen
