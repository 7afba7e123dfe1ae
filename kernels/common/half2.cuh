// Two fp32 values rounded into one fp16x2 or bf16x2 register (lo in the low half): the pack
// every tensor-core kernel of this repository uses between an fp32 accumulator and an operand.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

namespace fftbench {

template <bool BF16> __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    if constexpr (BF16) {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&v);
    } else {
        __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&v);
    }
}

}  // namespace fftbench
