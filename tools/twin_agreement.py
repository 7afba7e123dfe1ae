#!/usr/bin/env python3
"""How closely can monarch_long's kernel agree with its CPU twin? Measured on the CPU, with variants of
the twin that keep every rounding point and change only what lies below fp16 resolution, as the
kernel does (SFU twiddles, another fp32 accumulation order), and with variants that carry a bug.

    python tools/twin_agreement.py [--seqlen 65536] [--seeds 11,1,2] [--quick]

Prints, per seed, the twin's relative L2 error against float64 and each variant's distance to the
twin (and to float64), the way tests/test_monarch_long.py::test_agrees_with_the_twin measures the
kernel. Its output for the test's problem is kernels/monarch_long/measurements/cpu-twin-agreement.txt.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import kernels.monarch_long.stage_twin as stage_twin  # noqa: E402
import kernels.monarch_long.twin as long_twin  # noqa: E402
from fftbench.inputs import make_inputs  # noqa: E402
from fftbench.problem import Problem  # noqa: E402
from fftbench.reference import reference  # noqa: E402
from kernels.monarch_long.twin import LongTwin  # noqa: E402

SFU_ABS_ERROR = 2 ** -21.41  # __sincosf on [-π, π] (CUDA C++ Programming Guide, intrinsic functions)


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def _uniform(shape, amplitude: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * amplitude


def _perturb_complex(w: torch.Tensor, amplitude: float, gen: torch.Generator) -> torch.Tensor:
    return torch.complex((w.real.double() + _uniform(w.shape, amplitude, gen)).float(),
                         (w.imag.double() + _uniform(w.shape, amplitude, gen)).float())


def sfu_twiddles(twin: LongTwin, gen: torch.Generator) -> None:
    """Every twiddle (the stages', the outer one) and every pair-map coefficient off by up to the
    SFU's error, as __sincosf leaves them."""
    for sub in (twin.outer, twin.inner):
        sub.twiddles = [_perturb_complex(w, SFU_ABS_ERROR, gen) for w in sub.twiddles]
    twin.twiddle = _perturb_complex(twin.twiddle, SFU_ABS_ERROR, gen)
    c = twin.pairs.coef
    twin.pairs.coef = (c.double() * (1 + _uniform(c.shape, SFU_ABS_ERROR, gen))).float()


def float64_accumulation(twin: LongTwin) -> None:
    """Each stage's DFT contraction summed in float64 and rounded to fp32 once: another
    accumulation order than the twin's fp32 einsum (the kernel's MMAs have a third)."""
    for sub in (twin.outer, twin.inner):
        def dft(re, im, j, inverse, sub=sub):
            r, s = sub.plan.radices[j], sub.plan.strides[j]
            fr, fi = (m.double() for m in sub.mats[r])
            fi = -fi if inverse else fi
            xr, xi = (t.double().reshape(t.shape[0], -1, r, s) for t in (re, im))
            mm = lambda x, f: torch.einsum("bhns,nk->bhks", x, f)
            return ((mm(xr, fr) - mm(xi, fi)).float().reshape(re.shape),
                    (mm(xr, fi) + mm(xi, fr)).float().reshape(im.shape))
        sub._dft = dft


@contextlib.contextmanager
def fp32_jitter(amplitude: float, gen: torch.Generator):
    """Every value reaching a rounding point scaled by (1 + U(-a, a)) first: a = 2^-24 moves values
    by about one fp32 ulp, the size of an accumulation-order difference."""
    original = stage_twin.round_to

    def jittered(x, dtype):
        return original((x.double() * (1 + _uniform(x.shape, amplitude, gen))).float(), dtype)

    stage_twin.round_to = long_twin.round_to = jittered
    try:
        yield
    finally:
        stage_twin.round_to = long_twin.round_to = original


# Bugs that keep the output's error near the dtype's budget, and two of order 1.
def t_in_bf16(twin):
    forward = twin._outer_twiddle
    twin._outer_twiddle = lambda re, im, conj: (forward(re, im, conj) if conj else
                                               tuple(t.to(torch.bfloat16).float() for t in forward(re, im, conj)))


def t_not_rounded(twin):
    def twiddle(re, im, conj):
        tr, ti = twin.twiddle.real, (-twin.twiddle.imag if conj else twin.twiddle.imag)
        return re * tr - im * ti, re * ti + im * tr
    twin._outer_twiddle = twiddle


def dc_pair_zeroed(twin):
    twin.pairs.coef = twin.pairs.coef.clone()
    twin.pairs.coef[:, 0] = 0


def one_pair_shifted(twin):
    c = twin.pairs.coef.clone()
    i = c.shape[1] // 32
    c[:, i] = c[:, i + 1]
    twin.pairs.coef = c


def one_outer_row_wrong(twin):
    tw = twin.twiddle.clone()
    tw[5] = tw[6]
    twin.twiddle = tw


def outer_twiddle_conjugated(twin):
    twin.twiddle = twin.twiddle.conj()


def pair_b_sign(twin):
    c = twin.pairs.coef.clone()
    c[..., 2:4], c[..., 6:8] = -c[..., 2:4], -c[..., 6:8]
    twin.pairs.coef = c


FAITHFUL = {  # name -> (patch(twin, gen), fp32 jitter amplitude)
    "SFU-sized twiddle and coefficient errors": (sfu_twiddles, 0.0),
    "float64 accumulation": (lambda t, g: float64_accumulation(t), 0.0),
    "fp32 jitter 2^-27 (rounds away: no value changes)": (lambda t, g: None, 2.0 ** -27),
    "fp32 jitter 2^-24 before every rounding": (lambda t, g: None, 2.0 ** -24),
    "fp32 jitter 2^-18 before every rounding": (lambda t, g: None, 2.0 ** -18),
    "all of SFU, float64 accumulation, jitter 2^-24": (lambda t, g: (sfu_twiddles(t, g), float64_accumulation(t)), 2.0 ** -24),
}
BUGS = {
    "T stored as bf16": t_in_bf16,
    "DC and Nyquist pair zeroed": dc_pair_zeroed,
    "one bin pair with its neighbour's coefficients": one_pair_shifted,
    "one outer twiddle row wrong": one_outer_row_wrong,
    "outer twiddle conjugated": outer_twiddle_conjugated,
    "pair map B terms negated": pair_b_sign,
}
BLIND = {"T not rounded (a rounding point missing)": t_not_rounded}


def measure(problem: Problem, seed: int, quick: bool = False) -> dict[str, tuple[float, float]]:
    """{variant: (distance to the twin, error against float64)}; "twin" holds (0, its error)."""
    inputs = make_inputs(problem, "cpu", seed=seed)
    ref = reference(problem, inputs, torch.arange(problem.rows)).reshape(problem.batch, problem.channels, -1)
    call = lambda twin: twin(inputs.u, inputs.v, inputs.w).float()
    y = call(LongTwin(problem, inputs.k))
    out = {"twin": (0.0, rel_l2(y, ref))}
    gen = torch.Generator().manual_seed(seed)
    faithful = dict(list(FAITHFUL.items())[-1:]) if quick else FAITHFUL
    for name, (patch, jitter) in faithful.items():
        twin = LongTwin(problem, inputs.k)
        patch(twin, gen)
        with fp32_jitter(jitter, gen) if jitter else contextlib.nullcontext():
            z = call(twin)
        out[name] = (rel_l2(z, y), rel_l2(z, ref))
    for name, patch in ({} if quick else {**BUGS, **BLIND}).items():
        twin = LongTwin(problem, inputs.k)
        patch(twin)
        z = call(twin)
        out[name] = (rel_l2(z, y), rel_l2(z, ref))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seqlen", type=int, default=65536)
    ap.add_argument("--seeds", default="11", help="comma-separated input seeds (default 11, the GPU test's)")
    ap.add_argument("--quick", action="store_true", help="only the combined faithful variant, no bugs")
    args = ap.parse_args(argv)
    problem = Problem(1, 3, args.seqlen, "fp16", "causal", gated=True)
    print(f"problem {problem.label()} (tests/test_monarch_long.py::test_agrees_with_the_twin); relative L2 over all rows")
    for seed in (int(s) for s in args.seeds.split(",")):
        results = measure(problem, seed, args.quick)
        print(f"seed {seed}: twin vs float64 {results.pop('twin')[1]:.2e}")
        for name, (to_twin, to_ref) in results.items():
            kind = "bug" if name in BUGS else "blind" if name in BLIND else "faithful"
            print(f"  {kind:8s} {name:50s} vs twin {to_twin:.2e}   vs float64 {to_ref:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
