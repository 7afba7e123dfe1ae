"""--shard I/N: the part of a suite's points that job I of N independent jobs runs.

A point's shard is a function of its key (the problem's parameters), never of its position in the
suite's list, so every machine derives the same partition from the same suite and overrides,
whatever order it builds the points in. Points are ranked by a hash of their key and dealt out
round-robin, so shard sizes differ by at most one (a plain hash modulo N leaves them uneven on
suites of a few dozen points). Every backend of a point runs in the point's shard, so each shard
holds whole points: torch.fft's time for the speedup columns sits beside the others. The pass is
not part of the digest either, so a point's fwd, bwd and fwd_bwd share a shard (the report's
step / forward ratio compares them) and fwd-only suites keep the partition they had.
"""
from __future__ import annotations

import hashlib
import json

from fftbench.problem import Problem


class ShardError(ValueError):
    """Bad --shard, --gpus, merge or submit input: one line on stderr, exit code 2."""


def parse_shard(text: str) -> tuple[int, int]:
    """'1/4' → (1, 4): shard indices run from 0 to N-1, as SLURM array task ids do."""
    index, sep, count = str(text).partition("/")
    if not (sep and index.strip().isdigit() and count.strip().isdigit()):
        raise ShardError(f"--shard {text!r}: expected I/N, e.g. 0/4")
    index, count = int(index), int(count)
    if not 0 <= index < count:
        raise ShardError(f"--shard {text!r}: need 0 <= I < N (shards are numbered 0 to N-1)")
    return index, count


def point_id(key: dict) -> str:
    """A machine-independent digest of a point's key (Problem.key(), or those columns of a row)."""
    canonical = {k: key[k] for k in ("batch", "channels", "seqlen", "kernel_len", "mode", "dtype", "gated")}
    canonical["freq_sparsity"] = float(key["freq_sparsity"])
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def assign(keys: list[dict], count: int) -> list[int]:
    """The shard of each point key: rank by point_id, deal round-robin."""
    ids = [point_id(k) for k in keys]
    rank = {pid: r for r, pid in enumerate(sorted(set(ids)))}
    return [rank[pid] % count for pid in ids]


def select(problems: list[Problem], spec: str) -> list[Problem]:
    """The problems of shard `spec` ('I/N'), in the suite's order."""
    index, count = parse_shard(spec)
    shards = assign([p.key() for p in problems], count)
    return [p for p, s in zip(problems, shards) if s == index]
