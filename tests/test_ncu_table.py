"""tools/ncu_table.py: per-kernel Markdown rows from Nsight Compute raw exports (the H100 fixture of
tests/test_profile.py, base units; and the committed H200 profile of monarch_long, ncu's display units)."""
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("ncu_table", REPO / "tools" / "ncu_table.py")
ncu_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ncu_table)

FIXTURE = Path(__file__).parent / "fixtures" / "ncu_torch_fft_b8_h768_4k_fp16_causal.csv"
H200_LONG = REPO / "kernels" / "monarch_long" / "measurements" / "h200-8593f54-ncu-1m-causal-raw.csv"


def test_units_row_scales_values_to_si():
    """The H200 export prints ms and Gbyte; read as seconds and bytes, its three passes sum to the
    bytes the plan predicts for 1M causal (24 B per element, 768 × 2^20 elements)."""
    kernels = ncu_table.read_kernels(H200_LONG.read_text())
    assert [ncu_table.short_name(k["name"]) for k in kernels] == ["outer_forward<0>", "inner<0>", "outer_inverse<0>"]
    assert kernels[0]["time_s"] == pytest.approx(4.083616e-3)
    moved = sum(k["read_b"] + k["write_b"] for k in kernels)
    assert moved == pytest.approx(24 * 768 * 2**20, rel=0.01)
    assert set(kernels[1]["stalls"]) >= {"long_scoreboard", "wait", "selected"}


def test_markdown_rows_and_total():
    table = ncu_table.markdown(ncu_table.read_kernels(H200_LONG.read_text()), n_stalls=2).splitlines()
    assert len(table) == 2 + 3 + 1  # header, rule, three kernels, the total
    assert table[2].startswith("| `outer_forward<0>` | 4.084 | 1.61 | 3.19 | 1.18 | 24.5 | 71.7 | 6.4 |")
    assert table[2].endswith("| long_scoreboard 3.58, wait 2.23 |")  # "selected" (the issue itself) left out
    assert table[-1].startswith("| all 3 | 15.405 | 11.28 | 7.99 | 1.25 |")


def test_missing_metrics_read_as_dashes():
    """The H100 fixture holds only fftbench.profile's metrics: no stall or issue columns."""
    kernels = ncu_table.read_kernels(FIXTURE.read_text())
    assert len(kernels) == 7 and kernels[0]["stalls"] == {} and kernels[0]["issue_pct"] is None
    row = ncu_table.markdown(kernels).splitlines()[2]
    assert row.count("—") >= 5


def test_short_names():
    assert ncu_table.short_name("void <unnamed>::inner<0>(<unnamed>::LongParams)") == "inner<0>"
    assert ncu_table.short_name("void at::native::f<(int)1, void (*)(int)>(int)") == "f<(int)1, void (*)(int)>"
    assert ncu_table.short_name("k" * 60, width=10) == "k" * 9 + "…"


def test_no_kernels_is_exit_2(tmp_path, capsys):
    empty = tmp_path / "x.csv"
    empty.write_text("==PROF== Disconnected\n")
    assert ncu_table.main([str(empty)]) == 2
    assert "no kernel rows" in capsys.readouterr().err
