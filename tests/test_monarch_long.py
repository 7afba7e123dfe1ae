"""monarch_long: the long-range decomposition checked on the CPU through its twin (orders 4 to 6
at small N by using small factors), its tables, and on an sm_90 GPU the CUDA passes against the
float64 reference and against the twin (CI compiles long.cu with every other source)."""

import importlib.util
from pathlib import Path

import pytest
import torch

from fftbench.inputs import make_inputs
from fftbench.problem import Problem
from fftbench.reference import check_call
from fftbench.cuda_build import hopper_reason
from kernels.monarch_long import LaunchConfig, monarch_long
from kernels.monarch_long.plan import LongPlan, split
from kernels.monarch_long.twin import LongTwin

# fp16: the twin measures 0.85-1.05e-3 up to 1M (256K circular: 1.05e-3, the H100 kernel the same)
# and 1.12e-3 at 4M, around the on-chip issue's 1e-3 (kernels/monarch_long/NOTES.md); bf16 runs
# its transforms in fp16 and measures ≤ 3e-3. A wrong decomposition gives errors of order 1.
BUDGET = {"fp16": 1.2e-3, "bf16": 4e-3}

# Kernel against twin, relative L2 at Problem(1, 3, 64K, fp16, causal, gated). The two share every
# rounding point but not what lies below fp16: the kernel's twiddles and pair-map sin/cos come from
# the SFU (__sincosf, |error| ≤ 2^-21.4) and its MMAs accumulate in another order. Such a
# difference flips an fp16 rounding now and then; a flipped value moves every output of the next
# stage by a fraction of an fp16 ulp, so more roundings flip, and after a stage or two the two round
# independently at every later rounding point. The distance therefore does not shrink with the
# size of the sub-fp16 differences. tools/twin_agreement.py measures it on the CPU
# (kernels/monarch_long/measurements/cpu-twin-agreement.txt): values moved by one fp32 ulp before
# each rounding 6.4e-4, by 2^-18 7.8e-4, SFU-sized twiddle errors 5.9e-4, float64 accumulation
# 3.4e-4, all together 6.75-6.98e-4 over nine seeds; the H200 kernel 4.9e-4
# (measurements/h200-gpu-tests.txt, against the 3e-4 this test had). Two computations rounding
# independently everywhere would sit √2 × the twin's float64 error (8.9e-4) apart, 1.26e-3.
# 1e-3 sits 1.4× above the faithful variants and under the bugs that keep the error near the
# budget: T stored as bf16 1.9e-3, the DC/Nyquist pair zeroed 1.7e-3, one bin pair with its
# neighbour's coefficients 6.6e-3, one outer twiddle row wrong 1.4e-2; sign and conjugation
# errors give order 1. It cannot see a rounding point one side lacks (T kept in fp32: 8.0e-4);
# test_matches_float64 bounds the accuracy itself.
TWIN_AGREEMENT = 1e-3
AGREEMENT_PROBLEM = Problem(1, 3, 65536, "fp16", "causal", gated=True)


@pytest.mark.parametrize("m", [2 ** b for b in range(14, 23)])
def test_split_covers_m_within_the_engine_limits(m):
    n1, n2 = split(m)
    assert n1 * n2 == m and 128 <= n1 <= n2 <= 16384


def test_slot_layout_pairs_every_bin_with_its_mirror_exactly_once():
    plan = LongPlan.for_problem(Problem(1, 1, 32768, "fp16", "causal"), n1=128)  # M = 128 · 256
    k, local, rows = plan.slot_layout()
    valid = k >= 0
    assert valid.sum() == plan.m // 2 + 1
    n2 = plan.n2
    flat = rows[:, None, :].expand(-1, k.shape[1], -1).gather(-1, local // n2) * n2 + local % n2
    # the position of frequency f in T: row p1(f mod N1), inner position of f div N1
    where = lambda f: plan.outer.position_of(f % plan.n1) * n2 + plan.inner.position_of(f // plan.n1)
    kv = k[valid]
    assert torch.equal(flat[..., 0][valid], where(kv))
    assert torch.equal(flat[..., 1][valid], where((plan.m - kv) % plan.m))
    covered = torch.cat([flat[..., 0][valid], flat[..., 1][valid]]).unique()
    assert covered.numel() == plan.m


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("m,n1", [(16384, None), (32768, 128), (65536, None), (131072, 512)])  # 4 to 6 stages
def test_twin_matches_float64(m, n1, mode, dtype, gated):
    seqlen = m if mode == "causal" else 2 * m
    problem = Problem(1, 3, seqlen, dtype, mode, gated=gated)
    inputs = make_inputs(problem, "cpu", seed=seqlen)
    twin = LongTwin(problem, inputs.k, LongPlan.for_problem(problem, n1) if n1 else None)
    err = check_call(problem, inputs, lambda: twin(inputs.u, inputs.v, inputs.w))
    # a forced split has more stages (rounding points) than the default one: 1.5× the budget
    assert err.within(BUDGET[dtype] * (1.5 if n1 else 1)), (twin.plan.name, err)


def test_twin_partial_and_freq_sparse():
    problem = Problem(1, 2, 32768, "fp16", "causal", kernel_len=2048, freq_sparsity=0.5)
    inputs = make_inputs(problem, "cpu", seed=5)
    twin = LongTwin(problem, inputs.k)
    assert check_call(problem, inputs, lambda: twin(inputs.u)).within(BUDGET["fp16"])


def test_launch_config_groups_rows_within_the_byte_budget():
    plan = LongPlan.for_problem(Problem(1, 768, 1 << 20, "fp16", "causal"))
    config = LaunchConfig(group_bytes=24 << 20)
    cols, slots, group, threads = config.resolve(plan, 768)
    assert group * 4 * plan.m <= config.group_bytes and group >= 1
    assert plan.n2 % cols == 0 and (plan.n1 // 2) % slots == 0 and threads <= 256
    assert LaunchConfig().resolve(plan, 768)[2] == 768  # default: all rows at once


@pytest.mark.skipif(hopper_reason() is not None, reason=str(hopper_reason()))
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["circular", "causal"])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("seqlen", [65536, 262144, 1048576, 4194304])
def test_matches_float64(seqlen, mode, dtype, gated):
    rows = max(1, (1 << 23) // seqlen)
    problem = Problem(1, rows + (rows > 1), seqlen, dtype, mode, gated=gated)  # an odd number of rows where > 1
    inputs = make_inputs(problem, "cuda", seed=seqlen)
    prepared = monarch_long(problem, inputs, LaunchConfig(group_bytes=4 * seqlen))  # several groups
    err = check_call(problem, inputs, prepared.run)
    assert err.within(BUDGET[dtype]), (prepared.details, err)


@pytest.mark.skipif(hopper_reason() is not None, reason=str(hopper_reason()))
def test_agrees_with_the_twin():
    """The kernel follows its twin's rounding points: within TWIN_AGREEMENT (its comment says why
    no closer) of the twin on the same inputs."""
    problem = AGREEMENT_PROBLEM
    inputs = make_inputs(problem, "cuda", seed=11)
    y = monarch_long(problem, inputs).run().float().cpu()
    twin = LongTwin(problem, inputs.k.cpu())
    y_twin = twin(inputs.u.cpu(), inputs.v.cpu(), inputs.w.cpu()).float()
    assert ((y - y_twin).norm() / y_twin.norm()).item() < TWIN_AGREEMENT


def test_twin_agreement_bound_separates_faithful_variants_from_bugs():
    """On the CPU, the reasoning behind TWIN_AGREEMENT: a twin that keeps every rounding point but
    differs below fp16 as the kernel does stays within it; budget-sized bugs fall outside."""
    spec = importlib.util.spec_from_file_location("twin_agreement", Path(__file__).parents[1] / "tools" / "twin_agreement.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    inputs = make_inputs(AGREEMENT_PROBLEM, "cpu", seed=3)
    call = lambda twin: twin(inputs.u, inputs.v, inputs.w).float()
    y = call(LongTwin(AGREEMENT_PROBLEM, inputs.k))
    gen = torch.Generator().manual_seed(3)
    faithful = LongTwin(AGREEMENT_PROBLEM, inputs.k)
    tool.sfu_twiddles(faithful, gen)
    tool.float64_accumulation(faithful)
    with tool.fp32_jitter(2.0 ** -24, gen):
        assert 1e-4 < tool.rel_l2(call(faithful), y) < TWIN_AGREEMENT / 1.2  # the cascade, with margin
    for bug in (tool.t_in_bf16, tool.dc_pair_zeroed):
        twin = LongTwin(AGREEMENT_PROBLEM, inputs.k)
        bug(twin)
        assert tool.rel_l2(call(twin), y) > 1.5 * TWIN_AGREEMENT, bug.__name__
