#pragma once
// A fused attention forward with the steering bias, to measure what steering costs inside
// attention (not what the metrics use: those work on attention rows, attnsteer/steering.h).
//
// For each head h, over H heads, Q queries, K keys and head dimension d:
//   O[h] = softmax(Q[h] K[h]^T * scale + mask + lambda * s) V[h]      (softmax over the keys)
// with the per-key bias s (K floats, broadcast over heads and queries) optional. Computed as
// FlashAttention does: tiles of queries x keys in one pass, the softmax online (a running maximum
// and sum per query, the partial output rescaled when the maximum grows), float32 accumulation,
// the tile products by Eigen; the Q x K score matrix is never held, only one tile per thread.
// OpenMP over heads and query tiles.
//
// Causal mask: query q sees the keys k <= q + (K - Q), so that with Q == K it is the usual lower
// triangle and with Q < K (queries that continue a longer context) the last query sees every key.
// Causal needs Q <= K (else the first queries would see no key).
//
// Layout: Q and O are [H, Q, d], K and V are [H, K, d], row-major (d contiguous).
// Errors: sizes < 1 or a causal Q > K throw InputError about the setting ("heads", "queries",
// "keys", "head-dim"); spans of the wrong length throw std::invalid_argument.

#include <cstdint>
#include <memory>
#include <span>

namespace attnsteer::attention {

/// The sizes and options of one forward. Defaults: one layer of Qwen2-VL-7B at 2048 tokens.
struct AttentionParams {
    int heads = 28;      ///< H, attention heads
    int queries = 2048;  ///< Q, query tokens per head
    int keys = 2048;     ///< K, key (and value) tokens per head
    int headDim = 128;   ///< d, the head dimension
    bool causal = false; ///< mask key k > q + (K - Q) for query q (see above)
    float lambda = 0;    ///< steering strength: the bias is lambda * s (when s is given)
    float scale = 0;     ///< scores are Q K^T * scale; 0 means 1 / sqrt(d)
    int queryTile = 64;  ///< queries per tile (rows of the score tile)
    int keyTile = 128;   ///< keys per tile (columns of the score tile)
    int threads = 0;     ///< OpenMP threads; 0: OpenMP's default
};

/// Throws InputError for sizes < 1 ("heads", "queries", "keys", "head-dim") and for a causal
/// mask with more queries than keys; std::invalid_argument for empty tiles. Every forward (CPU
/// and CUDA) checks this first.
void checkSizes(const AttentionParams& params);

/// O for float32 Q, K, V (Q and OUT: H*Q*d floats, K and V: H*K*d). BIAS: K floats s, or empty
/// for plain attention (then lambda is not used).
void forward(const AttentionParams& params, std::span<const float> q, std::span<const float> k,
             std::span<const float> v, std::span<const float> bias, std::span<float> out);

/// The same with bfloat16 Q, K, V given as bit patterns (toBFloat16), widened to float32 (Q tile
/// by tile, K and V once per head and thread: 2 K d floats of scratch per thread, 2 MiB at the
/// defaults); accumulation, the bias and O stay float32.
void forward(const AttentionParams& params, std::span<const std::uint16_t> q,
             std::span<const std::uint16_t> k, std::span<const std::uint16_t> v,
             std::span<const float> bias, std::span<float> out);

/// The bfloat16 bit pattern of X: its upper 16 bits after rounding to nearest, ties to even (a
/// NaN stays a quiet NaN, infinities stay infinite; a value beyond bfloat16's range becomes Inf).
std::uint16_t toBFloat16(float x);
/// The float32 that bfloat16 bits B stand for (exact: B in the upper half, zeros below).
float fromBFloat16(std::uint16_t b);

/// Times float32 C = A B with Eigen, A of ROWS x INNER and B of INNER x COLS (2 ROWS COLS INNER
/// floating-point operations), the columns of C split among THREADS OpenMP threads (0: OpenMP's
/// default): the machine's GEMM rate that the attention's tile products are measured against.
/// The matrices (random values) are made once, by the constructor.
class GemmTimer {
  public:
    GemmTimer(int rows, int cols, int inner, int threads = 0);
    ~GemmTimer();
    GemmTimer(const GemmTimer&) = delete;
    GemmTimer& operator=(const GemmTimer&) = delete;
    /// Milliseconds of one product.
    double runMs();
    /// 2 ROWS COLS INNER.
    double flops() const;

  private:
    struct Matrices;
    std::unique_ptr<Matrices> matrices_;
    int threads_;
};

} // namespace attnsteer::attention
