import pytest

from fftbench.problem import Problem
from fftbench.registry import Prepared, get_backend, load_backends, register_backend


def test_builtin_backends_are_registered_with_capabilities():
    backends = load_backends()
    assert {"torch_fft", "torch_fft_compile", "monarch_cuda", "monarch_twin", "monarch_long", "monarch_long_twin",
            "cufftdx_fused", "triton_monarch"} <= set(backends)
    assert [b.name for b in backends.values() if b.baseline] == ["torch_fft"]
    for b in backends.values():
        assert b.description, f"{b.name} needs a docstring"
        caps = b.capabilities()
        assert caps["seqlen_range"][0] <= caps["seqlen_range"][1]


def test_gpu_backends_say_why_they_are_unavailable_without_a_gpu():
    for b in load_backends().values():
        if b.device == "cuda":
            reason = b.unavailable_reason(has_cuda=False)
            assert reason and "GPU" in reason


def test_unsupported_reasons():
    b = get_backend("torch_fft")
    assert b.unsupported_reason(Problem(1, 1, 1000, dtype="fp16")) == "cuFFT half precision needs a power-of-two FFT size"
    assert b.unsupported_reason(Problem(1, 1, 1024, dtype="fp16")) is None


def test_registering_and_declared_capabilities(monkeypatch):
    from fftbench import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_backend("unit_dummy", family="test", dtypes=("fp32",), modes=("circular",), seqlens=(16, 64),
                      pow2_only=True, features={"gating"}, device="any")
    def dummy(problem, inputs):
        """A dummy."""
        return lambda: inputs.u

    b = registry._REGISTRY["unit_dummy"]
    assert b.unsupported_reason(Problem(1, 1, 32, dtype="fp16")).startswith("dtype fp16")
    assert b.unsupported_reason(Problem(1, 1, 32, dtype="fp32", mode="causal")).startswith("mode causal")
    assert "outside" in b.unsupported_reason(Problem(1, 1, 128, dtype="fp32", mode="circular"))
    assert "power of two" in b.unsupported_reason(Problem(1, 1, 48, dtype="fp32", mode="circular"))
    assert "freq_sparse" in b.unsupported_reason(Problem(1, 1, 32, dtype="fp32", mode="circular", freq_sparsity=0.5))
    assert b.unsupported_reason(Problem(1, 1, 32, dtype="fp32", mode="circular", gated=True)) is None
    assert isinstance(b.prepare(None, type("I", (), {"u": 1})()), Prepared)
    with pytest.raises(ValueError, match="unknown capability"):
        register_backend("bad", family="test", dtypes=("fp64",))
    with pytest.raises(ValueError, match="registered twice"):
        register_backend("unit_dummy", family="test")(lambda p, i: None)
