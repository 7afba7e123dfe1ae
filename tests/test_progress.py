"""Progress lines keep their columns: the status starts at the same place on a gated, partial or
frequency-sparse row as on a plain one."""
from fftbench.problem import Problem
from fftbench.progress import describe

PROBLEMS = (
    Problem(batch=4, channels=4, seqlen=256),
    Problem(batch=4, channels=4, seqlen=256, gated=True),
    Problem(batch=2, channels=4, seqlen=16384, kernel_len=1024, freq_sparsity=0.5, mode="circular"),
)


def test_status_column_lines_up_on_gated_and_partial_rows():
    widths = (len("torch_fft_compile"), max(len(p.label()) for p in PROBLEMS))
    lines = [describe({"backend": b, **p.key(), "status": "ok", "t_p50_us": 12.5}, widths)
             for p in PROBLEMS for b in ("torch_fft", "torch_fft_compile")]
    assert len({line.index(" ok ") for line in lines}) == 1, "\n".join(lines)
    assert len({line.index(" us") for line in lines}) == 1
