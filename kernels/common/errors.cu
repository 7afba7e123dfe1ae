// Exported by every kernel library so Python can turn a launcher's cudaError_t into text
// (fftbench.cuda_build.check_launch). Add this file to each CudaLibrary's sources.
#include <cuda_runtime.h>

extern "C" const char* fftbench_error_string(int code) {
    return cudaGetErrorString(static_cast<cudaError_t>(code));
}
