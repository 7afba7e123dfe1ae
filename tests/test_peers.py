"""The peer backends (kernels/peers): registration, why they are unavailable, capabilities checked
against the peers' own sources (../shared/peers), the `peers` family and suite, the report's
reference-line style, the device script's arch patch; on a GPU with the peers built, their results
against float64."""
from __future__ import annotations

import math
import re
import subprocess
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fftbench import cuda_build
from fftbench.cli import _select_backends
from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.reference import DEFAULT_BUDGETS, check_call
from fftbench.registry import PEER_FAMILY, get_backend, load_backends
from fftbench.report.frames import backend_colors, prepare
from fftbench.report.plots import error_vs_n, runtime_vs_n
from fftbench.results import load_run
from fftbench.suites import load_suite
from kernels.peers import flashfftconv as ffc
from kernels.peers import thunderkittens_fftconv as tk
from tests.fixtures.synthetic_runs import make_row, point

REPO = Path(__file__).resolve().parent.parent
SHARED_PEERS = REPO.parent / "shared" / "peers"
PEERS = ("flashfftconv", "thunderkittens_fftconv")


def _snapshot_text(prefix: str, member: str) -> str:
    """One file of a ../shared/peers tarball, read without unpacking it."""
    tarballs = sorted(SHARED_PEERS.glob(f"{prefix}-*.tar.gz"))
    if not tarballs:
        pytest.skip(f"no {prefix} snapshot in {SHARED_PEERS}")
    with tarfile.open(tarballs[0]) as tar:
        return tar.extractfile(f"./{member}").read().decode()


# --- registration and capabilities --------------------------------------------------------------

def test_peers_are_registered_in_their_family():
    backends = load_backends()
    for name in PEERS:
        assert backends[name].family == PEER_FAMILY and backends[name].description
    assert backends["flashfftconv"].precomputed_spectrum is False  # it transforms k on every call
    assert backends["thunderkittens_fftconv"].precomputed_spectrum is True
    assert [b.family for b in backends.values()].count(PEER_FAMILY) == len(PEERS)


def test_flashfftconv_fft_sizes_are_the_ones_its_code_builds():
    conv = _snapshot_text("flash-fft-conv", "flashfftconv/conv.py")
    init = conv[conv.index("def __init__(self, seqlen"):conv.index("def forward(self, u, k")]
    sizes = {int(n) for group in re.findall(r"seqlen in \[([\d, ]+)\]", init) for n in group.split(",")}
    sizes |= {math.prod(int(f) for f in expr.split("*")) for expr in re.findall(r"seqlen == ([\d *]+):", init)}
    assert sizes == set(ffc.FFT_SIZES)
    assert "assert dtype == torch.bfloat16 or dtype == torch.float16" in init
    assert get_backend("flashfftconv").dtypes == ("fp16", "bf16")


def test_thunderkittens_lengths_and_dtype_are_the_ones_its_code_has():
    kernel = _snapshot_text("thunderkittens-fftconv", tk.SOURCE)
    assert {int(n) for n in re.findall(r"struct fftconv_(\d+)_layout", kernel)} == set(tk.SEQLENS)
    wrapper = _snapshot_text("thunderkittens-fftconv", tk.WRAPPER)
    assert "assert dtype == torch.bfloat16" in wrapper
    b = get_backend("thunderkittens_fftconv")
    assert b.dtypes == ("bf16",) and b.modes == ("circular",)


@pytest.mark.parametrize("problem, needle", [
    (Problem(1, 1, 4096, dtype="fp32"), "dtype fp32"),
    (Problem(1, 1, 1 << 22, mode="causal"), "FFT size 8388608"),
    (Problem(1, 1, 4096, freq_sparsity=0.5), "freq_sparse"),
    (Problem(1, 1, 1000), "power of two"),
])
def test_flashfftconv_refuses_what_it_cannot_run(problem, needle):
    assert needle in get_backend("flashfftconv").unsupported_reason(problem)


@pytest.mark.parametrize("problem", [
    Problem(1, 1, 1 << 22, mode="circular"), Problem(1, 1, 1 << 21, mode="causal", dtype="bf16"),
    Problem(1, 1, 128, mode="causal"), Problem(1, 1, 4096, gated=True, kernel_len=100),
])
def test_flashfftconv_accepts_its_sizes_gating_and_partial_filters(problem):
    assert get_backend("flashfftconv").unsupported_reason(problem) is None


def test_thunderkittens_runs_bf16_circular_1k_and_4k_only():
    b = get_backend("thunderkittens_fftconv")
    assert b.unsupported_reason(Problem(1, 1, 1024, dtype="bf16", mode="circular")) is None
    assert b.unsupported_reason(Problem(1, 1, 4096, dtype="bf16", mode="circular", kernel_len=9)) is None
    assert "2048" in b.unsupported_reason(Problem(1, 1, 2048, dtype="bf16", mode="circular"))
    assert "mode causal" in b.unsupported_reason(Problem(1, 1, 1024, dtype="bf16", mode="causal"))
    assert "dtype fp16" in b.unsupported_reason(Problem(1, 1, 1024, dtype="fp16", mode="circular"))
    assert "gating" in b.unsupported_reason(Problem(1, 1, 1024, dtype="bf16", mode="circular", gated=True))


# --- FlashFFTConv: found through its checkout or not at all -------------------------------------

# What the real conv.py does first (import its extension), then its documented semantics in
# float64: a stand-in that checks how the factory calls FlashFFTConv, not FlashFFTConv itself.
FAKE_CONV = '''
import torch
from monarch_cuda import monarch_conv_forward


class FlashFFTConv(torch.nn.Module):
    def __init__(self, seqlen, dtype=torch.float16):
        super().__init__()
        assert dtype in (torch.float16, torch.bfloat16)
        self.seqlen = seqlen

    def forward(self, u, k, pregate=None, postgate=None):
        x = u.double() if pregate is None else u.double() * pregate.double()
        spec = torch.fft.rfft(x, n=self.seqlen) * torch.fft.rfft(k.double(), n=self.seqlen)
        y = torch.fft.irfft(spec, n=self.seqlen)[..., :u.shape[-1]]
        return (y if postgate is None else y * postgate.double()).to(u.dtype)
'''


@pytest.fixture
def fresh_import(monkeypatch):
    """A clean slate for load(): its cache, sys.path and the modules it imports."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("flashfftconv", "monarch_cuda"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    ffc.load.cache_clear()
    yield
    ffc.load.cache_clear()
    for name in ("flashfftconv", "monarch_cuda"):
        sys.modules.pop(name, None)


def _checkout(root: Path, built: bool) -> Path:
    """A FlashFFTConv checkout: built, monarch_cuda is an extension module in csrc/flashfftconv;
    not built, only its source folder monarch_cuda/ is there (as in the snapshot)."""
    (root / "flashfftconv").mkdir(parents=True)
    (root / "flashfftconv" / "__init__.py").write_text(FAKE_CONV)
    ext = root / ffc.EXTENSION_DIR
    (ext / "monarch_cuda").mkdir(parents=True)
    if built:
        (ext / "monarch_cuda.py").write_text("def monarch_conv_forward(*args):\n    raise NotImplementedError\n")
    return root


def test_flashfftconv_without_the_package_says_how_to_get_it(monkeypatch, fresh_import):
    monkeypatch.delenv(ffc.ENV_ROOT, raising=False)
    reason = ffc.unavailable_reason()
    assert "flashfftconv does not import" in reason and ffc.ENV_ROOT in reason


def test_flashfftconv_root_without_a_checkout(monkeypatch, tmp_path, fresh_import):
    monkeypatch.setenv(ffc.ENV_ROOT, str(tmp_path))
    assert ffc.unavailable_reason() == f"{ffc.ENV_ROOT}={tmp_path} has no flashfftconv/__init__.py, {ffc.EXTENSION_DIR}"


def test_flashfftconv_with_its_extension_unbuilt(monkeypatch, tmp_path, fresh_import):
    monkeypatch.setenv(ffc.ENV_ROOT, str(_checkout(tmp_path, built=False)))
    reason = ffc.unavailable_reason()
    assert "does not import" in reason and "monarch_conv_forward" in reason and ffc.EXTENSION_DIR in reason


def test_flashfftconv_checkout_is_imported_and_called_as_documented(monkeypatch, tmp_path, fresh_import):
    """Gating maps our y = v ⊙ conv(u ⊙ w, k) onto its pregate = w, postgate = v; the FFT size is F."""
    monkeypatch.setenv(ffc.ENV_ROOT, str(_checkout(tmp_path, built=True)))
    assert ffc.unavailable_reason() is None
    assert str(tmp_path) in sys.path and str(tmp_path / ffc.EXTENSION_DIR) in sys.path
    backend = get_backend("flashfftconv")
    for problem in (Problem(2, 3, 64, dtype="fp16", mode="causal", gated=True),
                    Problem(2, 3, 128, dtype="bf16", mode="circular", kernel_len=40)):
        inputs = make_inputs(problem, "cpu", seed=0)
        prepared = backend.prepare(problem, inputs)
        assert check_call(problem, inputs, prepared.run).within(DEFAULT_BUDGETS[problem.dtype])
        assert prepared.details["fft_size"] == problem.fft_size and "every call" in prepared.details["spectrum"]


def test_list_on_a_gpu_machine_says_what_each_peer_lacks(monkeypatch, fresh_import):
    from fftbench.cli import list_everything

    monkeypatch.delenv(ffc.ENV_ROOT, raising=False)
    monkeypatch.delenv(tk.ENV_ROOT, raising=False)
    lines = list_everything(has_cuda=True).splitlines()
    line = {name: next(x for x in lines if x.lstrip().startswith(name + " ")) for name in PEERS}
    assert "unavailable: flashfftconv does not import" in line["flashfftconv"]
    assert f"unavailable: {tk.ENV_ROOT} is not set" in line["thunderkittens_fftconv"]


# --- ThunderKittens: checkout, compiler, ninja, GPU ---------------------------------------------

def _tk_tree(root: Path) -> Path:
    for path in tk.NEEDED:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("")
    return root


def test_thunderkittens_says_why_it_is_unavailable(monkeypatch, tmp_path):
    from torch.utils import cpp_extension

    monkeypatch.delenv(tk.ENV_ROOT, raising=False)
    assert tk.unavailable_reason().startswith(f"{tk.ENV_ROOT} is not set")
    monkeypatch.setenv(tk.ENV_ROOT, str(tmp_path))
    assert tk.SOURCE in tk.unavailable_reason()
    _tk_tree(tmp_path)
    monkeypatch.setattr(cuda_build, "nvcc_path", lambda: None)
    assert "nvcc" in tk.unavailable_reason()
    monkeypatch.setattr(cuda_build, "nvcc_path", lambda: "/usr/bin/nvcc")
    monkeypatch.setattr(cpp_extension, "is_ninja_available", lambda: False)
    assert "ninja" in tk.unavailable_reason()
    monkeypatch.setattr(cpp_extension, "is_ninja_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "GPU" in tk.unavailable_reason()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (10, 0))
    assert "sm_100" in tk.unavailable_reason()
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    assert tk.unavailable_reason() is None


def _fake_tk_kernel(u_real, kf_real, kf_imag, *factors_and_sizes):
    """fftconv's contract at N = 4096, in float64: kf is fft(k) as (H, N1, N1) transposed tiles."""
    b, h, n1, _ = u_real.shape
    k_f = torch.complex(kf_real.double(), kf_imag.double()).transpose(-1, -2).reshape(h, n1 * n1)
    y = torch.fft.ifft(torch.fft.fft(u_real.double().reshape(b, h, n1 * n1)) * k_f).real
    return y.reshape(b, h, n1, n1).to(u_real.dtype)


def test_thunderkittens_uses_its_own_wrapper_bound_to_our_build(monkeypatch, tmp_path, capsys):
    wrapper_source = _snapshot_text("thunderkittens-fftconv", tk.WRAPPER)
    root = _tk_tree(tmp_path)
    (root / tk.WRAPPER).write_text(wrapper_source)
    monkeypatch.setenv(tk.ENV_ROOT, str(root))
    monkeypatch.setattr(tk, "extension", lambda: types.SimpleNamespace(fftconv=_fake_tk_kernel, __file__="fake.so"))
    tk.wrapper.cache_clear()
    try:
        problem = Problem(2, 3, 4096, dtype="bf16", mode="circular")
        inputs = make_inputs(problem, "cpu", seed=0)
        prepared = get_backend("thunderkittens_fftconv").prepare(problem, inputs)
        assert tk.wrapper().fftconv is _fake_tk_kernel
        assert check_call(problem, inputs, prepared.run).within(DEFAULT_BUDGETS["bf16"])
    finally:
        tk.wrapper.cache_clear()
    assert capsys.readouterr().out == ""  # its "Could not import thunderkittens" is swallowed


# --- the family, the suite, the report ----------------------------------------------------------

def test_the_peers_family_selects_both_peers():
    suite = load_suite("peers")
    assert [b.name for b in _select_backends(suite, ["peers"])] == list(PEERS)
    assert [b.name for b in _select_backends(suite, ["torch_fft", "peers"])] == ["torch_fft", *PEERS]


def test_peers_suite_has_only_points_a_peer_runs_and_our_backends_beside_them():
    suite = load_suite("peers")
    peers = [get_backend(n) for n in PEERS]
    for problem in suite.points():
        assert any(p.unsupported_reason(problem) is None for p in peers), problem.label()
    families = {get_backend(n).family for n in suite.backends}
    assert PEER_FAMILY in families and len(families) > 1


def test_cpu_run_of_the_peers_family_records_family_and_spectrum(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "run_bench.py", "--suite", "peers", "--cpu", "--backends", "peers",
                           "--seqlens", "1K", "--out", str(out), "--no-report"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, rows = load_run(out)
    assert set(rows["backend"]) == set(PEERS) and set(rows["family"]) == {PEER_FAMILY}
    assert set(rows["status"]) == {"unavailable"} and rows["reason"].str.contains("GPU").all()
    spectrum = rows.groupby("backend")["precomputed_spectrum"].agg(set).to_dict()
    assert spectrum == {"flashfftconv": {False}, "thunderkittens_fftconv": {True}}


def _run_with_a_peer() -> pd.DataFrame:
    """Ours and a peer at two lengths; the peer is named like none of ours, so only its family
    can mark it."""
    rng = np.random.default_rng(0)
    rows = []
    for n in (1024, 4096):
        p = point(n, "fp16", "causal")
        rows.append(make_row(rng, "r", "torch_fft", p))
        rows.append(make_row(rng, "r", "monarch_cuda", p))
        rows.append({**make_row(rng, "r", "torch_fft", p), "backend": "a_published_kernel", "family": PEER_FAMILY,
                     "is_baseline": False, "precomputed_spectrum": False})
    return prepare(pd.DataFrame(rows))


@pytest.mark.parametrize("plot", [runtime_vs_n, error_vs_n])
def test_report_draws_peers_as_greyed_dashed_reference_lines(plot):
    df = _run_with_a_peer()
    colors = backend_colors(df["backend"])
    lines = {line.get_label(): line for ax in plot(df, {}, colors).axes for line in ax.get_lines()}
    peer = next(line for label, line in lines.items() if label.startswith("a_published_kernel"))
    ours = next(line for label, line in lines.items() if label.startswith("monarch_cuda"))
    assert "k transformed per call" in peer.get_label()
    assert peer.get_linestyle() == "--" and peer.get_markerfacecolor() == "none"
    assert peer.get_color() != colors["a_published_kernel"]
    assert ours.get_linestyle() == "-" and ours.get_color() == colors["monarch_cuda"]


# --- the device script ---------------------------------------------------------------------------

def test_device_script_patches_flashfftconvs_arch_flag(tmp_path):
    setup = tmp_path / "setup.py"
    setup.write_text(_snapshot_text("flash-fft-conv", "csrc/flashfftconv/setup.py"))
    script = REPO / "tools" / "device" / "peers.sh"
    define = subprocess.run(["sed", "-n", "/^patch_arch()/,/^}/p", str(script)], capture_output=True, text=True).stdout
    proc = subprocess.run(["bash", "-c", f"{define}\npatch_arch {setup}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = setup.read_text()
    assert "cc_flag = ['-gencode=arch=compute_90,code=sm_90']" in text and "compute_80" not in text


# --- on a GPU with the peers built ---------------------------------------------------------------

def _available(name: str) -> bool:
    return torch.cuda.is_available() and get_backend(name).unavailable_reason(has_cuda=True) is None


@pytest.mark.skipif(not _available("flashfftconv"), reason="needs a GPU and a built FlashFFTConv")
@pytest.mark.parametrize("problem", [
    Problem(2, 16, 1024, dtype="fp16", mode="causal"),
    Problem(2, 16, 4096, dtype="bf16", mode="circular"),
    Problem(2, 16, 2048, dtype="fp16", mode="causal", gated=True),
    Problem(2, 16, 8192, dtype="fp16", mode="causal", kernel_len=512),
])
def test_flashfftconv_matches_float64(problem):
    inputs = make_inputs(problem, "cuda", seed=0)
    run = get_backend("flashfftconv").prepare(problem, inputs).run
    assert check_call(problem, inputs, run).within(DEFAULT_BUDGETS[problem.dtype])


@pytest.mark.skipif(not _available("thunderkittens_fftconv"), reason="needs an sm_90 GPU and FFTBENCH_TK_ROOT")
def test_thunderkittens_4k_matches_float64():
    problem = Problem(4, 16, 4096, dtype="bf16", mode="circular")
    inputs = make_inputs(problem, "cuda", seed=0)
    run = get_backend("thunderkittens_fftconv").prepare(problem, inputs).run
    assert check_call(problem, inputs, run).within(DEFAULT_BUDGETS["bf16"])


# --- the README's comparison table ---------------------------------------------------------------

def test_comparison_table_shows_times_wrong_points_and_per_call_spectra():
    from fftbench.report.markdown import comparison_table

    rng = np.random.default_rng(0)
    p1k, p4k = point(1024, "bf16", "circular"), point(4096, "fp16", "causal")
    ok = make_row(rng, "r", "torch_fft", p4k)
    rows = [make_row(rng, "r", "torch_fft", p1k), ok,
            {**make_row(rng, "r", "torch_fft", p1k, status="wrong"), "backend": "thunderkittens_fftconv"},
            {**make_row(rng, "r", "torch_fft", p4k, status="unsupported"), "backend": "thunderkittens_fftconv"},
            {**make_row(rng, "r", "torch_fft", p4k), "backend": "flashfftconv", "precomputed_spectrum": False},
            make_row(rng, "r", "monarch_cuda", p4k)]
    for row in rows[2:5]:
        row["family"] = PEER_FAMILY
    lines = comparison_table(pd.DataFrame(rows)).splitlines()
    assert lines[0] == ("| B×H×N | dtype | mode | `torch_fft` | `monarch_cuda` | `thunderkittens_fftconv` | "
                        "`flashfftconv`† |")
    wrong_err = rows[2]["rel_l2_err"]
    assert lines[2].startswith("| 4×64×4K | fp16 | causal | ")  # fp16 before bf16, as in the report
    assert lines[2].split(" | ")[3] == f"{ok['t_p50_us'] / 1e3:.4g} ({ok['frac_hbm_floor']:.2f})"
    assert lines[2].split(" | ")[5] == "—"
    assert lines[3].startswith("| 4×64×1K | bf16 | circular | ") and f"wrong (rel. error {wrong_err:.3g})" in lines[3]
    assert "† transforms k on every call" in lines[-1]


def test_comparison_table_keeps_points_that_differ_only_in_sparsity_apart():
    from fftbench.report.markdown import comparison_table

    rng = np.random.default_rng(1)
    dense = make_row(rng, "r", "torch_fft", point(4096, "fp16", "causal"))
    sparse = {**make_row(rng, "r", "torch_fft", point(4096, "fp16", "causal")), "freq_sparsity": 0.75}
    lines = comparison_table(pd.DataFrame([dense, sparse])).splitlines()
    assert lines[2].startswith("| 4×64×4K | fp16 | causal | ") and lines[3].startswith("| 4×64×4K fsparse=0.75 | ")
    assert f"{dense['t_p50_us'] / 1e3:.4g}" in lines[2] and f"{sparse['t_p50_us'] / 1e3:.4g}" in lines[3]
