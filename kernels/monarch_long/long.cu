// Long-range Monarch FFT convolution (N = 64K … 4M) on tensor cores: three passes over HBM per
// group of sequences (sm_90a, mma.sync through the stage engine of kernels/monarch_long/stages.cuh).
//
// Decomposition (kernels/monarch_long/plan.py is the reference, twin.py its CPU twin): the folded
// M-point transform (z[m] = x[2m] + i·x[2m+1], M = F/2) as M = N1·N2, m = N2·m1 + m2,
// k = k1 + N1·k2 (four-step):
//   outer_forward: a block loads C columns m2 × N1 rows of z (u ⊙ w), runs the N1-point stages
//     over m1 (causal: the zero upper half is neither read nor contracted), multiplies by
//     W_M^{m2·k1} in fp32 and writes T[p1][m2] (rows at their digit-reversed positions p1).
//   inner: a block loads pair slots — rows k1 and N1-k1 of T, whose bins pair as (k, M-k) —
//     runs the N2-point stages, the pointwise pair map with the spectrum pairs (stored in the
//     slot's order, read contiguously), the inverse stages, and writes the rows back in place.
//   outer_inverse: conjugate twiddle at load, inverse N1-point stages (causal: only the needed
//     half of the last one), unfold (⊙ v) and write y.
// Shared memory and T hold fp16 for fp16 and bf16 inputs alike (bf16 is converted at load and
// store); T stores complex values as (re, im) fp16 pairs, 4 bytes per point. The launcher runs
// the three passes per group of rows (LaunchConfig.group_bytes; all rows by default: groups
// small enough for T to stay in L2 measured slower, the passes being bound by instruction
// issue, not HBM — NOTES.md).
// Partial (K < N) and frequency-sparse problems run dense: no work is skipped.
#include "stages.cuh"

namespace {

using namespace monarch;

struct LongParams {
    const uint16_t* u;
    const uint16_t* v;
    const uint16_t* w;
    uint16_t* y;
    uint32_t* T;               // (group rows, N1, N2) complex points as (re, im) dtype pairs
    const uint2* pairs;        // (H, N1/2, N2+1) fp16 (K[k], K[M-k]) / scale[h], in pair-slot order
    const float* scale;        // (H,)
    const uint32_t* pair_pos;  // (2, N2+1): slot-local swizzled positions of bins k (low 16 bits)
                               // and M-k (high); [0] for slots b ≥ 1, [1] for slot 0
    const int2* slot_rows;     // (N1/2): T rows of slot b's two rows
    const int* outer_k;        // (N1): k1 held at outer position p1
    const uint16_t* mats;      // F16 re[256], F16 im[256], F8 re[64], F8 im[64]
    int batch, channels, n, m, n1, n2, log_n1, log_n2, causal, gated;
    StagePlan outer, inner;
    int row0, rows;            // this group's first logical row; all rows
    int log_cols;              // outer blocks hold 2^log_cols columns
    int slots;                 // pair slots per inner block
    float two_pi_over_m, pi_over_m;
};

// Logical row l = h·B + b (channel-major) → element offset of its sequence in u, v, w, y.
__device__ __forceinline__ size_t row_offset(const LongParams& p, int l) {
    return (size_t(l % p.batch) * p.channels + size_t(l / p.batch)) * size_t(p.n);
}

// Shared memory and T hold fp16 for both input dtypes: bf16's 8-bit significand over the 13-15
// rounding points of the passes exceeds its budget (twin: 7.4e-3 at 64K against 7e-3), and the
// 1/√r scaling of every stage keeps values near the inputs' magnitude, far inside fp16's range.
constexpr bool kComputeBf16 = false;

template <bool IO> __device__ __forceinline__ uint32_t gate2(uint32_t x, uint32_t g) {
    return pack2<IO>(to_f<IO>(x & 0xffff) * to_f<IO>(g & 0xffff), to_f<IO>(x >> 16) * to_f<IO>(g >> 16));
}

// A pair of values from dtype FROM to dtype TO (exact for bf16 → fp16 within fp16's range).
template <bool FROM, bool TO> __device__ __forceinline__ uint32_t convert2(uint32_t x) {
    if constexpr (FROM == TO) return x;
    else return pack2<TO>(to_f<FROM>(x & 0xffff), to_f<FROM>(x >> 16));
}

// x·W_M^{±e}, e = m2·k1 mod M reduced to [-M/2, M/2) so the SFU sees |angle| ≤ π; rounded to the dtype.
template <bool CONJ>
__device__ __forceinline__ uint32_t twiddle(float re, float im, int m2, int k1, const LongParams& p) {
    int e = (m2 * k1) & (p.m - 1);
    if (e >= p.m / 2) e -= p.m;
    float sn, cs;
    __sincosf(float(e) * p.two_pi_over_m, &sn, &cs);
    if (!CONJ) sn = -sn;
    return pack2<kComputeBf16>(re * cs - im * sn, re * sn + im * cs);
}

template <bool IO>
__global__ void __launch_bounds__(256) outer_forward(LongParams p) {
    extern __shared__ __align__(16) uint16_t smem[];
    const int C = 1 << p.log_cols, P = C * p.n1;
    uint16_t* sre = smem;
    uint16_t* sim = smem + P;
    DftFrags<16> F16;
    DftFrags<8> F8;
    F16.load(p.mats, p.mats + 256);
    F8.load(p.mats + 512, p.mats + 576);

    const int g = blockIdx.y, c0 = blockIdx.x * C;
    const size_t off = row_offset(p, p.row0 + g);
    const uint32_t* z = reinterpret_cast<const uint32_t*>(p.u + off);
    const uint32_t* wz = p.gated ? reinterpret_cast<const uint32_t*>(p.w + off) : nullptr;
    // Causal: rows m1 ≥ N1/2 are zero; the first stage skips them when it is radix 16, else they are stored.
    const int rows_in = p.causal ? p.n1 / 2 : p.n1;
    const int rows_stored = (p.causal && p.outer.radix[0] != 16) ? p.n1 : rows_in;
    for (int idx = threadIdx.x; idx < rows_stored * C; idx += blockDim.x) {
        const int s = idx & (C - 1), m1 = idx >> p.log_cols;
        uint32_t x = 0;
        if (m1 < rows_in) {
            const size_t at = size_t(m1) * p.n2 + c0 + s;
            x = __ldg(z + at);
            if (p.gated) x = gate2<IO>(x, __ldg(wz + at));
            x = convert2<IO, kComputeBf16>(x);
        }
        const int e = swz(s * p.n1 + m1);
        sre[e] = uint16_t(x & 0xffff);
        sim[e] = uint16_t(x >> 16);
    }
    __syncthreads();
    for (int j = 0; j < p.outer.stages; ++j) {
        dispatch_stage<kComputeBf16, false>(sre, sim, P, p.outer, j, F16, F8);
        __syncthreads();
    }
    uint32_t* t = p.T + size_t(g) * p.m;
    for (int idx = threadIdx.x; idx < P; idx += blockDim.x) {
        const int s = idx & (C - 1), p1 = idx >> p.log_cols;
        const int e = swz(s * p.n1 + p1);
        t[size_t(p1) * p.n2 + c0 + s] =
            twiddle<false>(to_f<kComputeBf16>(sre[e]), to_f<kComputeBf16>(sim[e]), c0 + s, __ldg(p.outer_k + p1), p);
    }
}

template <bool IO>
__global__ void __launch_bounds__(256) inner(LongParams p) {
    extern __shared__ __align__(16) uint16_t smem[];
    const int n2 = p.n2, slot_size = 2 * n2, P = p.slots * slot_size;
    uint16_t* sre = smem;
    uint16_t* sim = smem + P;
    DftFrags<16> F16;
    DftFrags<8> F8;
    F16.load(p.mats, p.mats + 256);
    F8.load(p.mats + 512, p.mats + 576);

    const int g = blockIdx.y, b0 = blockIdx.x * p.slots;
    const int h = (p.row0 + g) / p.batch;
    uint32_t* t = p.T + size_t(g) * p.m;
    // Load: 4 complex points per 16-byte vector, de-interleaved into the planes.
    for (int idx = threadIdx.x; idx < P / 4; idx += blockDim.x) {
        const int q = 4 * idx, slot = q >> (p.log_n2 + 1), r = (q >> p.log_n2) & 1, m2 = q & (n2 - 1);
        const int2 rows = __ldg(p.slot_rows + b0 + slot);
        const uint4 x = *reinterpret_cast<const uint4*>(t + size_t(r ? rows.y : rows.x) * n2 + m2);
        const int e = swz(q);
        *reinterpret_cast<uint2*>(sre + e) = make_uint2((x.x & 0xffff) | (x.y << 16), (x.z & 0xffff) | (x.w << 16));
        *reinterpret_cast<uint2*>(sim + e) = make_uint2((x.x >> 16) | (x.y & 0xffff0000u), (x.z >> 16) | (x.w & 0xffff0000u));
    }
    __syncthreads();
    for (int j = 0; j < p.inner.stages; ++j) {
        dispatch_stage<kComputeBf16, false>(sre, sim, P, p.inner, j, F16, F8);
        __syncthreads();
    }
    // Pair map: entries j < N2 of every slot; slot 0 also has j = N2 (its thread j = 0 takes it).
    const float sc = __ldg(p.scale + h);
    for (int idx = threadIdx.x; idx < p.slots * n2; idx += blockDim.x) {
        const int slot = idx >> p.log_n2, j0 = idx & (n2 - 1), b = b0 + slot;
        const int base = slot * slot_size, seq_xor = swz(base) - base;
        for (int j = j0; j <= n2; j += n2) {
            if (j == n2 && (b != 0 || j0 != 0)) break;
            int k;
            if (b != 0) k = b + p.n1 * j;
            else if (j <= n2 / 2) k = p.n1 * j;
            else k = p.n1 / 2 + p.n1 * (j - n2 / 2 - 1);
            const uint32_t qq = __ldg(p.pair_pos + (b == 0 ? n2 + 1 : 0) + j);
            const int q1 = int((qq & 0xffff) ^ seq_xor) + base, q2 = int((qq >> 16) ^ seq_xor) + base;
            pair_map<kComputeBf16>(sre, sim, q1, q2, __ldg(p.pairs + (size_t(h) * (p.n1 / 2) + b) * (n2 + 1) + j), sc,
                           float(k) * p.pi_over_m);
        }
    }
    __syncthreads();
    for (int j = p.inner.stages - 1; j >= 0; --j) {
        dispatch_stage<kComputeBf16, true>(sre, sim, P, p.inner, j, F16, F8);
        __syncthreads();
    }
    for (int idx = threadIdx.x; idx < P / 4; idx += blockDim.x) {
        const int q = 4 * idx, slot = q >> (p.log_n2 + 1), r = (q >> p.log_n2) & 1, m2 = q & (n2 - 1);
        const int2 rows = __ldg(p.slot_rows + b0 + slot);
        const int e = swz(q);
        const uint2 re = *reinterpret_cast<const uint2*>(sre + e);
        const uint2 im = *reinterpret_cast<const uint2*>(sim + e);
        uint4 x;
        x.x = (re.x & 0xffff) | (im.x << 16);
        x.y = (re.x >> 16) | (im.x & 0xffff0000u);
        x.z = (re.y & 0xffff) | (im.y << 16);
        x.w = (re.y >> 16) | (im.y & 0xffff0000u);
        *reinterpret_cast<uint4*>(t + size_t(r ? rows.y : rows.x) * n2 + m2) = x;
    }
}

template <bool IO>
__global__ void __launch_bounds__(256) outer_inverse(LongParams p) {
    extern __shared__ __align__(16) uint16_t smem[];
    const int C = 1 << p.log_cols, P = C * p.n1;
    uint16_t* sre = smem;
    uint16_t* sim = smem + P;
    DftFrags<16> F16;
    DftFrags<8> F8;
    F16.load(p.mats, p.mats + 256);
    F8.load(p.mats + 512, p.mats + 576);

    const int g = blockIdx.y, c0 = blockIdx.x * C;
    const uint32_t* t = p.T + size_t(g) * p.m;
    for (int idx = threadIdx.x; idx < P; idx += blockDim.x) {
        const int s = idx & (C - 1), p1 = idx >> p.log_cols;
        const uint32_t x = t[size_t(p1) * p.n2 + c0 + s];
        const uint32_t xt = twiddle<true>(to_f<kComputeBf16>(x & 0xffff), to_f<kComputeBf16>(x >> 16), c0 + s,
                                                __ldg(p.outer_k + p1), p);
        const int e = swz(s * p.n1 + p1);
        sre[e] = uint16_t(xt & 0xffff);
        sim[e] = uint16_t(xt >> 16);
    }
    __syncthreads();
    for (int j = p.outer.stages - 1; j >= 0; --j) {
        dispatch_stage<kComputeBf16, true>(sre, sim, P, p.outer, j, F16, F8);
        __syncthreads();
    }
    const size_t off = row_offset(p, p.row0 + g);
    uint32_t* y = reinterpret_cast<uint32_t*>(p.y + off);
    const uint32_t* vz = p.gated ? reinterpret_cast<const uint32_t*>(p.v + off) : nullptr;
    const int rows_out = p.causal ? p.n1 / 2 : p.n1;
    for (int idx = threadIdx.x; idx < rows_out * C; idx += blockDim.x) {
        const int s = idx & (C - 1), m1 = idx >> p.log_cols;
        const int e = swz(s * p.n1 + m1);
        uint32_t x = convert2<kComputeBf16, IO>(uint32_t(sre[e]) | (uint32_t(sim[e]) << 16));
        const size_t at = size_t(m1) * p.n2 + c0 + s;
        if (p.gated) x = gate2<IO>(x, __ldg(vz + at));
        y[at] = x;
    }
}

template <bool IO>
int launch_all(LongParams p, int group_rows, int threads, cudaStream_t stream) {
    const size_t smem_outer = size_t(4) << (p.log_cols + p.log_n1);
    const size_t smem_inner = size_t(8) * p.slots * p.n2;
    cudaError_t err = cudaFuncSetAttribute(outer_forward<IO>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem_outer));
    if (err == cudaSuccess)
        err = cudaFuncSetAttribute(outer_inverse<IO>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem_outer));
    if (err == cudaSuccess)
        err = cudaFuncSetAttribute(inner<IO>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem_inner));
    if (err != cudaSuccess) return int(err);
    for (int row0 = 0; row0 < p.rows; row0 += group_rows) {
        p.row0 = row0;
        const int rows = min(group_rows, p.rows - row0);
        const dim3 outer_grid(p.n2 >> p.log_cols, rows), inner_grid(p.n1 / 2 / p.slots, rows);
        outer_forward<IO><<<outer_grid, threads, smem_outer, stream>>>(p);
        inner<IO><<<inner_grid, threads, smem_inner, stream>>>(p);
        outer_inverse<IO><<<outer_grid, threads, smem_outer, stream>>>(p);
        if ((err = cudaGetLastError()) != cudaSuccess) return int(err);
    }
    return 0;
}

}  // namespace

// Returns a cudaError_t; cudaErrorInvalidValue for a shape the passes cannot run.
extern "C" int monarch_long_launch(const void* u, const void* v, const void* w, void* y, void* T, const void* pairs,
                                   const void* scale, const void* pair_pos, const void* slot_rows, const void* outer_k,
                                   const void* mats, int batch, int channels, int n, int causal, int bf16, int n1,
                                   int n2, const int* outer_radices, int outer_stages, const int* inner_radices,
                                   int inner_stages, int cols, int slots, int group_rows, int threads, void* stream) {
    LongParams p{};
    p.u = static_cast<const uint16_t*>(u);
    p.v = static_cast<const uint16_t*>(v);
    p.w = static_cast<const uint16_t*>(w);
    p.y = static_cast<uint16_t*>(y);
    p.T = static_cast<uint32_t*>(T);
    p.pairs = static_cast<const uint2*>(pairs);
    p.scale = static_cast<const float*>(scale);
    p.pair_pos = static_cast<const uint32_t*>(pair_pos);
    p.slot_rows = static_cast<const int2*>(slot_rows);
    p.outer_k = static_cast<const int*>(outer_k);
    p.mats = static_cast<const uint16_t*>(mats);
    p.batch = batch;
    p.channels = channels;
    p.n = n;
    p.causal = causal;
    p.gated = v != nullptr;
    p.m = causal ? n : n / 2;
    p.n1 = n1;
    p.n2 = n2;
    const bool pow2 = n1 > 0 && n2 > 0 && cols > 0 && !(n1 & (n1 - 1)) && !(n2 & (n2 - 1)) && !(cols & (cols - 1));
    if (!pow2 || n1 * n2 != p.m || n2 % cols || (n1 / 2) % slots || n1 < 128 || n2 < 128 || group_rows < 1)
        return int(cudaErrorInvalidValue);
    if (!p.outer.init(n1, outer_radices, outer_stages, causal) || !p.inner.init(n2, inner_radices, inner_stages, false))
        return int(cudaErrorInvalidValue);
    p.log_n1 = __builtin_ctz(n1);
    p.log_n2 = __builtin_ctz(n2);
    p.log_cols = __builtin_ctz(cols);
    p.slots = slots;
    p.rows = batch * channels;
    p.two_pi_over_m = 6.283185307179586f / float(p.m);
    p.pi_over_m = 3.14159265358979f / float(p.m);
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    return bf16 ? launch_all<true>(p, group_rows, threads, s) : launch_all<false>(p, group_rows, threads, s);
}
