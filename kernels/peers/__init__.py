"""Published peers as optional backends: FlashFFTConv and ThunderKittens' fftconv.

They answer the first question a user asks ("is this faster than FlashFFTConv on my GPU?") in the
same process, with the same timer and the same float64 check as our kernels. Their code is never
copied here: each backend finds a checkout named by an environment variable (or, for
FlashFFTConv, an installed package) and says why it is unavailable when there is none.
tools/device/peers.sh unpacks and builds both on a GPU machine.
"""
from __future__ import annotations

import os
from pathlib import Path


def checkout(env_var: str, needed: tuple[str, ...]) -> tuple[Path | None, str | None]:
    """(root, None) when env_var names a folder holding every path in `needed`; (None, why) when
    the folder lacks one; (None, None) when env_var is unset."""
    value = os.environ.get(env_var)
    if not value:
        return None, None
    root = Path(value)
    missing = [p for p in needed if not (root / p).exists()]
    if missing:
        return None, f"{env_var}={value} has no {', '.join(missing)}"
    return root, None
