// The Monarch stage engine shared by the on-chip kernel (monarch.cu) and the long-range passes
// (kernels/monarch_long/long.cu): an M-point complex FFT of every M-position segment of a block's
// shared memory, one tensor-core stage per radix-16/8 digit, and the pointwise pair map.
//
// Data: re and im planes (fp16 or bf16, 2 bytes per point each) under an XOR swizzle of 16-byte
// chunks (swz). Stage j contracts digit j (stride S_j) with the scaled DFT matrix W_r^{nk}/√r on
// mma.sync (fp32 accumulation), multiplies by the twiddle W_{L_j}^{k·lo} in fp32 (SFU sin/cos from
// the exact integer angle) and rounds to the dtype in place; after all stages position Σ k_j·S_j
// holds Z[k_1 + r_1·k_2 + …]/√M (digit reversed). The inverse runs the conjugate stages in reverse
// order. kernels/monarch_long/stage_plan.py is the reference, stage_twin.py executes it on the CPU.
#pragma once
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include "../common/half2.cuh"

namespace monarch {

constexpr int kMaxStages = 4;

// The radix-16/8 factorisation of one M-point transform. zero_half: the upper half of the input
// is zero (causal) and only the lower half of the output is needed, so the first forward stage
// contracts only the non-zero half and the last inverse stage computes only the needed half
// (used when r_1 = 16).
struct StagePlan {
    int stages, zero_half;
    int radix[kMaxStages], stride[kMaxStages], log_stride[kMaxStages];

    // Fill from radices whose product is m; false when they are not radix-16/8 or do not multiply to m.
    __host__ bool init(int m, const int* radices, int n_stages, bool causal) {
        if (n_stages < 1 || n_stages > kMaxStages) return false;
        stages = n_stages;
        zero_half = causal;
        int s = m;
        for (int j = 0; j < n_stages; ++j) {
            if (radices[j] != 8 && radices[j] != 16) return false;
            radix[j] = radices[j];
            s /= radices[j];
            stride[j] = s;
            log_stride[j] = s > 0 ? __builtin_ctz(s) : 0;
        }
        return s == 1;
    }
};

template <bool BF16> __device__ __forceinline__ float to_f(uint16_t x) {
    if constexpr (BF16) return __bfloat162float(__ushort_as_bfloat16(x));
    else return __half2float(__ushort_as_half(x));
}
template <bool BF16> __device__ __forceinline__ uint16_t from_f(float x) {
    if constexpr (BF16) return __bfloat16_as_ushort(__float2bfloat16_rn(x));
    else return __half_as_ushort(__float2half_rn(x));
}
using fftbench::pack2;

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
__device__ void dispatch_stage(uint16_t* sre, uint16_t* sim, int P, const StagePlan& p, int j,
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
    const bool half = p.zero_half && j == 0 && R == 16;
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

// The pointwise map on one pair of bins (k, M-k), from the fp16 spectrum pair kp = (K[k], K[M-k])
// (times the channel scale sc), in fp32 (plan.pair_coefficients is the reference):
//   z1' = A_k·z1 + B_k·conj(z2),  z2' = A_{M-k}·z2 + B_{M-k}·conj(z1).
template <bool BF16>
__device__ __forceinline__ void pair_map(uint16_t* sre, uint16_t* sim, int q1, int q2, uint2 kp, float sc,
                                         float angle) {
    const float ka = to_f<false>(kp.x & 0xffff) * sc, kb = to_f<false>(kp.x >> 16) * sc;
    const float kc = to_f<false>(kp.y & 0xffff) * sc, kd = to_f<false>(kp.y >> 16) * sc;
    float sn, cs;
    __sincosf(angle, &sn, &cs);
    const float h1 = 0.5f * (1.f - sn), h2 = 0.5f * (1.f + sn);
    const float4 ab = make_float4(h1 * ka + h2 * kc, h1 * kb - h2 * kd, -0.5f * cs * (kb + kd), 0.5f * cs * (ka - kc));
    const float4 abp = make_float4(h1 * kc + h2 * ka, h1 * kd - h2 * kb, -ab.z, ab.w);
    const float z1r = to_f<BF16>(sre[q1]), z1i = to_f<BF16>(sim[q1]);
    const float z2r = to_f<BF16>(sre[q2]), z2i = to_f<BF16>(sim[q2]);
    const float yr = ab.x * z1r - ab.y * z1i, yi = ab.x * z1i + ab.y * z1r;
    const float br = ab.z * z2r + ab.w * z2i, bi = ab.w * z2r - ab.z * z2i;
    const float pr = abp.x * z2r - abp.y * z2i, pi = abp.x * z2i + abp.y * z2r;
    const float qr = abp.z * z1r + abp.w * z1i, qi = abp.w * z1r - abp.z * z1i;
    sre[q1] = from_f<BF16>(yr + br);
    sim[q1] = from_f<BF16>(yi + bi);
    sre[q2] = from_f<BF16>(pr + qr);
    sim[q2] = from_f<BF16>(pi + qi);
}

}  // namespace monarch
