// Test-only kernel: writes 1 GiB past the end of its buffer, to prove that a CUDA fault in one
// backend costs only that backend's point (tests/plugins/faulty_backends.py).
#include <cuda_runtime.h>

__global__ void oob_write_kernel(float* out) { out[(1ull << 28) + threadIdx.x] = 1.0f; }

extern "C" int oob_write(void* out, cudaStream_t stream) {
    oob_write_kernel<<<1, 32, 0, stream>>>(static_cast<float*>(out));
    return static_cast<int>(cudaGetLastError());
}
