"""Monarch FFT convolution in Triton: one fused program per pair of rows (or PAIRS pairs in turn), or
at 32K a split plan of two kernels (the end of this comment).

Operation: y = irfft(rfft(u)·k_f, F)[:N] per row, F = N (circular) or 2N (causal); gated:
y = v ⊙ conv(u ⊙ w, k). Rows b and b+1 of one channel form z = x_b + i·x_{b+1} (plan.py says why).
Every transform has T = N points. Circular is one kind; causal is the sum of two kinds, a cyclic
(κ = 0) and a negacyclic (κ = 1) T-point convolution, which differ only in their tables (stage-1
matrix, stage-1 twiddle, spectrum) — plan.py derives it. Factorisation (plan.py): T = R1·R2 or
R1·R2·R3, the sequence held as an (R1, L = R2·R3) tile (row-major, so a row of the tile is L
contiguous samples: coalesced loads and stores). The kinds run in PASSES passes of KP kinds; a
pass's spectral tile has ROWS = KP·R1 rows, one per (k1, κ) (plan.py: both kinds stacked in one
pass up to 8K, one pass per kind at causal 16K). For each pass (a loop):
  forward  stage 1: F1 @ X            tl.dot, (ROWS, R1) @ (R1, L), the DFT matrix on the left
           twiddle W_F^{m·j1}         fp32 registers (3-stage: product of two small tables, L1)
           stage 2: contract n2       tl.dot on the right; 3-stage: (ROWS,R2,R3) → permute → (ROWS·R3, R2)
           twiddle W_L^{n3k2}         (3-stage only)
           stage 3: contract n3       tl.dot on the right on (ROWS·R2, R3)
  pointwise  · S (precomputed in the spectral tile order [(ρ, k2), k3]; fp16 planes for
             fp16/bf16 problems, fp32 for fp32; re-read from L2 by every program of a channel)
  inverse    the conjugate stages in reverse order; the last, G1 @ D, (R1, ROWS) @ (ROWS, L),
             sums the pass's kinds and accumulates into one fp32 output tile, so the kinds are
             summed in fp32 before the single store.
The pass loop stays a loop (not tl.static_range): unrolled, the compilers interleave the two
independent kinds and hold both in registers (ptxas sm_90, 4K causal a pass per kind, 8 warps:
194 registers against 163). Its loads stay inside it — the stage-2 twiddle table is stored once
per pass for that, since Triton hoists a loop-invariant load and would hold the broadcast table
in registers across both passes (191 registers) — except the input tile and the stage-2/3 DFT
matrices, which Triton hoists into shared memory (dot operands), read by each pass from there.
The fp32 output tile is the only register value that lives across passes.
Complex values are separate real/imag tiles; a complex dot is 4 real tl.dot (fp16/bf16 operands,
fp32 accumulation; fp32 problems use fp32 operands with input_precision="ieee"). Between stages the
data is rounded to the operand dtype; twiddles and the spectrum product run in fp32. Intermediates
stay in registers; Triton's layout conversions (dot operands, permutes) go through shared memory.
DFT matrices (scaled 1/√r, so both transforms are unitary) and twiddle tables are precomputed in
the factory. Supported: power-of-two N = 256 … 16384 fused (monarch_conv_kernel), both modes.
Bytes per element: u read once, y written once (4 B fp16; gated + v, w: 8 B); spectrum 4 B per
bin (fp16) per program from L2. Measured bound of v1 (ncu, 4K causal): latency — one 8-warp block
per SM (registers), issue slots 32% busy; NOTES.md.

Split plans (N = 32K, where no program holds a T-point tile; selectable at any N): the pass above
cut between its last two dots, over two kernels (plan.py: blocks of ROWS = 16 stage-1 rows).
  monarch_rows_kernel     one program per (pair, block p): stage 1 as a K loop over n1 in chunks
                          of 16, (ROWS, 16) @ (16, L) accumulated in fp32 (the input is never held
                          whole), then _spectral_pass down to D [ρ, m], stored (operand dtype) as
                          rows p·ROWS + ρ of the pair's scratch slot (2, KINDS·R1, L)
  monarch_columns_kernel  one program per (pair, block of BC columns): G1 @ D, (R1, KINDS·R1) @
                          (KINDS·R1, BC) with the gather matrix — summing the kinds in fp32 —,
                          gating, store
The wrapper launches the two over slices of the (channel, pair) slots sized so the slice's
scratch stays in L2 (24 MiB). Bytes per element, fp16 causal: HBM as above; through L2 the
scratch (8 B), the input re-read by each rows program of its pair (2 B each) and the spectrum.
"""
import triton
import triton.language as tl


@triton.jit
def _cdot(ar, ai, br, bi, PREC: tl.constexpr, accr=None, acci=None):
    """(ar + i·ai) @ (br + i·bi) [+ acc], fp32 accumulation: a DFT matrix on either side of the data."""
    re = tl.dot(ar, br, accr, input_precision=PREC)
    re = tl.dot(-ai, bi, re, input_precision=PREC)
    im = tl.dot(ar, bi, acci, input_precision=PREC)
    im = tl.dot(ai, br, im, input_precision=PREC)
    return re, im


@triton.jit
def _cmul(ar, ai, br, bi):
    return ar * br - ai * bi, ar * bi + ai * br


@triton.jit
def _cmul_conj(ar, ai, br, bi):
    """a · conj(b)."""
    return ar * br + ai * bi, ai * br - ar * bi


@triton.jit
def _matrix(ptr, ROWS: tl.constexpr, COLS: tl.constexpr, CONJ: tl.constexpr):
    """A (2, ROWS, COLS) complex matrix (re, im planes, row-major); CONJ conjugates it.
    Loaded at each use (L1) rather than held in registers."""
    offs = tl.arange(0, ROWS)[:, None] * COLS + tl.arange(0, COLS)[None, :]
    re = tl.load(ptr + offs)
    im = tl.load(ptr + ROWS * COLS + offs)
    if CONJ:
        im = -im
    return re, im


@triton.jit
def _stage1_twiddle(ta_ptr, tb_ptr, ROWS: tl.constexpr, R2: tl.constexpr, R3: tl.constexpr,
                    N3_BEFORE_N2: tl.constexpr):
    """One pass's W_F^{m·j1}: the table A[ρ, n2] (two stages), or the product A[ρ, n2]·B[ρ, n3]
    of two small tables (three stages) as a (ROWS, R2·R3) tile, or (ROWS·R3, R2) [(ρ, n3), n2]."""
    i1 = tl.arange(0, ROWS)
    i2 = tl.arange(0, R2)
    a = i1[:, None] * R2 + i2[None, :]
    ar = tl.load(ta_ptr + a)
    ai = tl.load(ta_ptr + ROWS * R2 + a)
    if R3 == 1:
        tr = ar
        ti = ai
    else:
        i3 = tl.arange(0, R3)
        b = i1[:, None] * R3 + i3[None, :]
        br = tl.load(tb_ptr + b)
        bi = tl.load(tb_ptr + ROWS * R3 + b)
        if N3_BEFORE_N2:
            tr, ti = _cmul(ar[:, None, :], ai[:, None, :], br[:, :, None], bi[:, :, None])
            tr = tl.reshape(tr, (ROWS * R3, R2))
            ti = tl.reshape(ti, (ROWS * R3, R2))
        else:
            tr, ti = _cmul(ar[:, :, None], ai[:, :, None], br[:, None, :], bi[:, None, :])
            tr = tl.reshape(tr, (ROWS, R2 * R3))
            ti = tl.reshape(ti, (ROWS, R2 * R3))
    return tr, ti


@triton.jit
def _spectral_pass(ar, ai, ta, tb, tc, m2_ptr, m3_ptr, spec, ROWS: tl.constexpr, R2: tl.constexpr,
                   R3: tl.constexpr, PREC: tl.constexpr, KEPT: tl.constexpr):
    """One pass from the stage-1 output A [ρ, m] (ROWS, L, fp32) to the last inverse stage's input
    D [ρ, m] (operand dtype): stage-1 twiddle, stages 2 (and 3), spectrum, their inverses, the
    conjugate stage-1 twiddle. ta, tb, tc, spec point at this pass's tables. Two stages: stage 2
    is A @ F2[:, kept] (R2, KEPT) and its inverse D @ conj(F2[kept, :]) (KEPT, R2), m2 and m3 —
    KEPT < R2 skips the spectral columns of a frequency-sparse problem that hold only zero bins."""
    L: tl.constexpr = R2 * R3
    op = m2_ptr.dtype.element_ty
    t1r, t1i = _stage1_twiddle(ta, tb, ROWS, R2, R3, False)
    ar, ai = _cmul(ar, ai, t1r, t1i)
    if R3 == 1:
        f2r, f2i = _matrix(m2_ptr, R2, KEPT, False)
        cr, ci = _cdot(ar.to(op), ai.to(op), f2r, f2i, PREC)                # [ρ, k2 kept]
    else:
        # stage 2: contract n2 on (ROWS·R3, R2) [(ρ, n3), n2]
        br = tl.reshape(tl.permute(tl.reshape(ar.to(op), (ROWS, R2, R3)), (0, 2, 1)), (ROWS * R3, R2))
        bi = tl.reshape(tl.permute(tl.reshape(ai.to(op), (ROWS, R2, R3)), (0, 2, 1)), (ROWS * R3, R2))
        f2r, f2i = _matrix(m2_ptr, R2, R2, False)
        br, bi = _cdot(br, bi, f2r, f2i, PREC)
        t2 = tl.arange(0, R3)[:, None] * R2 + tl.arange(0, R2)[None, :]      # [n3, k2]
        t2r = tl.load(tc + t2)[None, :, :]
        t2i = tl.load(tc + R3 * R2 + t2)[None, :, :]
        br, bi = _cmul(tl.reshape(br, (ROWS, R3, R2)), tl.reshape(bi, (ROWS, R3, R2)), t2r, t2i)
        # stage 3: contract n3 on (ROWS·R2, R3) [(ρ, k2), n3]
        cr = tl.reshape(tl.permute(br.to(op), (0, 2, 1)), (ROWS * R2, R3))
        ci = tl.reshape(tl.permute(bi.to(op), (0, 2, 1)), (ROWS * R2, R3))
        f3r, f3i = _matrix(m3_ptr, R3, R3, False)
        cr, ci = _cdot(cr, ci, f3r, f3i, PREC)
    # pointwise product with this pass's spectrum, in the tile order
    if R3 == 1:
        spec_offs = tl.arange(0, ROWS)[:, None] * KEPT + tl.arange(0, KEPT)[None, :]
    else:
        spec_offs = tl.arange(0, ROWS * R2)[:, None] * R3 + tl.arange(0, R3)[None, :]
    kr = tl.load(spec + spec_offs).to(tl.float32)
    ki = tl.load(spec + ROWS * KEPT * R3 + spec_offs).to(tl.float32)
    cr, ci = _cmul(cr, ci, kr, ki)
    # inverse: conjugate stages in reverse order, down to the stage-1 input D [ρ, m]
    if R3 == 1:
        g2r, g2i = _matrix(m3_ptr, KEPT, R2, True)
        dr, di = _cdot(cr.to(op), ci.to(op), g2r, g2i, PREC)           # [ρ, n2]
        t1r, t1i = _stage1_twiddle(ta, tb, ROWS, R2, R3, False)        # reloaded (L1), not kept live
        dr, di = _cmul_conj(dr, di, t1r, t1i)
        dr = dr.to(op)
        di = di.to(op)
    else:
        g3r, g3i = _matrix(m3_ptr, R3, R3, True)
        dr, di = _cdot(cr.to(op), ci.to(op), g3r, g3i, PREC)           # [(ρ, k2), n3]
        s2 = tl.arange(0, R2)[:, None] + tl.arange(0, R3)[None, :] * R2      # [k2, n3]
        s2r = tl.load(tc + s2)[None, :, :]
        s2i = tl.load(tc + R3 * R2 + s2)[None, :, :]
        dr, di = _cmul_conj(tl.reshape(dr, (ROWS, R2, R3)), tl.reshape(di, (ROWS, R2, R3)), s2r, s2i)
        er = tl.reshape(tl.permute(dr.to(op), (0, 2, 1)), (ROWS * R3, R2))
        ei = tl.reshape(tl.permute(di.to(op), (0, 2, 1)), (ROWS * R3, R2))
        g2r, g2i = _matrix(m2_ptr, R2, R2, True)
        er, ei = _cdot(er, ei, g2r, g2i, PREC)                         # [(ρ, n3), n2]
        t1r, t1i = _stage1_twiddle(ta, tb, ROWS, R2, R3, True)
        er, ei = _cmul_conj(er, ei, t1r, t1i)
        dr = tl.reshape(tl.permute(tl.reshape(er.to(op), (ROWS, R3, R2)), (0, 2, 1)), (ROWS, L))
        di = tl.reshape(tl.permute(tl.reshape(ei.to(op), (ROWS, R3, R2)), (0, 2, 1)), (ROWS, L))
    return dr, di


@triton.jit
def monarch_conv_kernel(
    u_ptr, v_ptr, w_ptr, y_ptr,
    m1_ptr,                          # per pass: stage-1 matrices fwd (2, ROWS, R1), inv (2, R1, ROWS)
    m2_ptr, m3_ptr,                  # (2, r, r) DFT matrices of stages 2, 3 (re, im) in the operand dtype;
                                     # two stages: F2[:, kept] (2, R2, KEPT) and F2[kept, :] (2, KEPT, R2)
    ta_ptr, tb_ptr, tc_ptr,          # fp32 twiddle planes per pass (plan.Plan.twiddles)
    spec_ptr,                        # (H, PASSES, 2, ROWS·KEPT·R3) spectrum (fp16; fp32 for fp32), tile order
    B, H, N, n_pairs,
    R1: tl.constexpr, R2: tl.constexpr, R3: tl.constexpr, KINDS: tl.constexpr, KP: tl.constexpr,
    GATED: tl.constexpr, PREC: tl.constexpr, PAIRS: tl.constexpr, KEPT: tl.constexpr,
):
    L: tl.constexpr = R2 * R3
    ROWS: tl.constexpr = KP * R1     # rows of a pass's spectral tile
    PASSES: tl.constexpr = KINDS // KP
    op = m1_ptr.dtype.element_ty
    out = y_ptr.dtype.element_ty

    pid = tl.program_id(0)
    progs_per_channel = tl.cdiv(n_pairs, PAIRS)
    h = pid // progs_per_channel  # channel-major: consecutive programs share one spectrum in L2
    first_pair = (pid % progs_per_channel) * PAIRS

    io_offs = tl.arange(0, R1)[:, None] * L + tl.arange(0, L)[None, :]  # (R1, L): n = n1·L + n2·R3 + n3
    S: tl.constexpr = KEPT * R3      # spectral columns of a pass's tile (L unless columns are skipped)
    spec_channel = spec_ptr + h.to(tl.int64) * (KINDS * 2 * R1 * S)
    for g in range(PAIRS):
        pair = first_pair + g
        b0 = 2 * pair
        lane = tl.zeros((R1, L), dtype=tl.int32)  # masks as tiles (a scalar mask is not portable)
        ok0 = (lane + pair) < n_pairs
        ok1 = (lane + b0 + 1) < B
        row0 = (b0.to(tl.int64) * H + h) * N
        row1 = row0 + H * N
        yr = tl.zeros((R1, L), dtype=tl.float32)  # the output tile: every pass accumulates here
        yi = tl.zeros((R1, L), dtype=tl.float32)
        for p in range(PASSES):
            m1 = m1_ptr + p * (4 * ROWS * R1)          # this pass's tables
            ta = ta_ptr + p * (2 * ROWS * R2)
            tb = tb_ptr + p * (2 * ROWS * R3)
            tc = tc_ptr + p * (2 * R3 * R2)
            spec = spec_channel + p * (2 * ROWS * S)
            # the input tile (loop-invariant: Triton loads it once, into shared memory)
            xr = tl.load(u_ptr + row0 + io_offs, mask=ok0, other=0.0).to(tl.float32)
            xi = tl.load(u_ptr + row1 + io_offs, mask=ok1, other=0.0).to(tl.float32)
            if GATED:
                xr = xr * tl.load(w_ptr + row0 + io_offs, mask=ok0, other=0.0).to(tl.float32)
                xi = xi * tl.load(w_ptr + row1 + io_offs, mask=ok1, other=0.0).to(tl.float32)
            # forward stage 1 (ROWS, R1) @ (R1, L), then the rest of the pass down to D [ρ, m]
            f1r, f1i = _matrix(m1, ROWS, R1, False)                              # [ρ, n1]
            ar, ai = _cdot(f1r, f1i, xr.to(op), xi.to(op), PREC)
            dr, di = _spectral_pass(ar, ai, ta, tb, tc, m2_ptr, m3_ptr, spec, ROWS, R2, R3, PREC, KEPT)
            # last inverse stage G1 @ D (R1, ROWS) @ (ROWS, L): sums the kinds in fp32
            g1r, g1i = _matrix(m1 + 2 * ROWS * R1, R1, ROWS, False)              # [n1, ρ]
            yr, yi = _cdot(g1r, g1i, dr, di, PREC, yr, yi)
        if GATED:
            yr = yr * tl.load(v_ptr + row0 + io_offs, mask=ok0, other=0.0).to(tl.float32)
            yi = yi * tl.load(v_ptr + row1 + io_offs, mask=ok1, other=0.0).to(tl.float32)
        tl.store(y_ptr + row0 + io_offs, yr.to(out), mask=ok0)
        tl.store(y_ptr + row1 + io_offs, yi.to(out), mask=ok1)


# ---- split plans: T points per pair over several programs (plan.py; 32K, or forced at any N) ----

@triton.jit
def _slot(first_slot, per_slot: tl.constexpr, n_pairs, B, H, N, SHAPE0: tl.constexpr, SHAPE1: tl.constexpr):
    """This program's slot (a (channel, pair) of this launch, channel-major), its index within the
    slot, the offsets of the pair's two rows and the second row's mask as a (SHAPE0, SHAPE1) tile."""
    pid = tl.program_id(0)
    slot = pid // per_slot
    g = first_slot + slot
    h = g // n_pairs
    b0 = 2 * (g % n_pairs)
    row0 = (b0.to(tl.int64) * H + h) * N
    ok1 = (tl.zeros((SHAPE0, SHAPE1), dtype=tl.int32) + b0 + 1) < B
    return slot, pid % per_slot, h, row0, row0 + H * N, ok1


@triton.jit(do_not_specialize=["first_slot"])
def monarch_rows_kernel(
    u_ptr, w_ptr, d_ptr,             # d: scratch (slots, 2, KINDS·R1, L) in the operand dtype
    m1_ptr, m2_ptr, m3_ptr, ta_ptr, tb_ptr, tc_ptr, spec_ptr,   # as monarch_conv_kernel's, ROWS = 16
    B, H, N, n_pairs, first_slot,
    R1: tl.constexpr, R2: tl.constexpr, R3: tl.constexpr, KINDS: tl.constexpr, ROWS: tl.constexpr,
    GATED: tl.constexpr, PREC: tl.constexpr,
):
    """One block p of ROWS stage-1 rows of one pair: stage 1 as a loop over n1 in chunks of 16
    (the matmul tutorial's K loop: (ROWS, 16) @ (16, L) accumulated in fp32), then the pass down
    to D [ρ, m], stored as rows p·ROWS + ρ of the pair's scratch slot."""
    L: tl.constexpr = R2 * R3
    PASSES: tl.constexpr = KINDS * R1 // ROWS
    KC: tl.constexpr = 16
    op = m1_ptr.dtype.element_ty
    slot, p, h, row0, row1, ok1 = _slot(first_slot, PASSES, n_pairs, B, H, N, KC, L)
    m1 = m1_ptr + p * (4 * ROWS * R1)
    ar = tl.zeros((ROWS, L), dtype=tl.float32)
    ai = tl.zeros((ROWS, L), dtype=tl.float32)
    for c in range(0, R1, KC):
        x_offs = (c + tl.arange(0, KC))[:, None] * L + tl.arange(0, L)[None, :]   # rows n1 = c … c+15
        xr = tl.load(u_ptr + row0 + x_offs).to(tl.float32)
        xi = tl.load(u_ptr + row1 + x_offs, mask=ok1, other=0.0).to(tl.float32)
        if GATED:
            xr = xr * tl.load(w_ptr + row0 + x_offs).to(tl.float32)
            xi = xi * tl.load(w_ptr + row1 + x_offs, mask=ok1, other=0.0).to(tl.float32)
        f_offs = tl.arange(0, ROWS)[:, None] * R1 + c + tl.arange(0, KC)[None, :]  # [ρ, n1]
        fr = tl.load(m1 + f_offs)
        fi = tl.load(m1 + ROWS * R1 + f_offs)
        ar, ai = _cdot(fr, fi, xr.to(op), xi.to(op), PREC, ar, ai)
    dr, di = _spectral_pass(ar, ai, ta_ptr + p * (2 * ROWS * R2), tb_ptr + p * (2 * ROWS * R3),
                            tc_ptr + p * (2 * R3 * R2), m2_ptr, m3_ptr,
                            spec_ptr + h.to(tl.int64) * (KINDS * 2 * R1 * L) + p * (2 * ROWS * L),
                            ROWS, R2, R3, PREC, R2)
    d_offs = (p * ROWS + tl.arange(0, ROWS))[:, None] * L + tl.arange(0, L)[None, :]
    d = d_ptr + slot.to(tl.int64) * (2 * KINDS * R1 * L)
    tl.store(d + d_offs, dr)
    tl.store(d + KINDS * R1 * L + d_offs, di)


@triton.jit(do_not_specialize=["first_slot"])
def monarch_columns_kernel(
    v_ptr, y_ptr, d_ptr,
    g1_ptr,                          # (2, R1, KINDS·R1) gather matrix (plan.Plan.gather_matrix)
    B, H, N, n_pairs, first_slot,
    R1: tl.constexpr, L: tl.constexpr, KINDS: tl.constexpr, BC: tl.constexpr,
    GATED: tl.constexpr, PREC: tl.constexpr,
):
    """Columns m = cb·BC … of one pair: the last inverse stage G1 @ D, (R1, KINDS·R1) @
    (KINDS·R1, BC) — summing the kinds in fp32 —, gating, store."""
    RT: tl.constexpr = KINDS * R1
    out = y_ptr.dtype.element_ty
    slot, cb, h, row0, row1, ok1 = _slot(first_slot, L // BC, n_pairs, B, H, N, R1, BC)
    d = d_ptr + slot.to(tl.int64) * (2 * RT * L)
    d_offs = tl.arange(0, RT)[:, None] * L + cb * BC + tl.arange(0, BC)[None, :]
    g1r, g1i = _matrix(g1_ptr, R1, RT, False)                                        # [n1, row]
    yr, yi = _cdot(g1r, g1i, tl.load(d + d_offs), tl.load(d + RT * L + d_offs), PREC)
    io_offs = tl.arange(0, R1)[:, None] * L + cb * BC + tl.arange(0, BC)[None, :]
    if GATED:
        yr = yr * tl.load(v_ptr + row0 + io_offs).to(tl.float32)
        yi = yi * tl.load(v_ptr + row1 + io_offs, mask=ok1, other=0.0).to(tl.float32)
    tl.store(y_ptr + row0 + io_offs, yr.to(out))
    tl.store(y_ptr + row1 + io_offs, yi.to(out), mask=ok1)
