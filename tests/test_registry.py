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


def test_passes_are_a_declared_capability(monkeypatch):
    from fftbench import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_backend("unit_forward_only", family="test", device="any")
    def forward_only(problem, inputs):
        """Forward only (the default)."""
        return lambda: inputs.u

    @register_backend("unit_trainable", family="test", device="any", passes=("fwd", "bwd"))
    def trainable(problem, inputs):
        """Forward and backward."""
        return lambda: inputs.u

    bwd = Problem(1, 1, 64, dtype="fp32", pass_="bwd")
    assert registry._REGISTRY["unit_forward_only"].unsupported_reason(bwd) == "pass bwd not supported (runs fwd)"
    assert registry._REGISTRY["unit_trainable"].unsupported_reason(bwd) is None
    assert "fwd_bwd" in registry._REGISTRY["unit_trainable"].unsupported_reason(Problem(1, 1, 64, dtype="fp32", pass_="fwd_bwd"))
    assert registry._REGISTRY["unit_trainable"].capabilities()["passes"] == ["fwd", "bwd"]
    with pytest.raises(ValueError, match="unknown capability"):
        register_backend("bad_pass", family="test", passes=("sideways",))


def test_which_builtin_backends_train():
    training = {name for name, b in load_backends().items() if "bwd" in b.passes}
    assert {"torch_fft", "monarch_cuda", "monarch_twin"} <= training
    reason = get_backend("triton_monarch").unsupported_reason(Problem(2, 2, 1024, dtype="fp16", pass_="fwd_bwd"))
    assert reason == "pass fwd_bwd not supported (runs fwd)"
