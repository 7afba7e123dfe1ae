// Monarch v2: FFT convolution on tensor cores with the stages held in MMA fragments (sm_90a,
// mma.sync m16n8k16, fp16/bf16 operands, fp32 accumulation). kernels/monarch_cuda/plan.py is the
// reference for every index and table; twin.py executes the same decomposition on the CPU.
//
// Decomposition (plan.py): two real rows of a channel form one complex row z = u[b] + i·u[b+1];
// T = N complex points per transform, T = R1·256 (R1 = 1…16); causal runs two kinds (cyclic and
// negacyclic, κ = 0, 1) whose stage-A⁻¹ outputs add up to the linear convolution.
//   A tile is 16 rows × 256 columns (re and im planes, fp16/bf16, in shared memory): rows are
//   (job, a) with 16/R1 jobs (row pairs) per tile, columns m = 16b + c.
//   Every phase gives a warp two independent units at once (chunks q and q + 8, slices r and r + 8
//   of one kind), so each unit's MMA → fp32 → pack chain hides the other's latencies.
//   Phase 1 (a warp per 16-column chunk): stage A contracts the rows with the block-diagonal
//     Fa_κ (A operand) against the tile (B operand, ldmatrix.trans), twiddles W_2T^{m(2k_a+κ)} in
//     fp32 and stores each kind's tile with stmatrix.
//   Phase 2 (a warp per slice = one tile row, 256 points): stage B (F16 · slice, B operand by
//     ldmatrix.trans), twiddle, stage C (the accumulator repacked as the A operand, no shared
//     memory), pointwise product with the spectrum pre-permuted per lane (fp16: half2 on the
//     packed operand; bf16: fp32 on the accumulator), C⁻¹, twiddle · the channel's scale,
//     transpose in registers (movmatrix), B⁻¹, twiddle, stmatrix back into the slice row.
//   Phase 1 again: stage A⁻¹ (Ga_κ, both kinds into one accumulator) → output tile → global.
// Per-lane tables (twiddles, spectrum) are stored in accumulator order, so a lane reads its 8
// complex values with 16-byte shared-memory loads and does no index arithmetic (plan.tables).
// A CTA owns one channel: it copies the tables (twiddles, DFT matrices, the channel's spectrum as
// fp16) into shared memory once, then two independent halves of 8 warps (own tiles, own named
// barrier) take alternate tiles of the channel, so one half's barrier waits and loads overlap the
// other half's work. The next tile's u is fetched by cp.async as soon as stage A has read the
// current one (plain loads with the w product when gated); y leaves from the stage-A⁻¹
// accumulators straight to global memory.
// Bytes: u read once, y written once (v, w once each when gated); the channel's spectrum once per CTA.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include "../common/half2.cuh"

namespace {

constexpr int kRows = 16, kCols = 256;
constexpr int kPlaneBytes = kRows * kCols * 2;   // 8 KB
constexpr int kTileBytes = 2 * kPlaneBytes;      // re + im

struct Params {
    const uint16_t* u;
    const uint16_t* v;
    const uint16_t* w;
    uint16_t* y;
    const uint16_t* mats;  // (2 + 4·kinds, 256) dtype: F16 re/im, per kind Fa re/im, Ga re/im
    const float4* tw_a;    // (kinds, 16, 4, 32) float4
    const float4* tw_bc;   // (4, 32) float4
    const uint4* spec;     // (H, kinds, R1, 2 (re, im), 32) × 4 half2: S/scale
    const float* scale;    // (H,)
    long long batch, channels;
    int n, r1, log_r1, jobs;
    int pairs;              // ⌈B/2⌉ row pairs per channel
    int groups;             // ⌈pairs/jobs⌉ tiles per channel
    int groups_per_cta;
};

// ---- fp16/bf16 helpers ------------------------------------------------------------------------
using fftbench::pack2;
template <bool BF16> __device__ __forceinline__ uint32_t mul2(uint32_t a, uint32_t b) {
    if constexpr (BF16) {
        __nv_bfloat162 r = __hmul2(*reinterpret_cast<__nv_bfloat162*>(&a), *reinterpret_cast<__nv_bfloat162*>(&b));
        return *reinterpret_cast<uint32_t*>(&r);
    } else {
        __half2 r = __hmul2(*reinterpret_cast<__half2*>(&a), *reinterpret_cast<__half2*>(&b));
        return *reinterpret_cast<uint32_t*>(&r);
    }
}

// c += a·b, m16n8k16, fp32 accumulation. Not volatile: it touches no memory, so the compiler may
// interleave it with independent work (ldmatrix/stmatrix stay volatile: they read shared memory).
template <bool BF16> __device__ __forceinline__ void mma(float* c, const uint32_t* a, const uint32_t* b) {
    if constexpr (BF16)
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void ldsm_x4_trans(uint32_t* r, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
__device__ __forceinline__ void stsm_x4(uint32_t addr, const uint32_t* r) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1,%2,%3,%4};\n"
                 :: "r"(addr), "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3]) : "memory");
}
__device__ __forceinline__ uint32_t movmatrix_trans(uint32_t x) {
    uint32_t r;
    asm("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;\n" : "=r"(r) : "r"(x));
    return r;
}

// ---- shared-memory layout -----------------------------------------------------------------------
// Byte offset of 16-byte chunk `chunk` (0…31) of row `row` in a plane. The XOR makes both access
// patterns conflict-free: 8 rows at one chunk (phase 1) and chunks 2b+h for 8 b in one row (phase 2).
__device__ __forceinline__ uint32_t chunk_off(int row, int chunk) {
    return row * (kCols * 2) + ((chunk ^ (row & 7) ^ ((chunk >> 3) & 1)) << 4);
}
// ldmatrix/stmatrix lane addresses (matrix i = lane/8, row rr = lane%8):
//   phase 1, chunk q:  tile rows rr + 8(i&1), 16-byte chunk 2q + (i>>1)
//   phase 2, row r:    b = rr + 8(i&1) → chunk 2b + (i>>1) of row r
__device__ __forceinline__ uint32_t phase1_off(int lane, int q) {
    const int i = lane >> 3, rr = lane & 7;
    return chunk_off(rr + 8 * (i & 1), 2 * q + (i >> 1));
}
__device__ __forceinline__ uint32_t phase2_off(int lane, int row) {
    const int i = lane >> 3, rr = lane & 7;
    return chunk_off(row, 2 * (rr + 8 * (i & 1)) + (i >> 1));
}

// ---- fragments ----------------------------------------------------------------------------------
// A operand of a 16×16 matrix M (row-major, 256 dtype values): a0 = M[g][2t..], a1 = M[g+8][2t..],
// a2 = M[g][2t+8..], a3 = M[g+8][2t+8..].
struct AFrag { uint32_t re[4], im[4], nim[4]; };
__device__ __forceinline__ void load_a(AFrag& f, const uint16_t* mre, const uint16_t* mim, int lane) {
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int idx = (g + 8 * (i & 1)) * 16 + 2 * t + 8 * (i >> 1);
        f.re[i] = *reinterpret_cast<const uint32_t*>(mre + idx);
        f.im[i] = *reinterpret_cast<const uint32_t*>(mim + idx);
        f.nim[i] = f.im[i] ^ 0x80008000u;
    }
}
// A complex 16×16 tile in accumulator order: [n-tile j][c0..c3] as re and im.
struct Acc {
    float re[2][4], im[2][4];
    __device__ __forceinline__ void zero() {
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) re[j][e] = im[j][e] = 0.f;
    }
};

// acc += M · X: M complex A operand (conjugated when CONJ), X complex B operand x[j] = {b0, b1}.
template <bool BF16, bool CONJ>
__device__ __forceinline__ void left_mul(Acc& acc, const AFrag& m, const uint32_t (&xr)[2][2], const uint32_t (&xi)[2][2]) {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
        mma<BF16>(acc.re[j], m.re, xr[j]);
        mma<BF16>(acc.re[j], CONJ ? m.im : m.nim, xi[j]);
        mma<BF16>(acc.im[j], m.re, xi[j]);
        mma<BF16>(acc.im[j], CONJ ? m.nim : m.im, xr[j]);
    }
}
// acc += X · M: X complex A operand (xr, xi), M a symmetric complex matrix (conjugated when
// CONJ) given by its A fragment: by symmetry the B operand of n-tile j is {a[j], a[j+2]}
// (B[2t..][8j+g] = M[8j+g][2t..]), so one set of registers serves both sides.
template <bool BF16, bool CONJ>
__device__ __forceinline__ void right_mul(Acc& acc, const uint32_t (&xr)[4], const uint32_t (&xi)[4], const AFrag& m) {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
        const uint32_t re[2] = {m.re[j], m.re[j + 2]}, im[2] = {m.im[j], m.im[j + 2]}, nim[2] = {m.nim[j], m.nim[j + 2]};
        mma<BF16>(acc.re[j], xr, re);
        mma<BF16>(acc.re[j], xi, CONJ ? im : nim);
        mma<BF16>(acc.im[j], xi, re);
        mma<BF16>(acc.im[j], xr, CONJ ? nim : im);
    }
}

// acc ⊙= w (conj: ⊙ conj(w)) for entries 2v, 2v+1 held in one float4 (re, im, re, im).
template <bool CONJ> __device__ __forceinline__ void cmul2(Acc& acc, int v, float4 w) {
#pragma unroll
    for (int s = 0; s < 2; ++s) {
        const int e = 2 * v + s, j = e >> 2, c = e & 3;
        const float wr = s ? w.z : w.x, wi = CONJ ? -(s ? w.w : w.y) : (s ? w.w : w.y);
        const float r = acc.re[j][c], i = acc.im[j][c];
        acc.re[j][c] = r * wr - i * wi;
        acc.im[j][c] = r * wi + i * wr;
    }
}
// acc ⊙= table, the lane's 8 entries at tab[v·32] (vector-major layout, plan.vector_major).
template <bool CONJ> __device__ __forceinline__ void twiddle(Acc& acc, const float4* tab) {
#pragma unroll
    for (int v = 0; v < 4; ++v) cmul2<CONJ>(acc, v, tab[v * 32]);
}
// The spectrum S/scale of a slice as the lane's two fp16 vectors: re of its 8 entries at tab[0],
// im at tab[32], each as 4 half2 in A-operand order (entries 2w, 2w+1 in word w). The power-of-two
// scale is applied later, with the conjugate bc twiddle (the CTA's scaled copy of that table).
// fp16: the product of the packed operand (ar, ai) in half2 arithmetic, 4 instructions per two
// entries (fp32 would take 12, with the conversions); each part rounds once more than in fp32.
__device__ __forceinline__ void spectrum_product(uint32_t (&ar)[4], uint32_t (&ai)[4], const uint4* tab) {
    const uint4 qr = tab[0], qi = tab[32];
    const uint32_t sr[4] = {qr.x, qr.y, qr.z, qr.w}, si[4] = {qi.x, qi.y, qi.z, qi.w};
#pragma unroll
    for (int w = 0; w < 4; ++w) {
        const __half2 a = *reinterpret_cast<const __half2*>(&ar[w]), b = *reinterpret_cast<const __half2*>(&ai[w]);
        const __half2 c = *reinterpret_cast<const __half2*>(&sr[w]), d = *reinterpret_cast<const __half2*>(&si[w]);
        const __half2 re = __hfma2(__hneg2(b), d, __hmul2(a, c)), im = __hfma2(b, c, __hmul2(a, d));
        ar[w] = *reinterpret_cast<const uint32_t*>(&re);
        ai[w] = *reinterpret_cast<const uint32_t*>(&im);
    }
}
// bf16 (whose 8-bit significand cannot take the extra roundings): acc ⊙= S/scale in fp32.
__device__ __forceinline__ void spectrum_product(Acc& acc, const uint4* tab) {
    const uint4 qr = tab[0], qi = tab[32];
    const uint32_t sr[4] = {qr.x, qr.y, qr.z, qr.w}, si[4] = {qi.x, qi.y, qi.z, qi.w};
#pragma unroll
    for (int w = 0; w < 4; ++w) {
        const float2 kr = __half22float2(*reinterpret_cast<const __half2*>(&sr[w]));
        const float2 ki = __half22float2(*reinterpret_cast<const __half2*>(&si[w]));
        const int j = w >> 1, c = 2 * (w & 1);
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            const float r = acc.re[j][c + e], i = acc.im[j][c + e], sre = e ? kr.y : kr.x, sim = e ? ki.y : ki.x;
            acc.re[j][c + e] = r * sre - i * sim;
            acc.im[j][c + e] = r * sim + i * sre;
        }
    }
}

// Accumulator → A operand: a0 = (c0, c1) of n-tile 0 (row g), a1 = (c2, c3) (row g+8), a2, a3 of n-tile 1.
template <bool BF16> __device__ __forceinline__ void to_a(const Acc& acc, uint32_t (&ar)[4], uint32_t (&ai)[4]) {
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            ar[2 * j + h] = pack2<BF16>(acc.re[j][2 * h], acc.re[j][2 * h + 1]);
            ai[2 * j + h] = pack2<BF16>(acc.im[j][2 * h], acc.im[j][2 * h + 1]);
        }
}
// The stmatrix.x4 order (matrix i: rows 8(i&1)…, columns 8(i>>1)…) is the A-operand order.
template <bool BF16> __device__ __forceinline__ void store_tile(const Acc& acc, uint8_t* plane_re, uint8_t* plane_im, uint32_t off) {
    uint32_t ar[4], ai[4];
    to_a<BF16>(acc, ar, ai);
    stsm_x4(smem_u32(plane_re + off), ar);
    stsm_x4(smem_u32(plane_im + off), ai);
}
// B operand of a tile read with ldmatrix.trans at the lane's address: x[j] = {b0, b1} of n-tile j.
__device__ __forceinline__ void load_tile_b(const uint8_t* plane_re, const uint8_t* plane_im, uint32_t off,
                                            uint32_t (&xr)[2][2], uint32_t (&xi)[2][2]) {
    uint32_t r[4];
    ldsm_x4_trans(r, smem_u32(plane_re + off));
    xr[0][0] = r[0]; xr[0][1] = r[1]; xr[1][0] = r[2]; xr[1][1] = r[3];
    ldsm_x4_trans(r, smem_u32(plane_im + off));
    xi[0][0] = r[0]; xi[0][1] = r[1]; xi[1][0] = r[2]; xi[1][1] = r[3];
}

// ---- global ↔ shared ----------------------------------------------------------------------------
// Row (job j, a) of plane p of a tile is batch row 2·pair + p of the channel (pair = group·jobs + j),
// elements 256a … 256a + 255. Element offset of that row in u/v/w/y, or -1 when it does not exist.
__device__ __forceinline__ long long row_offset(const Params& p, int h, int group, int row, int plane) {
    const int pair = group * p.jobs + (row >> p.log_r1);
    const long long b = 2LL * pair + plane;
    if (pair >= p.pairs || b >= p.batch) return -1;
    return (b * p.channels + h) * p.n + (long long)(row & (p.r1 - 1)) * kCols;
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(dst), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }
__device__ __forceinline__ void half_barrier(int half) { asm volatile("bar.sync %0, 256;\n" :: "r"(1 + half) : "memory"); }

// One half's 256 threads load a tile: thread lt moves 16-byte chunk lt&31 of rows lt/32 and lt/32+8
// of both planes (zeros where a row does not exist).
template <bool BF16, bool GATED>
__device__ void load_input(const Params& p, uint8_t* tile, int h, int group, int lt) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int plane = i >> 1, row = (lt >> 5) + 8 * (i & 1), cc = lt & 31;
        const long long off = row_offset(p, h, group, row, plane);
        uint8_t* dst = tile + plane * kPlaneBytes + chunk_off(row, cc);
        const long long e = off + 8 * cc;
        if constexpr (GATED) {
            uint4 x = make_uint4(0, 0, 0, 0);
            if (off >= 0) {
                const uint4 a = __ldg(reinterpret_cast<const uint4*>(p.u + e));
                const uint4 b = __ldg(reinterpret_cast<const uint4*>(p.w + e));
                x = make_uint4(mul2<BF16>(a.x, b.x), mul2<BF16>(a.y, b.y), mul2<BF16>(a.z, b.z), mul2<BF16>(a.w, b.w));
            }
            *reinterpret_cast<uint4*>(dst) = x;
        } else {
            cp_async16(smem_u32(dst), off >= 0 ? p.u + e : p.u, off >= 0);
        }
    }
    if constexpr (!GATED) cp_async_commit();
}

// y of chunk q from the stage-A⁻¹ accumulator: the lane holds rows g, g+8 and columns
// 16q + 8j + 2t, +1 of both planes; out[plane][h] is the row offset of row g + 8h (-1: absent).
template <bool BF16, bool GATED>
__device__ __forceinline__ void store_output(const Params& p, const Acc& acc, const long long (&out)[2][2], int q, int lane) {
    uint32_t ar[4], ai[4];
    to_a<BF16>(acc, ar, ai);
    const int t = lane & 3;
#pragma unroll
    for (int plane = 0; plane < 2; ++plane)
#pragma unroll
        for (int hh = 0; hh < 2; ++hh) {
            if (out[plane][hh] < 0) continue;
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const long long e = out[plane][hh] + 16 * q + 8 * j + 2 * t;
                uint32_t x = plane ? ai[2 * j + hh] : ar[2 * j + hh];
                if constexpr (GATED) x = mul2<BF16>(x, __ldg(reinterpret_cast<const uint32_t*>(p.v + e)));
                *reinterpret_cast<uint32_t*>(p.y + e) = x;
            }
        }
}

// Shared memory: the tables, then per half one input tile and one tile per kind.
template <int KINDS> struct Layout {
    static constexpr int tw_a = 0;                                   // KINDS·16·4·32 float4
    static constexpr int tw_bc = tw_a + KINDS * 16 * 4 * 32 * 16;    // 4·32 float4, then the same ·scale
    static constexpr int mats = tw_bc + 2 * 4 * 32 * 16;             // (2 + 4·KINDS)·256 dtype
    static constexpr int spec = mats + (2 + 4 * KINDS) * 512;        // KINDS·R1·2·32 uint4 (≤ KINDS·16 KB)
    static constexpr int tiles = spec + KINDS * 16 * 2 * 32 * 16;
    static constexpr int half_bytes = (1 + KINDS) * kTileBytes;
    static constexpr int bytes = tiles + 2 * half_bytes;
};

__device__ __forceinline__ void copy16(void* dst, const void* src, int bytes, int tid) {
    for (int i = tid; i < bytes / 16; i += 512)
        reinterpret_cast<uint4*>(dst)[i] = __ldg(reinterpret_cast<const uint4*>(src) + i);
}

// The stage-A twiddle table (kinds, 16 chunks, 4 vectors, 32 lanes) of float4 lives in shared memory
// with lane L of odd chunks at L ^ 4. Phase 1 reads a chunk's 32 lanes (any lane permutation is
// conflict-free); phase 2 reads it transposed, lanes (g, t) at chunk g (+8), lane 4·k_a' + t, which
// without the swizzle puts all 32 lanes in 4 of the 8 16-byte bank groups (8 wavefronts per load
// instead of 4); with it, chunk parity g & 1 picks the other half of the groups.
__device__ __forceinline__ int tw_a_slot(int i) { return i ^ (((i >> 7) & 1) << 2); }

// ---- the kernel ---------------------------------------------------------------------------------
template <bool BF16, int KINDS, bool GATED>
__global__ void __launch_bounds__(512, 1) monarch_v2_kernel(Params p) {
    using L = Layout<KINDS>;
    extern __shared__ __align__(128) uint8_t smem[];
    const int h = blockIdx.y;
    const int g0 = blockIdx.x * p.groups_per_cta, g1 = min(g0 + p.groups_per_cta, p.groups);
    if (g0 >= g1) return;

    for (int i = threadIdx.x; i < KINDS * 16 * 128; i += 512)   // stage-A twiddle, lanes swizzled
        reinterpret_cast<float4*>(smem + L::tw_a)[tw_a_slot(i)] = __ldg(p.tw_a + i);
    copy16(smem + L::tw_bc, p.tw_bc, 4 * 32 * 16, threadIdx.x);
    const float scale = __ldg(p.scale + h);
    for (int i = threadIdx.x; i < 4 * 32; i += 512) {   // the inverse's table: W · scale (a power of two)
        float4 w = __ldg(p.tw_bc + i);
        w.x *= scale; w.y *= scale; w.z *= scale; w.w *= scale;
        reinterpret_cast<float4*>(smem + L::tw_bc)[4 * 32 + i] = w;
    }
    copy16(smem + L::mats, p.mats, L::spec - L::mats, threadIdx.x);
    copy16(smem + L::spec, p.spec + (long long)h * KINDS * p.r1 * 64, KINDS * p.r1 * 1024, threadIdx.x);
    __syncthreads();

    const float4* tw_a = reinterpret_cast<const float4*>(smem + L::tw_a);
    const float4* tw_bc = reinterpret_cast<const float4*>(smem + L::tw_bc);
    const uint16_t* mats = reinterpret_cast<const uint16_t*>(smem + L::mats);
    const uint4* spec = reinterpret_cast<const uint4*>(smem + L::spec);

    const int half = threadIdx.x >> 8, lt = threadIdx.x & 255;
    const int lane = lt & 31, warp = lt >> 5, g = lane >> 2, t = lane & 3;
    uint8_t* const x = smem + L::tiles + half * L::half_bytes;  // input tile
    uint8_t* const ktile = x + kTileBytes;                       // one tile per kind

    AFrag f16;  // W_16/4: the A operand of stages B, B⁻¹ and, being symmetric, the B operand of C, C⁻¹
    load_a(f16, mats, mats + 256, lane);

    if constexpr (!GATED)
        if (g0 + half < g1) load_input<BF16, false>(p, x, h, g0 + half, lt);

    for (int grp = g0 + half; grp < g1; grp += 2) {
        if constexpr (GATED) load_input<BF16, true>(p, x, h, grp, lt);
        else cp_async_wait_all();
        half_barrier(half);

        // Phase 1: stage A on each 16-column chunk, both kinds from one read of the input; a warp
        // owns chunks warp and warp + 8 and carries them together (independent MMA chains).
        uint32_t chunk_at[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) chunk_at[i] = phase1_off(lane, warp + 8 * i);
        {
            uint32_t xr[2][2][2], xi[2][2][2];
#pragma unroll
            for (int i = 0; i < 2; ++i) load_tile_b(x, x + kPlaneBytes, chunk_at[i], xr[i], xi[i]);
#pragma unroll
            for (int k = 0; k < KINDS; ++k) {
                AFrag fa;
                load_a(fa, mats + (2 + 4 * k) * 256, mats + (3 + 4 * k) * 256, lane);
                Acc acc[2];
#pragma unroll
                for (int i = 0; i < 2; ++i) {
                    acc[i].zero();
                    left_mul<BF16, false>(acc[i], fa, xr[i], xi[i]);
                    twiddle<false>(acc[i], tw_a + (k * 16 + warp + 8 * i) * 128 + (lane ^ ((warp & 1) << 2)));
                }
#pragma unroll
                for (int i = 0; i < 2; ++i)
                    store_tile<BF16>(acc[i], ktile + k * kTileBytes, ktile + k * kTileBytes + kPlaneBytes, chunk_at[i]);
            }
        }
        half_barrier(half);
        if constexpr (!GATED)
            if (grp + 2 < g1) load_input<BF16, false>(p, x, h, grp + 2, lt);  // x is free: prefetch

        // Phase 2: the 256-point transforms of each slice, pointwise product, and back; a warp
        // carries two slices of one kind (rows r and r + 8) through every step together, so each
        // slice's MMA → fp32 → pack chain hides the other's latencies.
        for (int s0 = warp; s0 < KINDS * kRows; s0 += 2 * 8) {
            const int k = s0 / kRows;
            uint8_t* pre = ktile + k * kTileBytes;
            uint8_t* pim = pre + kPlaneBytes;
            uint32_t off[2];
            int ka[2];
            Acc acc[2];
            uint32_t ar[2][4], ai[2][4];
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                const int row = s0 % kRows + 8 * i;
                ka[i] = row & (p.r1 - 1);
                off[i] = phase2_off(lane, row);
                uint32_t xr[2][2], xi[2][2];
                load_tile_b(pre, pim, off[i], xr, xi);
                acc[i].zero();
                left_mul<BF16, false>(acc[i], f16, xr, xi);     // stage B
            }
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                twiddle<false>(acc[i], tw_bc + lane);
                to_a<BF16>(acc[i], ar[i], ai[i]);
                acc[i].zero();
                right_mul<BF16, false>(acc[i], ar[i], ai[i], f16);  // stage C
            }
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                const uint4* si = spec + (k * p.r1 + ka[i]) * 64 + lane;
                if constexpr (BF16) {
                    spectrum_product(acc[i], si);
                    to_a<BF16>(acc[i], ar[i], ai[i]);
                } else {
                    to_a<BF16>(acc[i], ar[i], ai[i]);
                    spectrum_product(ar[i], ai[i], si);
                }
                acc[i].zero();
                right_mul<BF16, true>(acc[i], ar[i], ai[i], f16);   // stage C⁻¹
            }
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                twiddle<true>(acc[i], tw_bc + 4 * 32 + lane);     // conj(W_256) · scale
                to_a<BF16>(acc[i], ar[i], ai[i]);
                uint32_t br[2][2], bi[2][2];                       // transpose: [k_b][c] as B operand
#pragma unroll
                for (int j = 0; j < 2; ++j)
#pragma unroll
                    for (int hh = 0; hh < 2; ++hh) {
                        br[j][hh] = movmatrix_trans(ar[i][2 * j + hh]);
                        bi[j][hh] = movmatrix_trans(ai[i][2 * j + hh]);
                    }
                acc[i].zero();
                left_mul<BF16, true>(acc[i], f16, br, bi);         // stage B⁻¹
            }
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                // conj stage-A twiddle at (b, c), m = 16b + c: the chunk owner's table read transposed
                // (chunk q = b, its row k_a is lane (k_a&7)·4 + t's row half k_a>>3; tw_a_slot's swizzle).
                const float4* ta = tw_a + k * 16 * 128 + (ka[i] >> 3) * 32 + (((ka[i] & 7) ^ (g & 1)) * 4) + t;
#pragma unroll
                for (int hh = 0; hh < 2; ++hh)
#pragma unroll
                    for (int j = 0; j < 2; ++j) {
                        const float4 w4 = ta[(g + 8 * hh) * 128 + 2 * j * 32];
                        const int c0 = 2 * hh;
                        const float r0 = acc[i].re[j][c0], i0 = acc[i].im[j][c0];
                        const float r1 = acc[i].re[j][c0 + 1], i1 = acc[i].im[j][c0 + 1];
                        acc[i].re[j][c0] = r0 * w4.x + i0 * w4.y;
                        acc[i].im[j][c0] = i0 * w4.x - r0 * w4.y;
                        acc[i].re[j][c0 + 1] = r1 * w4.z + i1 * w4.w;
                        acc[i].im[j][c0 + 1] = i1 * w4.z - r1 * w4.w;
                    }
                store_tile<BF16>(acc[i], pre, pim, off[i]);
            }
        }
        half_barrier(half);

        // Phase 1 inverse: stage A⁻¹, both kinds summed, straight to y.
        long long out[2][2];
#pragma unroll
        for (int plane = 0; plane < 2; ++plane)
#pragma unroll
            for (int hh = 0; hh < 2; ++hh) out[plane][hh] = row_offset(p, h, grp, g + 8 * hh, plane);
        Acc acc[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) acc[i].zero();
#pragma unroll
        for (int k = 0; k < KINDS; ++k) {
            uint32_t dr[2][2][2], di[2][2][2];
#pragma unroll
            for (int i = 0; i < 2; ++i)
                load_tile_b(ktile + k * kTileBytes, ktile + k * kTileBytes + kPlaneBytes, chunk_at[i], dr[i], di[i]);
            AFrag ga;
            load_a(ga, mats + (4 + 4 * k) * 256, mats + (5 + 4 * k) * 256, lane);
#pragma unroll
            for (int i = 0; i < 2; ++i) left_mul<BF16, false>(acc[i], ga, dr[i], di[i]);
        }
#pragma unroll
        for (int i = 0; i < 2; ++i) store_output<BF16, GATED>(p, acc[i], out, warp + 8 * i, lane);
        // The next iteration's first barrier orders these tile reads before phase 1 rewrites them.
    }
}

template <bool BF16, int KINDS, bool GATED>
cudaError_t launch(const Params& p, dim3 grid, cudaStream_t stream) {
    const int smem = Layout<KINDS>::bytes;
    auto kernel = monarch_v2_kernel<BF16, KINDS, GATED>;
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (err != cudaSuccess) return err;
    kernel<<<grid, 512, smem, stream>>>(p);
    return cudaGetLastError();
}

}  // namespace

extern "C" int monarch_v2_launch(const void* u, const void* v, const void* w, void* y, const void* mats,
                                 const void* tw_a, const void* tw_bc, const void* spec, const void* scale,
                                 long long batch, long long channels, int n, int causal, int bf16,
                                 int groups_per_cta, void* stream) {
    Params p{};
    p.u = static_cast<const uint16_t*>(u);
    p.v = static_cast<const uint16_t*>(v);
    p.w = static_cast<const uint16_t*>(w);
    p.y = static_cast<uint16_t*>(y);
    p.mats = static_cast<const uint16_t*>(mats);
    p.tw_a = static_cast<const float4*>(tw_a);
    p.tw_bc = static_cast<const float4*>(tw_bc);
    p.spec = static_cast<const uint4*>(spec);
    p.scale = static_cast<const float*>(scale);
    p.batch = batch;
    p.channels = channels;
    p.n = n;
    if (n < kCols || n > kRows * kCols || (n & (n - 1)) || groups_per_cta < 1 || channels > 65535 ||
        (v == nullptr) != (w == nullptr))
        return int(cudaErrorInvalidValue);
    p.r1 = n / kCols;
    p.log_r1 = __builtin_ctz(p.r1);
    p.jobs = kRows / p.r1;
    p.pairs = int((batch + 1) / 2);
    p.groups = (p.pairs + p.jobs - 1) / p.jobs;
    p.groups_per_cta = groups_per_cta;
    const dim3 grid((p.groups + groups_per_cta - 1) / groups_per_cta, unsigned(channels));
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    const bool gated = v != nullptr;
    cudaError_t err;
    if (bf16) {
        if (causal) err = gated ? launch<true, 2, true>(p, grid, s) : launch<true, 2, false>(p, grid, s);
        else err = gated ? launch<true, 1, true>(p, grid, s) : launch<true, 1, false>(p, grid, s);
    } else {
        if (causal) err = gated ? launch<false, 2, true>(p, grid, s) : launch<false, 2, false>(p, grid, s);
        else err = gated ? launch<false, 1, true>(p, grid, s) : launch<false, 1, false>(p, grid, s);
    }
    return int(err);
}
