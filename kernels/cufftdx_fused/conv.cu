// Fused FFT convolution with cuFFTDx block FFTs: one kernel reads u (and w, v when gated) once
// from HBM, runs the forward FFT, multiplies by the precomputed kernel spectrum, runs the inverse
// FFT and writes y once.
//
//   y = v ⊙ irfft(rfft(u ⊙ w, n=F) · K, n=F)[:N]     F = N (circular) or 2N (causal)
//
// Factorisation: cuFFTDx's fold-optimised real FFT (RealFFTOptions<packed, folded>): a row's F
// real samples are read as F/2 complex pairs (x[2i], x[2i+1]), transformed by an F/2-point complex
// block FFT and untangled into F/2 packed bins (bin 0 holds (X[0], X[F/2]) as (re, im)); the
// inverse is the mirror image. cuFFTDx picks the radix stages: registers within a thread, exchanges
// through shared memory. The spectrum multiply runs in registers between the two transforms. (An
// F-point complex FFT of two rows x_a + i·x_b of one channel was measured too: slower at 16-bit
// I/O and from F = 4K on; NOTES.md.)
//
// Precision: the FFTs always run in fp32; fp16 and bf16 are converted at load and store. (cuFFTDx's
// half-precision FFT, two transforms per half2, was measured at 2.4e-3 … 6e-3 relative L2 error,
// over the 2e-3 fp16 budget: its twiddles come from cos.approx and fp16 recurrences. NOTES.md.)
//
// Layout: cuFFTDx's block layout, thread t / register i holds pair t + i·stride (stride = threads
// per FFT = F/2 / EPT). One CUDA block runs FFTS_PER_BLOCK rows, threadIdx.y picks the slot; slots
// are ordered channel-major (slot = h·B + b) so consecutive blocks reuse channel h's spectrum in L2.
//
// Causal mode: only the N real inputs are read; the zero padding is implied (registers set to
// zero), and only the first N outputs are written. Circular mode reads and writes all N.
//
// Loads/stores: each thread moves one pair per register straight between HBM and registers (8 B
// fp32, 4 B fp16/bf16; a warp covers a contiguous 128-256 B span), no staging through shared
// memory. The I/O dtype is a runtime switch taken outside the per-element loops, so the FFT code
// is instantiated once.
//
// Twiddles: cuFFTDx's own. Kernel spectrum: computed once in the Python factory, packed to (H, F/2)
// float2 and scaled by 1/F (the inverse is unnormalised); read from L2 after the forward FFT.
//
// Sizes: F = 256 … 65536 (powers of two), so circular N ≤ 65536 and causal N ≤ 32768. I/O dtypes
// fp32, bf16, fp16.
// Bytes per element: read 1 (u) + 2 more when gated (v, w), write 1, in the I/O dtype, plus the
// spectrum from L2. Expected bound: the fp32 FFT work (FP32 pipe, shared-memory exchanges, latency
// at the occupancy the registers allow), not HBM: each 2-byte sample costs ~5·log2(F/2) flops per
// transform; measured at 4-33% of the fp16 HBM floor (NOTES.md), fp16 and fp32 I/O equally fast.
//
// Compiled once per F with -DFFTBENCH_F=<F> -DFFTBENCH_EPT=<complex elements per thread>
// -DFFTBENCH_MIN_BLOCKS=<__launch_bounds__ blocks per SM, i.e. a register cap>.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cufftdx.hpp>

#ifndef FFTBENCH_F
#error "define FFTBENCH_F (the real FFT size)"
#endif
#ifndef FFTBENCH_EPT  // complex elements per thread (a cuFFTDx database entry for F/2)
#error "define FFTBENCH_EPT"
#endif
#ifndef FFTBENCH_TARGET_THREADS  // threads per block the FFTs-per-block choice aims for
#define FFTBENCH_TARGET_THREADS 256
#endif
#ifndef FFTBENCH_MIN_BLOCKS  // __launch_bounds__ minimum resident blocks per SM
#define FFTBENCH_MIN_BLOCKS 1
#endif

namespace {

using namespace cufftdx;

constexpr unsigned kF = FFTBENCH_F;
constexpr unsigned kPoints = kF / 2;  // complex pairs per transform = packed bins

// The block FFT for `Ffts` rows per block, forward (r2c) or inverse (c2r). ElementsPerThread counts
// real elements for a folded real FFT, hence 2·EPT.
template <unsigned Ffts, fft_direction D>
using BlockFFT = decltype(Block() + Size<kF>() + Precision<float>() + SM<900>() + FFTsPerBlock<Ffts>() +
                          ElementsPerThread<2 * FFTBENCH_EPT>() + Direction<D>() +
                          Type<D == fft_direction::forward ? fft_type::r2c : fft_type::c2r>() +
                          RealFFTOptions<complex_layout::packed, real_mode::folded>());

// Several FFTs per block for small sizes, so a block has about FFTBENCH_TARGET_THREADS threads.
constexpr unsigned kThreadsPerFFT = BlockFFT<1, fft_direction::forward>::block_dim.x;
constexpr unsigned kSlots = kThreadsPerFFT >= FFTBENCH_TARGET_THREADS ? 1 : FFTBENCH_TARGET_THREADS / kThreadsPerFFT;

using FwdFFT = BlockFFT<kSlots, fft_direction::forward>;
using InvFFT = BlockFFT<kSlots, fft_direction::inverse>;
using complex_t = typename FwdFFT::value_type;

constexpr unsigned kStride = FwdFFT::stride;
constexpr unsigned kEpt = FwdFFT::input_ept;
constexpr unsigned kStorage = FwdFFT::storage_size > InvFFT::storage_size ? FwdFFT::storage_size : InvFFT::storage_size;
constexpr unsigned kSmem = FwdFFT::shared_memory_size > InvFFT::shared_memory_size ? FwdFFT::shared_memory_size
                                                                                   : InvFFT::shared_memory_size;

// The register layout (pair t + i·stride) must be the same at every hand-over.
static_assert(kEpt == FFTBENCH_EPT);
static_assert(FwdFFT::block_dim.x == InvFFT::block_dim.x && FwdFFT::block_dim.y == InvFFT::block_dim.y);
static_assert(FwdFFT::block_dim.y == kSlots && kStride * kEpt == kPoints);
static_assert(FwdFFT::input_length == kPoints && FwdFFT::output_length == kPoints && FwdFFT::output_ept == kEpt);
static_assert(InvFFT::input_length == kPoints && InvFFT::output_length == kPoints);
static_assert(InvFFT::input_ept == kEpt && InvFFT::output_ept == kEpt);

enum IoDtype : int { kIoF32 = 0, kIoBF16 = 1, kIoF16 = 2 };

struct Args {
    const void* u;
    const void* w;  // nullptr unless gated
    const void* v;  // nullptr unless gated
    void* y;
    const float2* spectrum;  // see the header
    long long batch;
    long long channels;
    long long seqlen;  // N: real samples read and written per row in both modes
    int io;
};

// Pairs (x[2i], x[2i+1]) of an I/O dtype, converted to and from fp32.
template <int I>
struct Io;
template <>
struct Io<kIoF32> {
    using P = float2;
    static __device__ __forceinline__ float2 get2(const P* p) { return *p; }
    static __device__ __forceinline__ P put2(float2 v) { return v; }
};
template <>
struct Io<kIoBF16> {
    using P = __nv_bfloat162;
    static __device__ __forceinline__ float2 get2(const P* p) { return __bfloat1622float2(*p); }
    static __device__ __forceinline__ P put2(float2 v) { return __float22bfloat162_rn(v); }
};
template <>
struct Io<kIoF16> {
    using P = __half2;
    static __device__ __forceinline__ float2 get2(const P* p) { return __half22float2(*p); }
    static __device__ __forceinline__ P put2(float2 v) { return __float22half2_rn(v); }
};

// A slot's row: slot = h·B + b (channel-major). Invalid slots (past the last row) still take part
// in the block FFT's barriers.
struct Slot {
    long long h;
    long long offset;  // in pairs
    bool valid;
};

__device__ __forceinline__ Slot locate(const Args& a) {
    const long long slot = static_cast<long long>(blockIdx.x) * kSlots + threadIdx.y;
    Slot s{};
    s.valid = slot < a.batch * a.channels;
    s.h = s.valid ? slot / a.batch : 0;
    const long long b = s.valid ? slot % a.batch : 0;
    s.offset = (b * a.channels + s.h) * (a.seqlen / 2);
    return s;
}

// regs ← (u ⊙ w) pairs of the row, zero beyond the N real inputs (the causal padding).
template <int I>
__device__ __forceinline__ void load(const Args& a, const Slot& s, complex_t* regs) {
    using T = Io<I>;
    const auto* u = reinterpret_cast<const typename T::P*>(a.u) + s.offset;
    const auto* w = reinterpret_cast<const typename T::P*>(a.w) + s.offset;
    const bool gated = a.w != nullptr;
    const long long n = a.seqlen / 2;
#pragma unroll
    for (unsigned i = 0; i < kEpt; ++i) {
        const unsigned p = threadIdx.x + i * kStride;
        float2 x = make_float2(0.f, 0.f);
        if (s.valid && p < n) {
            x = T::get2(u + p);
            if (gated) {
                const float2 g = T::get2(w + p);
                x = make_float2(x.x * g.x, x.y * g.y);
            }
        }
        regs[i] = complex_t{x.x, x.y};
    }
}

// y ← v ⊙ regs of the row, the first N outputs only.
template <int I>
__device__ __forceinline__ void store(const Args& a, const Slot& s, const complex_t* regs) {
    using T = Io<I>;
    auto* y = reinterpret_cast<typename T::P*>(a.y) + s.offset;
    const auto* v = reinterpret_cast<const typename T::P*>(a.v) + s.offset;
    const bool gated = a.v != nullptr;
    const long long n = a.seqlen / 2;
#pragma unroll
    for (unsigned i = 0; i < kEpt; ++i) {
        const unsigned p = threadIdx.x + i * kStride;
        if (p < n) {
            float2 r = make_float2(regs[i].x, regs[i].y);
            if (gated) {
                const float2 g = T::get2(v + p);
                r = make_float2(r.x * g.x, r.y * g.y);
            }
            y[p] = T::put2(r);
        }
    }
}

__launch_bounds__(FwdFFT::max_threads_per_block, FFTBENCH_MIN_BLOCKS) __global__ void fused_conv_kernel(Args a) {
    extern __shared__ __align__(16) unsigned char smem[];
    complex_t regs[kStorage];
    const Slot s = locate(a);

    switch (a.io) {
        case kIoBF16: load<kIoBF16>(a, s, regs); break;
        case kIoF16: load<kIoF16>(a, s, regs); break;
        default: load<kIoF32>(a, s, regs); break;
    }

    FwdFFT().execute(regs, smem);

    // Spectrum after the forward FFT: loading it earlier holds 2·EPT more registers across the
    // transform, which measured slower (fewer resident warps).
    const float2* spec = a.spectrum + s.h * kPoints;
#pragma unroll
    for (unsigned i = 0; i < kEpt; ++i) {
        const float2 k = spec[threadIdx.x + i * kStride];
        const complex_t x = regs[i];
        if (i == 0 && threadIdx.x == 0) {  // packed bin 0: (X[0], X[F/2]), both real
            regs[i] = complex_t{x.x * k.x, x.y * k.y};
        } else {
            regs[i] = complex_t{x.x * k.x - x.y * k.y, x.x * k.y + x.y * k.x};
        }
    }

    __syncthreads();  // the inverse reuses the forward transform's shared-memory workspace
    InvFFT().execute(regs, smem);

    if (!s.valid) return;
    switch (a.io) {
        case kIoBF16: store<kIoBF16>(a, s, regs); break;
        case kIoF16: store<kIoF16>(a, s, regs); break;
        default: store<kIoF32>(a, s, regs); break;
    }
}

}  // namespace

// Facts about this instantiation for Prepared.details: F, FFTs per block, complex elements per
// thread, threads per block, dynamic shared memory bytes, registers per thread, local
// (spill/stack) bytes per thread (-1 when the attributes cannot be read).
extern "C" void fftbench_cufftdx_info(int* out) {
    out[0] = static_cast<int>(kF);
    out[1] = static_cast<int>(kSlots);
    out[2] = static_cast<int>(kEpt);
    out[3] = static_cast<int>(FwdFFT::max_threads_per_block);
    out[4] = static_cast<int>(kSmem);
    cudaFuncAttributes attr{};
    const bool ok = cudaFuncGetAttributes(&attr, fused_conv_kernel) == cudaSuccess;
    out[5] = ok ? attr.numRegs : -1;
    out[6] = ok ? static_cast<int>(attr.localSizeBytes) : -1;
}

// y = v ⊙ conv(u ⊙ w, k) for (batch, channels, seqlen) rows; w = v = nullptr when not gated.
// io: 0 fp32, 1 bf16, 2 fp16. spectrum: (channels, F/2) packed float2, see the header.
extern "C" cudaError_t fftbench_cufftdx_conv(const void* u, const void* w, const void* v, void* y,
                                             const void* spectrum, long long batch, long long channels,
                                             long long seqlen, int io, cudaStream_t stream) {
    if (io < kIoF32 || io > kIoF16 || (seqlen != kF && 2 * seqlen != kF) || batch < 1 || channels < 1) {
        return cudaErrorInvalidValue;
    }
    static bool configured = false;
    if (!configured) {
        const cudaError_t err =
            cudaFuncSetAttribute(fused_conv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSmem));
        if (err != cudaSuccess) return err;
        configured = true;
    }
    const long long blocks = (batch * channels + kSlots - 1) / kSlots;
    if (blocks > 0x7fffffffLL) return cudaErrorInvalidValue;
    Args args{u, w, v, y, static_cast<const float2*>(spectrum), batch, channels, seqlen, io};
    fused_conv_kernel<<<static_cast<unsigned>(blocks), FwdFFT::block_dim, kSmem, stream>>>(args);
    return cudaGetLastError();
}
