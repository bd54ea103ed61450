// gpu/src/cuda_backend.cu, compiled by the host compiler against the emulated runtime.
#include "../src/cuda_backend.cu"
