"""The adjoint algebra backward passes share, against float64 autograd of the forward reference."""
import dataclasses

import pytest
import torch

from fftbench.adjoint import filter_gradient, reversed_filter
from fftbench.gradients import reference_gradients
from fftbench.inputs import kernel_spectrum, make_inputs
from fftbench.problem import Problem
from fftbench.reference import reference

CASES = [
    dict(mode="causal"),
    dict(mode="circular"),
    dict(mode="causal", kernel_len=40, freq_sparsity=0.5),
    dict(mode="circular", kernel_len=100, freq_sparsity=0.25),
]


def _double(inputs):
    return dataclasses.replace(inputs, **{n: getattr(inputs, n).double() for n in ("u", "k", "dy")})


@pytest.mark.parametrize("case", CASES, ids=str)
def test_reversed_filter_spectrum_is_the_conjugate(case):
    p = Problem(1, 3, 128, "fp32", **case)
    k = make_inputs(p, "cpu", seed=1).k.double()
    got = torch.fft.rfft(reversed_filter(p, k), n=p.fft_size)
    assert torch.allclose(got, torch.fft.rfft(k, n=p.fft_size).conj(), atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward_with_the_reversed_filter_is_du(case):
    p = Problem(2, 3, 128, "fp32", pass_="bwd", **case)
    x = _double(make_inputs(p, "cpu", seed=2))
    transposed = dataclasses.replace(x, u=x.dy, k=reversed_filter(p, x.k))
    du = reference(p, transposed, torch.arange(p.rows)).reshape(p.batch, p.channels, p.seqlen)
    want = reference_gradients(p, x, torch.arange(p.channels))["du"]
    assert torch.allclose(du, want, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_filter_gradient_is_dk(case):
    p = Problem(3, 2, 128, "fp32", pass_="bwd", **case)
    x = _double(make_inputs(p, "cpu", seed=3))
    dk = filter_gradient(p, x.u, x.dy).double()
    want = reference_gradients(p, x, torch.arange(p.channels))["dk"]
    assert ((dk - want).norm() / want.norm()).item() < 1e-6  # fp32 FFTs


def test_reference_gradients_match_the_closed_forms_when_gated():
    """Autograd of the reference against du = w ⊙ convᵀ(v ⊙ dy), dw = u ⊙ convᵀ(v ⊙ dy), dv = dy ⊙ conv(u ⊙ w)."""
    p = Problem(2, 2, 64, "fp32", mode="causal", gated=True, pass_="bwd")
    x = make_inputs(p, "cpu", seed=4)
    u, v, w, dy, k = (t.double() for t in (x.u, x.v, x.w, x.dy, x.k))
    spec = kernel_spectrum(p, k, dtype=torch.complex128)
    conv = lambda s, spectrum: torch.fft.irfft(torch.fft.rfft(s, n=p.fft_size) * spectrum, n=p.fft_size)[..., :p.seqlen]
    g = conv(v * dy, spec.conj())
    got = reference_gradients(p, x, torch.arange(p.channels))
    assert torch.allclose(got["du"], w * g, atol=1e-10) and torch.allclose(got["dw"], u * g, atol=1e-10)
    assert torch.allclose(got["dv"], dy * conv(u * w, spec), atol=1e-10)
