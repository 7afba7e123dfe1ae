// Monarch FFT convolution on tensor cores, one fused kernel per call (sm_90a, mma.sync).
//
// Operation: y = irfft(rfft(u)·k_f, F)[:N] per sequence, F = N (circular) or 2N (causal, the zero
// half of the padded input is never read, never transformed by the first stage, and the unneeded
// half of the last inverse stage is not computed). Gated: y = v ⊙ conv(u ⊙ w, k).
//
// Factorisation (kernels/monarch_cuda/plan.py is the reference; twin.py is its CPU twin):
//   real input folded into z[n] = x[2n] + i·x[2n+1], M = F/2 complex points;
//   M = r_1·…·r_s, r_j ∈ {16, 8}, 16s first; digit j has stride S_j = r_{j+1}·…·r_s.
//   Forward (decimation in frequency, in place in shared memory): stage j contracts digit j with
//   the scaled DFT matrix W_r^{nk}/√r on tensor cores — mma.sync m16n8k16 (r = 16) or m16n8k8
//   (r = 8), fp16/bf16 operands, fp32 accumulation, a complex product as 4 real MMAs — then
//   multiplies by the twiddle W_{L_j}^{k·lo} in fp32 registers (sin/cos on the SFU from the exact
//   integer angle, |error| < 1e-6) and rounds to the dtype.
//   Pointwise: bins k and M-k at their digit-reversed positions (a precomputed table of swizzled
//   positions) are combined by the 2×2 map Zy[k] = A_k·Z[k] + B_k·conj(Z[M-k]) (unfold, multiply
//   by k_f, refold) in fp32.
//   Inverse: conjugate stages in reverse order, then unfold y[2n] = Re zy[n], y[2n+1] = Im zy[n].
// Tiles and layout: a stage views the block's positions as (b, n) rows: 16 rows × r columns per
//   warp tile; ldmatrix(.trans) loads the A operand (data), the DFT matrix is the B operand held
//   in registers for the whole kernel; stmatrix(.trans) stores the result. Shared memory holds
//   the re and im planes (2 bytes each per point) with an XOR swizzle of 16-byte chunks that folds
//   all chunk-index bits into the bank group, conflict-free for every stage's stride.
// Precomputed in the factory: DFT matrices (dtype); the spectrum as fp16 pairs (K[k], K[M-k]) per
//   channel (8 bytes per pair, scaled by a per-channel power of two); A, B are formed in fp32.
// Supported: M = 128 … 32768 (N = 256 … 32K both modes), fp16 and bf16. Several sequences per
//   block; sequences ordered channel-major so a block's sequences share one coefficient table.
// Bytes per element: read u (and v, w when gated) once, write y once: 4 bytes (8 gated), plus the
//   spectrum pairs (8 bytes per pair of bins) once per block from L2. Bound (measured, ncu at 4K):
//   instruction issue — every stage round-trips shared memory and pays per-element twiddle, pack
//   and address work; the MMAs are a small share. See NOTES.md.
// Partial (K < N) and frequency-sparse kernels run dense: no work is skipped.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

namespace {

constexpr int kMaxStages = 4;
constexpr int kMaxSeqsPerBlock = 256;

struct Params {
    const uint16_t* u;
    const uint16_t* v;
    const uint16_t* w;
    uint16_t* y;
    const uint2* pairs;   // (H, M/2+1) × fp16 (K[k], K[M-k]), divided by scale[h]
    const float* scale;   // (H,)
    const uint32_t* pair_pos;  // (M/2+1): swizzled positions of bins k (low 16 bits) and M-k (high)
    float pi_over_m;
    const uint16_t* mats;  // F16 re[256], F16 im[256], F8 re[64], F8 im[64]
    int batch, channels, n, m, causal, gated;
    int stages;
    int radix[kMaxStages], stride[kMaxStages], log_stride[kMaxStages];
    int log_m, log_vec;  // log2 M, log2(N/8)
    int seqs_per_block;
};

template <bool BF16> __device__ __forceinline__ float to_f(uint16_t x) {
    if constexpr (BF16) return __bfloat162float(__ushort_as_bfloat16(x));
    else return __half2float(__ushort_as_half(x));
}
template <bool BF16> __device__ __forceinline__ uint16_t from_f(float x) {
    if constexpr (BF16) return __bfloat16_as_ushort(__float2bfloat16_rn(x));
    else return __half_as_ushort(__float2half_rn(x));
}
template <bool BF16> __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    if constexpr (BF16) {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&v);
    } else {
        __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&v);
    }
}

// Position → shared-memory element index: XOR of all 3-bit groups of the 16-byte chunk index into
// its low 3 bits (bank group), so 8 rows at any power-of-two chunk stride hit 8 distinct groups.
__device__ __forceinline__ int swz(int pos) {
    int c = pos >> 3;
    int f = (c ^ (c >> 3) ^ (c >> 6) ^ (c >> 9) ^ (c >> 12)) & 7;
    return (((c & ~7) | f) << 3) | (pos & 7);
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

template <int X, bool TRANS> __device__ __forceinline__ void ldsm(uint32_t* r, uint32_t addr) {
    if constexpr (X == 4 && TRANS)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
    else if constexpr (X == 4)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
    else if constexpr (TRANS)
        asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                     : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                     : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
}

template <int X, bool TRANS> __device__ __forceinline__ void stsm(uint32_t addr, const uint32_t* r) {
    if constexpr (X == 4 && TRANS)
        asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1,%2,%3,%4};\n"
                     :: "r"(addr), "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3]) : "memory");
    else if constexpr (X == 4)
        asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1,%2,%3,%4};\n"
                     :: "r"(addr), "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3]) : "memory");
    else if constexpr (TRANS)
        asm volatile("stmatrix.sync.aligned.m8n8.x2.trans.shared.b16 [%0], {%1,%2};\n"
                     :: "r"(addr), "r"(r[0]), "r"(r[1]) : "memory");
    else
        asm volatile("stmatrix.sync.aligned.m8n8.x2.shared.b16 [%0], {%1,%2};\n"
                     :: "r"(addr), "r"(r[0]), "r"(r[1]) : "memory");
}

// c += a·b; K = 16 (a: 4 regs, b: 2 regs) or K = 8 (a: 2 regs, b: 1 reg).
template <bool BF16, int K> __device__ __forceinline__ void mma(float* c, const uint32_t* a, const uint32_t* b) {
    if constexpr (K == 16 && BF16)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else if constexpr (K == 16)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else if constexpr (BF16)
        asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(b[0]));
    else
        asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(b[0]));
}

// B-operand fragments of one DFT matrix: [k half][reg] for re, im and -im.
template <int R> struct DftFrags {
    uint32_t re[R / 8][R / 8], im[R / 8][R / 8], nim[R / 8][R / 8];

    __device__ void load(const uint16_t* fr, const uint16_t* fi) {
        const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
        for (int kh = 0; kh < R / 8; ++kh)
            for (int reg = 0; reg < R / 8; ++reg) {
                int n0 = 2 * t + 8 * reg, col = kh * 8 + g;
                re[kh][reg] = uint32_t(fr[n0 * R + col]) | (uint32_t(fr[(n0 + 1) * R + col]) << 16);
                im[kh][reg] = uint32_t(fi[n0 * R + col]) | (uint32_t(fi[(n0 + 1) * R + col]) << 16);
                nim[kh][reg] = im[kh][reg] ^ 0x80008000u;
            }
    }
};

// The twiddle of stage t at a position: W_L^{digit_t · (pos mod S_t)}, L = R_t·S_t, computed with
// the SFU from the exact integer angle (reduced to [-L/2, L/2]); conjugate for the inverse.
// Within a tile the angle is affine in the output column: 2π·idx/L = α_row + col·β_row, with
//   forward (t = j):    idx = col·lo                       → α = 0,        β = lo·2π/L
//   inverse (t = j-1):  idx = d·(col·S_j + lo), d = digit t → α = d·lo·2π/L, β = d·S_j·2π/L
// (lo = row position mod S_j), so each element costs one FMA and the SFU sin/cos.
struct Twiddle {
    bool active;
    int log_s, radix_mask;
    float scale;  // 2π / L
    template <bool INVERSE> __device__ __forceinline__ float2 row(int row_pos, int logS) const {
        const int lo = row_pos & ((1 << logS) - 1);
        if constexpr (!INVERSE) return make_float2(0.f, float(lo) * scale);
        const int d = (row_pos >> log_s) & radix_mask;
        return make_float2(float(d * lo) * scale, float(d << logS) * scale);
    }
    template <bool CONJ> __device__ __forceinline__ float2 at(float2 ab, int col) const {
        float sn, cs;
        __sincosf(fmaf(float(col), ab.y, ab.x), &sn, &cs);
        return make_float2(cs, CONJ ? sn : -sn);
    }
};

// Position of tile row b, column n in a stage with radix R and stride S = 2^logS (TRANS ⇔ S ≥ 8;
// otherwise S = 1). Shifts only: integer division by a runtime stride cost more than the MMAs.
template <int R, bool TRANS> __device__ __forceinline__ int stage_pos(int b, int n, int logS) {
    constexpr int LOG_R = R == 16 ? 4 : 3;
    if constexpr (TRANS) return ((b >> logS) << (LOG_R + logS)) + (n << logS) + (b & ((1 << logS) - 1));
    else return b * R + n;
}

// One stage over all positions of the block: per warp tile of 16 rows, contract the digit with the
// (conjugate when INVERSE) DFT matrix, optionally twiddle (conjugate when INVERSE), round and store in place. HALF_K: only n < 8 is non-zero (causal first stage);
// HALF_N: only outputs k < 8 are needed (causal last stage).
template <bool BF16, int R, bool TRANS, bool INVERSE, bool HALF_K, bool HALF_N>
__device__ void run_stage(uint16_t* sre, uint16_t* sim, int P, int logS, const DftFrags<R>& F,
                          const Twiddle tw) {
    constexpr int KH = HALF_N ? 1 : R / 8;        // output column halves
    constexpr bool K16 = (R == 16) && !HALF_K;    // m16n8k16 vs m16n8k8
    constexpr int XL = (R == 16 && !HALF_K) ? 4 : 2;  // ldmatrix count
    constexpr int XS = (R == 16 && !HALF_N) ? 4 : 2;  // stmatrix count
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int tiles = P / (16 * R);
    for (int tile = warp; tile < tiles; tile += nwarps) {
        const int b0 = tile * 16;
        auto lane_pos = [&](int x) {
            int mi = (lane >> 3) & (x - 1), i = lane & 7, bh = mi & 1, nh = mi >> 1;
            return TRANS ? stage_pos<R, TRANS>(b0 + bh * 8, nh * 8 + i, logS) : stage_pos<R, TRANS>(b0 + bh * 8 + i, nh * 8, logS);
        };
        const int lp = swz(lane_pos(XL));
        uint32_t ar[4], ai[4];
        ldsm<XL, TRANS>(ar, smem_addr(sre + lp));
        ldsm<XL, TRANS>(ai, smem_addr(sim + lp));
        uint32_t outr[4], outi[4];
        float2 ab0 = make_float2(0.f, 0.f), ab1 = ab0;
        if (tw.active) {
            ab0 = tw.row<INVERSE>(stage_pos<R, TRANS>(b0 + g, 0, logS), TRANS ? logS : 0);
            ab1 = tw.row<INVERSE>(stage_pos<R, TRANS>(b0 + g + 8, 0, logS), TRANS ? logS : 0);
        }
#pragma unroll
        for (int kh = 0; kh < KH; ++kh) {
            float cr[4] = {0, 0, 0, 0}, ci[4] = {0, 0, 0, 0};
            const uint32_t* f_rr = F.re[kh];
            const uint32_t* f_ir = INVERSE ? F.im[kh] : F.nim[kh];
            const uint32_t* f_ri = INVERSE ? F.nim[kh] : F.im[kh];
            constexpr int KK = K16 ? 16 : 8;
            mma<BF16, KK>(cr, ar, f_rr);
            mma<BF16, KK>(cr, ai, f_ir);
            mma<BF16, KK>(ci, ar, f_ri);
            mma<BF16, KK>(ci, ai, F.re[kh]);
            if (tw.active) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int col = kh * 8 + 2 * t + (e & 1);
                    const float2 w = tw.at<INVERSE>((e >> 1) ? ab1 : ab0, col);
                    float re = cr[e] * w.x - ci[e] * w.y;
                    float im = cr[e] * w.y + ci[e] * w.x;
                    cr[e] = re;
                    ci[e] = im;
                }
            }
            outr[2 * kh] = pack2<BF16>(cr[0], cr[1]);
            outr[2 * kh + 1] = pack2<BF16>(cr[2], cr[3]);
            outi[2 * kh] = pack2<BF16>(ci[0], ci[1]);
            outi[2 * kh + 1] = pack2<BF16>(ci[2], ci[3]);
        }
        const int sp = (XS == XL) ? lp : swz(lane_pos(XS));
        stsm<XS, TRANS>(smem_addr(sre + sp), outr);
        stsm<XS, TRANS>(smem_addr(sim + sp), outi);
    }
}

template <bool BF16, bool INVERSE>
__device__ void dispatch_stage(uint16_t* sre, uint16_t* sim, int P, const Params& p, int j,
                               const DftFrags<16>& F16, const DftFrags<8>& F8) {
    const int R = p.radix[j], S = p.stride[j], logS = p.log_stride[j];
    // Twiddle applied after this stage: forward stage j uses table j (j < s-1); the inverse of
    // stage j (j > 0) applies the conjugate of table j-1.
    const int tj = INVERSE ? j - 1 : j;
    const bool has_tw = INVERSE ? j > 0 : j < p.stages - 1;
    Twiddle tw{has_tw, 0, 0, 0.f};
    if (has_tw) {
        tw.log_s = p.log_stride[tj];
        tw.radix_mask = p.radix[tj] - 1;
        tw.scale = 6.283185307179586f / float(p.radix[tj] * p.stride[tj]);
    }
    const bool half = p.causal && j == 0 && R == 16;
    if (R == 8) {
        if (S == 1) run_stage<BF16, 8, false, INVERSE, false, false>(sre, sim, P, logS, F8, tw);
        else run_stage<BF16, 8, true, INVERSE, false, false>(sre, sim, P, logS, F8, tw);
    } else if (S == 1) {
        run_stage<BF16, 16, false, INVERSE, false, false>(sre, sim, P, logS, F16, tw);  // M = 16 never occurs
    } else if (half && !INVERSE) {
        run_stage<BF16, 16, true, false, true, false>(sre, sim, P, logS, F16, tw);
    } else if (half && INVERSE) {
        run_stage<BF16, 16, true, true, false, true>(sre, sim, P, logS, F16, tw);
    } else {
        run_stage<BF16, 16, true, INVERSE, false, false>(sre, sim, P, logS, F16, tw);
    }
}

template <bool BF16>
__global__ void __launch_bounds__(512) monarch_conv_kernel(Params p) {
    extern __shared__ __align__(16) uint16_t smem[];
    const int spb = p.seqs_per_block, M = p.m, P = spb * M;
    uint16_t* sre = smem;
    uint16_t* sim = smem + P;
    const int rows = p.batch * p.channels;

    DftFrags<16> F16;
    DftFrags<8> F8;
    F16.load(p.mats, p.mats + 256);
    F8.load(p.mats + 512, p.mats + 576);

    // Sequence s of the block is logical row l = block·spb + s, channel-major (l = h·B + b), so a
    // block's sequences share the channel's coefficients. Offsets computed once per sequence.
    __shared__ long long row_off[kMaxSeqsPerBlock];
    __shared__ int row_channel[kMaxSeqsPerBlock];
    for (int s = threadIdx.x; s < spb; s += blockDim.x) {
        const int l = blockIdx.x * spb + s;
        row_channel[s] = l < rows ? l / p.batch : -1;
        row_off[s] = (long long)(l % p.batch) * p.channels * p.n + (long long)(l / p.batch) * p.n;
    }
    __syncthreads();

    // Load u (⊙ w): 16-byte vectors of 4 complex points, de-interleaved into the re/im planes.
    const int vec_per_seq = p.n / 8;
    for (int idx = threadIdx.x; idx < spb * (M / 4); idx += blockDim.x) {
        const int s = idx >> (p.log_m - 2), i = idx & (M / 4 - 1);
        const bool valid = row_channel[s] >= 0;
        uint2 re = make_uint2(0, 0), im = make_uint2(0, 0);
        if (valid && i < vec_per_seq) {
            const size_t off = row_off[s] + size_t(i) * 8;
            uint4 x = __ldg(reinterpret_cast<const uint4*>(p.u + off));
            if (p.gated) {
                uint4 wv = __ldg(reinterpret_cast<const uint4*>(p.w + off));
                uint32_t* xs = &x.x;
                const uint32_t* ws = &wv.x;
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    float a = to_f<BF16>(xs[q] & 0xffff) * to_f<BF16>(ws[q] & 0xffff);
                    float b = to_f<BF16>(xs[q] >> 16) * to_f<BF16>(ws[q] >> 16);
                    xs[q] = pack2<BF16>(a, b);
                }
            }
            re.x = (x.x & 0xffff) | (x.y << 16);
            im.x = (x.x >> 16) | (x.y & 0xffff0000u);
            re.y = (x.z & 0xffff) | (x.w << 16);
            im.y = (x.z >> 16) | (x.w & 0xffff0000u);
        } else if (i >= vec_per_seq && p.radix[0] == 16 && valid) {
            continue;  // causal zero half: the first stage never reads it
        }
        const int e = swz(s * M + 4 * i);
        *reinterpret_cast<uint2*>(sre + e) = re;
        *reinterpret_cast<uint2*>(sim + e) = im;
    }
    __syncthreads();

    for (int j = 0; j < p.stages; ++j) {
        dispatch_stage<BF16, false>(sre, sim, P, p, j, F16, F8);
        __syncthreads();
    }

    // Pointwise on bin pairs (k, M-k), k = 0 … M/2; the thread of k = 0 also takes k = M/2.
    const int pairs = M / 2 + 1;
    for (int idx = threadIdx.x; idx < spb * (M / 2); idx += blockDim.x) {
      const int s = idx >> (p.log_m - 1), k0 = idx & (M / 2 - 1);
      const int h = row_channel[s];
      if (h < 0) continue;
      // swz(s·M + q) = (swz(q) ^ seq_xor) + s·M: the sequence offset only flips the chunk's bank group.
      const int seq_xor = swz(s * M) - s * M;
      for (int k = k0; k <= M / 2; k += M / 2) {
        if (k == M / 2 && k0 != 0) break;
        const uint32_t qq = __ldg(p.pair_pos + k);
        const int q1 = int((qq & 0xffff) ^ seq_xor) + s * M, q2 = int((qq >> 16) ^ seq_xor) + s * M;
        // Coefficients from the fp16 spectrum pair, in fp32 (plan.pair_coefficients is the reference).
        const uint2 kp = __ldg(p.pairs + size_t(h) * pairs + k);
        const float sc = __ldg(p.scale + h);
        const float ka = to_f<false>(kp.x & 0xffff) * sc, kb = to_f<false>(kp.x >> 16) * sc;
        const float kc = to_f<false>(kp.y & 0xffff) * sc, kd = to_f<false>(kp.y >> 16) * sc;
        float sn, cs;
        __sincosf(float(k) * p.pi_over_m, &sn, &cs);
        const float h1 = 0.5f * (1.f - sn), h2 = 0.5f * (1.f + sn);
        const float4 ab = make_float4(h1 * ka + h2 * kc, h1 * kb - h2 * kd, -0.5f * cs * (kb + kd), 0.5f * cs * (ka - kc));
        const float4 abp = make_float4(h1 * kc + h2 * ka, h1 * kd - h2 * kb, -ab.z, ab.w);
        const float z1r = to_f<BF16>(sre[q1]), z1i = to_f<BF16>(sim[q1]);
        const float z2r = to_f<BF16>(sre[q2]), z2i = to_f<BF16>(sim[q2]);
        // A·z1 + B·conj(z2), and A'·z2 + B'·conj(z1)
        const float yr = ab.x * z1r - ab.y * z1i, yi = ab.x * z1i + ab.y * z1r;
        const float br = ab.z * z2r + ab.w * z2i, bi = ab.w * z2r - ab.z * z2i;
        const float pr = abp.x * z2r - abp.y * z2i, pi = abp.x * z2i + abp.y * z2r;
        const float qr = abp.z * z1r + abp.w * z1i, qi = abp.w * z1r - abp.z * z1i;
        sre[q1] = from_f<BF16>(yr + br);
        sim[q1] = from_f<BF16>(yi + bi);
        sre[q2] = from_f<BF16>(pr + qr);
        sim[q2] = from_f<BF16>(pi + qi);
      }
    }
    __syncthreads();

    for (int j = p.stages - 1; j >= 0; --j) {
        dispatch_stage<BF16, true>(sre, sim, P, p, j, F16, F8);
        __syncthreads();
    }

    // Store: unfold the first N/2 complex points into N reals (times v when gated).
    for (int idx = threadIdx.x; idx < spb * vec_per_seq; idx += blockDim.x) {
        const int s = idx >> p.log_vec, i = idx & (vec_per_seq - 1);
        if (row_channel[s] < 0) continue;
        const size_t off = row_off[s] + size_t(i) * 8;
        const int e = swz(s * M + 4 * i);
        const uint2 re = *reinterpret_cast<const uint2*>(sre + e);
        const uint2 im = *reinterpret_cast<const uint2*>(sim + e);
        uint4 y;
        y.x = (re.x & 0xffff) | (im.x << 16);
        y.y = (re.x >> 16) | (im.x & 0xffff0000u);
        y.z = (re.y & 0xffff) | (im.y << 16);
        y.w = (re.y >> 16) | (im.y & 0xffff0000u);
        if (p.gated) {
            uint4 vv = __ldg(reinterpret_cast<const uint4*>(p.v + off));
            uint32_t* ys = &y.x;
            const uint32_t* vs = &vv.x;
#pragma unroll
            for (int q = 0; q < 4; ++q)
                ys[q] = pack2<BF16>(to_f<BF16>(ys[q] & 0xffff) * to_f<BF16>(vs[q] & 0xffff),
                                    to_f<BF16>(ys[q] >> 16) * to_f<BF16>(vs[q] >> 16));
        }
        *reinterpret_cast<uint4*>(p.y + off) = y;
    }
}

}  // namespace

extern "C" int monarch_conv_launch(const void* u, const void* v, const void* w, void* y, const void* pairs,
                                   const void* scale, const void* pair_pos, const void* mats, int batch, int channels, int n,
                                   int causal, int bf16, int stages, int r0, int r1, int r2, int r3,
                                   int seqs_per_block, int threads, void* stream) {
    Params p{};
    p.u = static_cast<const uint16_t*>(u);
    p.v = static_cast<const uint16_t*>(v);
    p.w = static_cast<const uint16_t*>(w);
    p.y = static_cast<uint16_t*>(y);
    p.pairs = static_cast<const uint2*>(pairs);
    p.scale = static_cast<const float*>(scale);
    p.pair_pos = static_cast<const uint32_t*>(pair_pos);
    p.mats = static_cast<const uint16_t*>(mats);
    p.batch = batch;
    p.channels = channels;
    p.n = n;
    p.causal = causal;
    p.gated = v != nullptr;
    p.m = causal ? n : n / 2;
    p.pi_over_m = 3.14159265358979f / float(p.m);
    p.stages = stages;
    const int radix[kMaxStages] = {r0, r1, r2, r3};
    int stride = p.m;
    for (int j = 0; j < stages; ++j) {
        if (radix[j] != 8 && radix[j] != 16) return int(cudaErrorInvalidValue);
        p.radix[j] = radix[j];
        stride /= radix[j];
        p.stride[j] = stride;
        p.log_stride[j] = __builtin_ctz(stride);
    }
    if (stride != 1 || n % 8 != 0 || seqs_per_block > kMaxSeqsPerBlock) return int(cudaErrorInvalidValue);
    p.seqs_per_block = seqs_per_block;
    p.log_m = __builtin_ctz(p.m);
    p.log_vec = __builtin_ctz(n / 8);
    const int rows = batch * channels;
    const size_t smem = size_t(4) * p.m * seqs_per_block;
    const dim3 grid((rows + seqs_per_block - 1) / seqs_per_block);
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    cudaError_t err;
    if (bf16) {
        err = cudaFuncSetAttribute(monarch_conv_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
        if (err != cudaSuccess) return int(err);
        monarch_conv_kernel<true><<<grid, threads, smem, s>>>(p);
    } else {
        err = cudaFuncSetAttribute(monarch_conv_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
        if (err != cudaSuccess) return int(err);
        monarch_conv_kernel<false><<<grid, threads, smem, s>>>(p);
    }
    return int(cudaGetLastError());
}
