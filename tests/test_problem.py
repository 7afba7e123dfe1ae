import pytest

from fftbench.problem import Problem, ProblemError


def test_derived_sizes():
    p = Problem(batch=2, channels=3, seqlen=1024, mode="causal", kernel_len=256, freq_sparsity=0.5)
    assert p.fft_size == 2048 and p.n_bins == 1025 and p.K == 256
    assert p.is_partial and p.is_freq_sparse and p.rows == 6
    assert p.cutoff_bin == 512
    assert p.features == {"partial", "freq_sparse"}
    assert Problem(1, 1, 1000, mode="circular").fft_size == 1000


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(batch=0), "batch"),
        (dict(channels=-1), "channels"),
        (dict(seqlen=1), "seqlen"),
        (dict(dtype="fp64"), "dtype"),
        (dict(mode="acausal"), "mode"),
        (dict(kernel_len=2048), "kernel_len"),
        (dict(freq_sparsity=1.0), "freq_sparsity"),
        (dict(batch=True), "batch"),
    ],
)
def test_impossible_problems_name_the_field(kwargs, field):
    args = dict(batch=1, channels=1, seqlen=1024) | kwargs
    with pytest.raises(ProblemError) as err:
        Problem(**args)
    message = str(err.value)
    assert message.startswith(field) and "\n" not in message


def test_point_label_names_the_pass_only_when_not_forward():
    """One label for a Problem, a results row and a report record; a row written before the pass
    axis (no pass column) reads as fwd, so existing labels and baselines keep their meaning."""
    from fftbench.problem import point_label

    fwd = Problem(batch=2, channels=3, seqlen=1024, dtype="fp16", mode="causal", kernel_len=256, gated=True)
    assert fwd.label() == "2x3x1024 fp16 causal K=256 gated"
    old_row = {k: v for k, v in fwd.key().items() if k != "pass"}
    assert point_label(old_row) == fwd.label() == point_label({**old_row, "pass": None})
    for pass_ in ("bwd", "fwd_bwd"):
        p = Problem(batch=2, channels=3, seqlen=1024, dtype="fp16", mode="causal", kernel_len=256, gated=True, pass_=pass_)
        assert p.label() == f"2x3x1024 fp16 causal K=256 gated {pass_}" == point_label(p.key())


def test_pow2_lengths_spans_both_ends():
    from fftbench.problem import pow2_lengths

    assert pow2_lengths(256, 4096) == [256, 512, 1024, 2048, 4096]
    assert pow2_lengths(8, 8) == [8]
