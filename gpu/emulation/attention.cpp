// gpu/src/attention.cu, compiled by the host compiler against the emulated runtime.
#include "../src/attention.cu"
