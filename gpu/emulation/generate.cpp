// gpu/src/generate.cu, compiled by the host compiler against the emulated runtime.
#include "../src/generate.cu"
