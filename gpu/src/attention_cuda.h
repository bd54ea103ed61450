#pragma once
// The fused attention kernel (attention.cu); private to gpu/.

#include <cuda_runtime.h>

namespace attnsteer::gpu {

/// Device pointers and sizes of one forward (layout of attnsteer/attention.h).
struct AttentionDeviceArgs {
    static constexpr int kMaxDim = 128; ///< the largest head dimension the kernel takes
    const float* q = nullptr;           ///< [H, Q, d]
    const float* k = nullptr;           ///< [H, K, d]
    const float* v = nullptr;           ///< [H, K, d]
    const float* bias = nullptr;        ///< K values lambda * s, or nullptr for plain attention
    float* out = nullptr;               ///< [H, Q, d]
    int heads = 0, queries = 0, keys = 0, headDim = 0;
    bool causal = false; ///< query q sees the keys k <= q + K - Q
    float scale = 0;     ///< the scores are Q K^T * scale
};

/// O on STREAM: one block per 16 queries of a head.
void launchAttention(const AttentionDeviceArgs& args, cudaStream_t stream);

} // namespace attnsteer::gpu
