// Monarch v4 (the shared-memory stage engine of kernels/monarch_long/stages.cuh): monarch_cuda's path
// for N = 8K … 32K until v2 (monarch.cu) gains a second shared-memory stage (NOTES.md).
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
#include "../monarch_long/stages.cuh"
namespace {

using namespace monarch;

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
    int batch, channels, n, m, gated;
    StagePlan plan;
    int log_m, log_vec;  // log2 M, log2(N/8)
    int seqs_per_block;
};

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
        } else if (i >= vec_per_seq && p.plan.radix[0] == 16 && valid) {
            continue;  // causal zero half: the first stage never reads it
        }
        const int e = swz(s * M + 4 * i);
        *reinterpret_cast<uint2*>(sre + e) = re;
        *reinterpret_cast<uint2*>(sim + e) = im;
    }
    __syncthreads();

    for (int j = 0; j < p.plan.stages; ++j) {
        dispatch_stage<BF16, false>(sre, sim, P, p.plan, j, F16, F8);
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
        pair_map<BF16>(sre, sim, q1, q2, __ldg(p.pairs + size_t(h) * pairs + k), __ldg(p.scale + h),
                       float(k) * p.pi_over_m);
      }
    }
    __syncthreads();

    for (int j = p.plan.stages - 1; j >= 0; --j) {
        dispatch_stage<BF16, true>(sre, sim, P, p.plan, j, F16, F8);
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
    p.gated = v != nullptr;
    p.m = causal ? n : n / 2;
    p.pi_over_m = 3.14159265358979f / float(p.m);
    const int radix[kMaxStages] = {r0, r1, r2, r3};
    if (!p.plan.init(p.m, radix, stages, causal)) return int(cudaErrorInvalidValue);
    if (n % 8 != 0 || seqs_per_block > kMaxSeqsPerBlock) return int(cudaErrorInvalidValue);
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
