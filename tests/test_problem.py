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
