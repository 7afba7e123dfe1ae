"""The kernels' development checks share kernels/devcheck.py: a checked point is one line, ok
within its budget, BAD over it, ERR when the backend raises, and every point is reported."""
import torch

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
