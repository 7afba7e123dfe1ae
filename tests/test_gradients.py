"""Correctness of the backward passes: the checker's references and verdicts, and the baseline's
gradients (torch autograd) against float64, per output tensor."""
import dataclasses

import pytest
import torch

from fftbench.gradients import Checker, checked_channels
from fftbench.inputs import Grads, make_inputs
from fftbench.problem import Problem
from fftbench.reference import checked_rows
from fftbench.registry import get_backend

BUDGET = {"fp32": 1e-5, "fp16": 2e-3}
CASES = [dict(mode="causal"), dict(mode="circular"),
         dict(mode="causal", gated=True, kernel_len=100, freq_sparsity=0.5)]


@pytest.mark.parametrize("pass_", ["bwd", "fwd_bwd"])
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_torch_fft_gradients_match_float64(case, dtype, pass_):
    p = Problem(3, 4, 256, dtype, pass_=pass_, **case)
    inputs = make_inputs(p, "cpu", seed=5)
    errors = Checker(p, inputs)(get_backend("torch_fft").prepare(p, inputs).run())
    expected = {"du", "dk"} | ({"dv", "dw"} if p.gated else set()) | ({"y"} if pass_ == "fwd_bwd" else set())
    assert set(errors.per_tensor) == expected
    assert errors.within(BUDGET[dtype]), errors.per_tensor


def _exact(p, inputs, checker) -> Grads:
    """Gradients equal to the reference on the checked channels (zeros elsewhere are not checked)."""
    full = {}
    for name, ref in checker.grad_refs.items():
        shape = (p.channels, p.K) if name == "dk" else (p.batch, p.channels, p.seqlen)
        t = torch.zeros(shape)
        if name == "dk":
            t[checker.channels] = ref.float()
        else:
            t[:, checker.channels] = ref.float()
        full[name] = t
    return Grads(**full)


def test_checker_finds_the_wrong_tensor_and_nonfinite_values():
    p = Problem(2, 3, 128, "fp32", gated=True, pass_="bwd")
    inputs = make_inputs(p, "cpu", seed=6)
    check = Checker(p, inputs)
    right = _exact(p, inputs, check)
    assert check(right).within(1e-6)
    wrong = check(dataclasses.replace(right, dk=right.dk * 1.01))
    assert wrong.worst == "dk" and not wrong.within(1e-3) and "dk" in wrong.failure(1e-3)
    assert wrong.overall.rel_l2_err == wrong.per_tensor["dk"].rel_l2_err
    nan = right.dv.clone()
    nan[0, 0, 0] = float("nan")
    bad = check(dataclasses.replace(right, dv=nan))
    assert bad.overall.nonfinite == 1 and "dv 1" in bad.failure(1e-3)
    with pytest.raises(ValueError, match="dw"):
        check(dataclasses.replace(right, dw=None))
    with pytest.raises(TypeError, match="Grads"):
        check(right.du)


def test_fwd_bwd_needs_y():
    p = Problem(2, 2, 64, "fp32", pass_="fwd_bwd")
    inputs = make_inputs(p, "cpu", seed=7)
    check = Checker(p, inputs)
    with pytest.raises(ValueError, match="y"):
        check(_exact(p, inputs, check))


def test_checked_channels_cover_whole_batches_within_the_forward_budget():
    small = Problem(2, 3, 128, "fp32", pass_="bwd")
    assert checked_channels(small).tolist() == [0, 1, 2]
    big = Problem(64, 768, 1 << 15, "fp16", pass_="bwd")
    channels = checked_channels(big)
    assert 1 <= len(channels) and len(channels) * big.batch <= max(big.batch, len(checked_rows(big)))
    assert len(channels) == len(channels.unique()) and channels.max() < big.channels


def test_backward_inputs_carry_fresh_dy_and_poisoned_gradient_buffers():
    p = Problem(2, 3, 64, "fp16", gated=True, pass_="bwd")
    inputs = make_inputs(p, "cpu", seed=8)
    assert inputs.dy.shape == inputs.u.shape and inputs.dy.abs().min() >= 0 and inputs.dy.std() > 0.5
    assert not torch.equal(inputs.dy, inputs.u)
    inputs.poison_output()
    assert all(t.isnan().all() for t in inputs.grads.tensors().values())
    assert inputs.grads.dk.shape == inputs.k.shape
    assert make_inputs(dataclasses.replace(p, pass_="fwd"), "cpu", seed=8).dy is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype,budget", [("fp16", 4e-3), ("bf16", 1.5e-2)])
@pytest.mark.parametrize("pass_", ["bwd", "fwd_bwd"])
def test_torch_fft_gradients_on_the_gpu(dtype, budget, pass_):
    """cuFFT's half FFTs through autograd (complex32 products and their batch reduction)."""
    p = Problem(8, 16, 4096, dtype, pass_=pass_, gated=True)
    inputs = make_inputs(p, "cuda", seed=9)
    errors = Checker(p, inputs)(get_backend("torch_fft").prepare(p, inputs).run())
    assert errors.within(budget), errors.per_tensor
