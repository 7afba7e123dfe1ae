"""The table printed at the end of a run: no column for a backend that could not run here."""
import pandas as pd

from fftbench.summary import summary_table


def _row(backend, status, t_us=None, is_baseline=False):
    return {"dtype": "fp16", "mode": "causal", "batch": 4, "channels": 4, "seqlen": 256, "kernel_len": 256,
            "gated": False, "freq_sparsity": 0.0, "backend": backend, "status": status, "t_p50_us": t_us,
            "frac_hbm_floor": None, "is_baseline": is_baseline}


def test_unavailable_backends_get_one_line_not_a_column():
    frame = pd.DataFrame([_row("torch_fft", "ok", 40.0, True), _row("monarch_twin", "ok", 80.0),
                          _row("monarch_cuda", "unavailable"), _row("cufftdx_fused", "unavailable")])
    table, legend, note = summary_table(frame).rsplit("\n", 2)
    assert "torch_fft" in table and "monarch_twin" in table and "0.50x" in table
    assert "unavailable" not in table and "monarch_cuda" not in table
    assert note == "not run here (unavailable): cufftdx_fused, monarch_cuda"
