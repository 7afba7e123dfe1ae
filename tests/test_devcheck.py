"""The kernels' development checks share kernels/devcheck.py: a checked point is one line, ok
within its budget, BAD over it, ERR when the backend raises, and every point is reported."""
from pathlib import Path

import pytest
import torch

from fftbench.cuda_build import nvcc_path
from fftbench.problem import Problem
from fftbench.registry import Prepared
from kernels.devcheck import check_point, problems
from kernels.monarch_cuda import monarch_twin


def test_a_correct_point_is_ok_and_a_wrong_or_raising_one_is_not(capsys):
    problem = Problem(3, 5, 256, "fp16", "causal")
    assert check_point(problem, monarch_twin, lambda p, i, r: "note", device="cpu")
    assert capsys.readouterr().out.startswith("ok ")

    def wrong(problem, inputs):
        return Prepared(run=lambda: inputs.out.copy_(torch.ones_like(inputs.out)))

    def raising(problem, inputs):
        raise RuntimeError("launch failed")

    assert not check_point(problem, wrong, device="cpu")
    assert capsys.readouterr().out.startswith("BAD")
    assert not check_point(problem, raising, device="cpu")
    assert capsys.readouterr().out.startswith("ERR")


def test_the_grid_covers_every_mode_dtype_and_gating_per_shape():
    grid = problems([(3, 5), (33, 4)], [256, 1024])
    assert len(grid) == 2 * 2 * 2 * 2 * 2
    assert {(p.mode, p.dtype, p.gated) for p in grid} == {(m, d, g) for m in ("causal", "circular")
                                                          for d in ("fp16", "bf16") for g in (False, True)}


@pytest.mark.skipif(nvcc_path() is None, reason="needs nvcc")
def test_a_candidate_source_builds_in_place_of_the_committed_kernel(tmp_path, monkeypatch):
    """monarch_cuda's devcheck --source: a copy of monarch.cu kept elsewhere compiles (its
    relative includes resolve) and becomes the library the backend loads."""
    import kernels.monarch_cuda as backend
    from kernels.monarch_cuda import devcheck

    monkeypatch.setattr(backend, "LIBRARY", backend.LIBRARY)  # restored after the test
    candidate = tmp_path / "monarch_candidate.cu"
    candidate.write_text(Path(backend.__file__).with_name("monarch.cu").read_text())
    library = devcheck.use_source(candidate)
    assert backend.LIBRARY is library and library.sources[0] == candidate.resolve()
    assert library.build().exists()
    backend._library.cache_clear()
