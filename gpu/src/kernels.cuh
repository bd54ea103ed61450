#pragma once
// Device code of the CUDA backend; included by cuda_backend.cu only.
//
// The per-row algebra is attnsteer/steering.h, which these kernels call: per row the lambda-free
// sums (RowSums), and per lambda S1 = sum E w, S2 = sum E x w, S3 = sum E w s~ (E = A + eps,
// x = log E, w = exp(lambda s~), s~ = s - max s), from which steering::metricsFromSums gives H(A'),
// KL and sum A' s. A row gets the bias where steering::isRowSteered says so (its head, its query,
// its H(A) against the entropy gate); the others keep A' = A (steering::unsteeredMetrics). The
// gate is this call's, read from the row statistics, so the moments stay valid across gates.
// Every per-row sum is accumulated in double. Reductions use fixed trees (butterfly
// shuffles, then the warps' partial sums in warp order), so results do not vary from run to run.
// The two paths of a lambda (attnsteer/chebyshev.h): moments (tileKernel<true> once, then
// seriesKernel per lambda) and exact (weightsKernel, then rowKernel or tileKernel<false>).
//
// Kernels, in launch order:
//   weightsKernel    w[k][l] and w[k][l] s~_k for one chunk of lambdas (K x ld, row-independent)
//   rowKernel<L, P>  one block per row, its values in registers (P per thread): softmax shift,
//                    lambda-free sums and, for L > 0, S1..S3 of up to L lambdas in the same pass
//                    (few lambdas: memory-bound, one read of the row from device memory)
//   tileKernel       many lambdas: a block computes S1..S3 for 32 rows x 64 lambdas as a small
//                    matrix product over K, with E, E x and w staged in shared memory; with
//                    kMoments, the same product against the Chebyshev basis T_j(t_k) gives the
//                    per-row moments M = E T and N = (E x) T
//   seriesKernel     a lambda from the moments: S1 = M f, S2 = N f, S3 = M g per row, with the
//                    lambda's series coefficients f and g; the values are not read
//   fallbackKernel   the (row, lambda) pairs whose S1 underflowed: H(A'), KL and sum A' s
//                    straight from A with the row's own shift (lambda in the hundreds, saliency
//                    maximum masked)
//   headSumKernel    per-head sums of the per-row results of a chunk of lambdas
//   originalSumKernel  per-head sums of the lambda-free results from the row statistics under
//                    this call's gate: H(A), sum A s, the rows steered
// (The random workload's generator is in generate.cu.)

#include "attnsteer/steering.h"

#include <cstdint>
#include <math.h>

namespace attnsteer::gpu::kernels {

constexpr int kWarpSize = 32;
constexpr int kBlockThreads = 256;
constexpr int kWarpsPerBlock = kBlockThreads / kWarpSize;
constexpr unsigned kFullMask = 0xffffffffu;
/// rowKernel handles up to this many lambdas in its single pass.
constexpr int kMaxRowLambdas = 8;
/// tileKernel: rows x lambdas per block, keys per shared-memory stage.
constexpr int kTileRows = 32;
constexpr int kTileLambdas = 64;
constexpr int kTileKeys = 16;
constexpr int kRowsPerThread = kTileRows / kWarpsPerBlock;  // 4
constexpr int kLambdasPerThread = kTileLambdas / kWarpSize; // 2

/// The lambda-free quantities of one row.
struct RowStats {
    double maxLogit;        ///< m = max_k Z_k (logits rows; 0 for attention rows)
    double logSum;          ///< log sum_k exp(Z_k - m)
    double invSum;          ///< 1 / sum_k exp(Z_k - m)
    steering::RowSums sums; ///< H(A), sum A x, sum A s~, sum A
};

/// The rows every steering kernel reads, which of them get the bias, and where their statistics
/// go.
struct Rows {
    const float* values; ///< H*Q*K logits or probabilities
    long long count;     ///< H*Q
    int queries;
    int keys;
    bool logits; ///< values are logits (A = softmax) rather than probabilities
    double eps;
    const double* shifted;               ///< s~ = s - max s, K values
    const double* saliency;              ///< s, K values
    double maxSaliency;                  ///< max s (s = s~ + max s)
    const unsigned char* steered;        ///< per head: 1 when the bias applies
    const unsigned char* steeredQueries; ///< per query: 0 keeps its rows; null: every query
    double gateNats;                     ///< the entropy gate: H(A) >= it passes; -inf: none
    RowStats* stats;                     ///< per row
};

/// One chunk of lambdas and where its per-row results go.
struct Chunk {
    const double* lambdas; ///< COUNT values
    int count;
    int ld;                       ///< lambda slots per key in the tables, per row in the results
    const double* weights;        ///< w[k * ld + l] = exp(lambda_l s~_k), 0 for l >= COUNT
    const double* weightsShifted; ///< w[k * ld + l] s~_k
    double* entropySteered;       ///< H(A') at [row * ld + l]
    double* kl;                   ///< KL(A||A') at [row * ld + l]
    double* expectationSteered;   ///< sum A' s at [row * ld + l]
    unsigned long long* fallback; ///< slots row * ld + l whose S1 underflowed
    int* fallbackCount;
};

/// COMBINE over the warp by a butterfly: lanes i and i^offset combine the same two values, so
/// every lane ends with the same bits.
template <typename T, typename Combine>
__device__ __forceinline__ T warpReduce(T value, Combine combine) {
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
        value = combine(value, __shfl_xor_sync(kFullMask, value, offset));
    return value;
}

template <typename T> __device__ __forceinline__ T warpSum(T value) {
    return warpReduce(value, [](T a, T b) { return a + b; });
}

/// COMBINE over the block (every thread must call it): the warps' results in warp order, so the
/// result does not vary from run to run; SCRATCH holds kWarpsPerBlock.
template <typename Combine>
__device__ __forceinline__ double blockReduce(double value, double* scratch, Combine combine) {
    value = warpReduce(value, combine);
    if (threadIdx.x % kWarpSize == 0)
        scratch[threadIdx.x / kWarpSize] = value;
    __syncthreads();
    double total = scratch[0];
    for (int warp = 1; warp < kWarpsPerBlock; ++warp)
        total = combine(total, scratch[warp]);
    __syncthreads();
    return total;
}

__device__ __forceinline__ double blockSum(double value, double* scratch) {
    return blockReduce(value, scratch, [](double a, double b) { return a + b; });
}

__device__ __forceinline__ double blockMax(double value, double* scratch) {
    return blockReduce(value, scratch, [](double a, double b) { return fmax(a, b); });
}

/// A_k and log A_k of one stored value.
struct Attention {
    double a;
    double logA; ///< -inf where A = 0
};

__device__ __forceinline__ Attention attentionOf(float value, bool logits, double maxLogit,
                                                 double logSum, double invSum) {
    if (logits) {
        const double shifted = double(value) - maxLogit;
        return {exp(shifted) * invSum, shifted - logSum};
    }
    return {double(value), log(double(value))};
}

/// What one element contributes: A, log A, x = log(A + eps), E = A + eps and E x (0 where E = 0).
struct Element {
    Attention at;
    double x;
    double e;
    double ex;
};

__device__ __forceinline__ Element elementOf(Attention at, double eps) {
    Element el;
    el.at = at;
    el.x = steering::shiftedLog(at.a, at.logA, eps);
    el.e = el.at.a + eps;
    el.ex = el.e > 0 ? el.e * el.x : 0.0;
    return el;
}

__device__ __forceinline__ Element prepareElement(float value, bool logits, double maxLogit,
                                                  double logSum, double invSum, double eps) {
    return elementOf(attentionOf(value, logits, maxLogit, logSum, invSum), eps);
}

/// Whether row ROW (statistics STATS) gets the bias in this call: its head is steered, its query
/// is not gated out and its H(A) passes the entropy gate.
__device__ __forceinline__ bool isRowSteered(const Rows& rows, long long row,
                                             const RowStats& stats) {
    return steering::isRowSteered(rows.steered[row / rows.queries] != 0,
                                  !rows.steeredQueries ||
                                      rows.steeredQueries[row % rows.queries] != 0,
                                  stats.sums.entropy, rows.gateNats);
}

/// sum A s of a row that keeps A' = A, from its statistics: the per-row term of the original
/// saliency expectation, and of the steered one for every row that is not steered (the same
/// bits, so that such rows add the same to both sums).
__device__ __forceinline__ double expectationOriginal(const Rows& rows, const RowStats& stats) {
    return steering::unsteeredMetrics(stats.sums, rows.maxSaliency).expectationShifted +
           rows.maxSaliency;
}

/// H(A'), KL and sum A' s of row ROW, lambda slot L of CHUNK, from its three sums (not read for
/// a row that is not steered).
__device__ __forceinline__ void finishRow(const Rows& rows, const Chunk& chunk, long long row,
                                          int l, const RowStats& stats, double s1, double s2,
                                          double s3) {
    const unsigned long long slot = (unsigned long long)row * chunk.ld + l;
    steering::SteeredMetrics out;
    if (!isRowSteered(rows, row, stats)) {
        out = steering::unsteeredMetrics(stats.sums, rows.maxSaliency);
    } else if (!steering::metricsFromSums(stats.sums, chunk.lambdas[l], s1, s2, s3, out)) {
        // S1 underflowed (lambda in the hundreds, the saliency maximum masked out) or overflowed
        // (lambda very negative: exp(lambda s~) = inf): fallbackKernel fills these, as the CPU
        // does.
        chunk.fallback[atomicAdd(chunk.fallbackCount, 1)] = slot;
        chunk.entropySteered[slot] = NAN;
        chunk.kl[slot] = NAN;
        chunk.expectationSteered[slot] = NAN;
        return;
    }
    chunk.entropySteered[slot] = out.entropy;
    chunk.kl[slot] = out.kl;
    chunk.expectationSteered[slot] = out.expectationShifted + rows.maxSaliency;
}

__global__ void weightsKernel(const double* shifted, int keys, Chunk chunk, double* weights,
                              double* weightsShifted) {
    const long long total = (long long)keys * chunk.ld;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        const int k = int(i / chunk.ld), l = int(i % chunk.ld);
        const double w = l < chunk.count ? exp(chunk.lambdas[l] * shifted[k]) : 0.0;
        weights[i] = w;
        weightsShifted[i] = w * shifted[k];
    }
}

/// Values of a row that each thread keeps in registers: rows of up to kBlockThreads * PER_THREAD
/// keys are read from memory once; longer rows (PER_THREAD = 0) are read once per pass.
constexpr int kPerThreadShort = 4; // K <= 1024
constexpr int kPerThreadLong = 16; // K <= 4096
constexpr int perThreadFor(int keys) {
    return keys <= kBlockThreads * kPerThreadShort  ? kPerThreadShort
           : keys <= kBlockThreads * kPerThreadLong ? kPerThreadLong
                                                    : 0;
}

/// One block per row. LAMBDAS = 0: the row's statistics only (tileKernel does the lambdas).
/// Passes: the largest logit, the softmax sum, then every per-row sum at once; one batched block
/// reduction at the end.
template <int kLambdas, int kPerThread>
__global__ void __launch_bounds__(kBlockThreads) rowKernel(Rows rows, Chunk chunk) {
    constexpr int kSums = 4 + 3 * kLambdas; // H(A), sum A x, sum A s~, sum A, then S1, S2, S3
    __shared__ double scratch[kWarpsPerBlock];
    __shared__ double partial[kWarpsPerBlock][kSums];
    __shared__ double total[kSums];
    const long long row = blockIdx.x;
    const int keys = rows.keys;
    const float* values = rows.values + row * keys;

    float cache[kPerThread > 0 ? kPerThread : 1];
    if constexpr (kPerThread > 0) {
#pragma unroll
        for (int j = 0; j < kPerThread; ++j) {
            const int k = threadIdx.x + j * kBlockThreads;
            cache[j] = k < keys ? values[k] : 0.0f;
        }
    }
    // F(value, k, j) for this thread's keys (j: the slot in the caches; 0 without them).
    auto forEachKey = [&](auto&& f) {
        if constexpr (kPerThread > 0) {
#pragma unroll
            for (int j = 0; j < kPerThread; ++j) {
                const int k = threadIdx.x + j * kBlockThreads;
                if (k < keys)
                    f(cache[j], k, j);
            }
        } else {
            for (int k = threadIdx.x; k < keys; k += kBlockThreads)
                f(values[k], k, 0);
        }
    };
    // exp(Z_k - m) of the softmax sum, kept for the sums below: one double exp per element
    // instead of two (the pass is bound by FP64 arithmetic, not memory). For short rows only:
    // 16 more doubles per thread would spill registers.
    constexpr bool kCacheExp = kPerThread > 0 && kPerThread <= kPerThreadShort;
    double expCache[kCacheExp ? kPerThread : 1] = {}; // zeroed: nvcc cannot see it is set first

    double maxLogit = 0, logSum = 0, invSum = 1;
    if (rows.logits) {
        float peak = -INFINITY;
        forEachKey([&](float value, int, int) { peak = fmaxf(peak, value); });
        maxLogit = blockMax(double(peak), scratch);
        double sum = 0;
        forEachKey([&](float value, int, int j) {
            const double u = exp(double(value) - maxLogit);
            if constexpr (kCacheExp)
                expCache[j] = u;
            sum += u;
        });
        sum = blockSum(sum, scratch);
        logSum = log(sum);
        invSum = 1.0 / sum;
    }

    double sums[kSums] = {};
    forEachKey([&](float value, int k, int j) {
        // As attentionOf computes it, from the cached exponential where there is one.
        const Attention at =
            kCacheExp && rows.logits
                ? Attention{expCache[j] * invSum, (double(value) - maxLogit) - logSum}
                : attentionOf(value, rows.logits, maxLogit, logSum, invSum);
        const Element el = elementOf(at, rows.eps);
        if (el.at.a > 0) {
            sums[0] -= el.at.a * el.at.logA;
            sums[1] += el.at.a * el.x;
        }
        sums[2] += el.at.a * rows.shifted[k];
        sums[3] += el.at.a;
#pragma unroll
        for (int l = 0; l < kLambdas; ++l) {
            if (l < chunk.count) {
                const double w = chunk.weights[(long long)k * kLambdas + l];
                const double ws = chunk.weightsShifted[(long long)k * kLambdas + l];
                sums[4 + l] += el.e * w;
                sums[4 + kLambdas + l] += el.ex * w;
                sums[4 + 2 * kLambdas + l] += el.e * ws;
            }
        }
    });
    const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
#pragma unroll
    for (int i = 0; i < kSums; ++i) {
        const double warpTotal = warpSum(sums[i]);
        if (lane == 0)
            partial[warp][i] = warpTotal;
    }
    __syncthreads();
    if (threadIdx.x < kSums) {
        double sum = 0;
        for (int w = 0; w < kWarpsPerBlock; ++w)
            sum += partial[w][threadIdx.x];
        total[threadIdx.x] = sum;
    }
    __syncthreads();

    const RowStats stats{maxLogit, logSum, invSum, {total[0], total[1], total[2], total[3]}};
    if (threadIdx.x == 0)
        rows.stats[row] = stats;
    const int l = threadIdx.x;
    if (l < kLambdas && l < chunk.count)
        finishRow(rows, chunk, row, l, stats, total[4 + l], total[4 + kLambdas + l],
                  total[4 + 2 * kLambdas + l]);
}

/// Where tileKernel<true> puts the moments: M_j of row r at m[j * rows + r], N_j likewise.
struct MomentsOut {
    double* m;
    double* n;
};

/// 32 rows x 64 lambdas per block (after rowKernel<0, P> has written the row statistics). Thread
/// (tx = lane, ty = warp) owns rows ty + 8i (i < 4) and lambdas tx + 32j (j < 2): a warp reads one
/// E value per row by broadcast and 32 consecutive w values per lambda, free of bank conflicts.
/// kMoments: CHUNK's weights are the Chebyshev basis (K x 64, terms past CHUNK.count zero) and
/// the products E T and (E x) T go to MOMENTS for every row, steered or not (the gate may change
/// between calls that use them). Otherwise a block none of whose rows is steered leaves early.
template <bool kMoments>
__global__ void __launch_bounds__(kBlockThreads, 2)
    tileKernel(Rows rows, Chunk chunk, MomentsOut moments) {
    __shared__ double eTile[kTileRows][kTileKeys];
    __shared__ double exTile[kTileRows][kTileKeys];
    __shared__ double wTile[kTileKeys][kTileLambdas];
    __shared__ double wsTile[kTileKeys][kTileLambdas];
    __shared__ double tileShift[kTileRows][3]; // maxLogit, logSum, invSum

    const int tx = threadIdx.x % kWarpSize, ty = threadIdx.x / kWarpSize;
    const long long firstRow = (long long)blockIdx.x * kTileRows;
    const int keys = rows.keys;

    bool anySteered = kMoments;
    for (int r = 0; r < kTileRows && !anySteered; ++r) {
        const long long row = firstRow + r;
        anySteered |= row < rows.count && isRowSteered(rows, row, rows.stats[row]);
    }
    if (!anySteered) { // the same for every thread: the whole block leaves
        for (int i = 0; i < kRowsPerThread; ++i) {
            const long long row = firstRow + ty + kWarpsPerBlock * i;
            for (int j = 0; j < kLambdasPerThread; ++j) {
                const int l = tx + kWarpSize * j;
                if (row < rows.count && l < chunk.count)
                    finishRow(rows, chunk, row, l, rows.stats[row], 0, 0, 0);
            }
        }
        return;
    }

    if (threadIdx.x < kTileRows) {
        const long long row = firstRow + threadIdx.x;
        const RowStats stats = row < rows.count ? rows.stats[row] : RowStats{0, 0, 1, {}};
        tileShift[threadIdx.x][0] = stats.maxLogit;
        tileShift[threadIdx.x][1] = stats.logSum;
        tileShift[threadIdx.x][2] = stats.invSum;
    }
    __syncthreads();

    double s1[kRowsPerThread][kLambdasPerThread] = {};
    double s2[kRowsPerThread][kLambdasPerThread] = {};
    double s3[kRowsPerThread][kLambdasPerThread] = {};
    for (int firstKey = 0; firstKey < keys; firstKey += kTileKeys) {
        for (int i = threadIdx.x; i < kTileRows * kTileKeys; i += kBlockThreads) {
            const int r = i / kTileKeys, kk = i % kTileKeys;
            const long long row = firstRow + r;
            const int k = firstKey + kk;
            double e = 0, ex = 0;
            if (row < rows.count && k < keys) {
                const Element el =
                    prepareElement(rows.values[row * keys + k], rows.logits, tileShift[r][0],
                                   tileShift[r][1], tileShift[r][2], rows.eps);
                e = el.e;
                ex = el.ex;
            }
            eTile[r][kk] = e;
            exTile[r][kk] = ex;
        }
        for (int i = threadIdx.x; i < kTileKeys * kTileLambdas; i += kBlockThreads) {
            const int kk = i / kTileLambdas, l = i % kTileLambdas;
            const int k = firstKey + kk;
            const bool inside = k < keys;
            wTile[kk][l] = inside ? chunk.weights[(long long)k * kTileLambdas + l] : 0.0;
            if constexpr (!kMoments)
                wsTile[kk][l] =
                    inside ? chunk.weightsShifted[(long long)k * kTileLambdas + l] : 0.0;
        }
        __syncthreads();
#pragma unroll 4
        for (int kk = 0; kk < kTileKeys; ++kk) {
            double e[kRowsPerThread], ex[kRowsPerThread], w[kLambdasPerThread],
                ws[kLambdasPerThread];
#pragma unroll
            for (int i = 0; i < kRowsPerThread; ++i) {
                e[i] = eTile[ty + kWarpsPerBlock * i][kk];
                ex[i] = exTile[ty + kWarpsPerBlock * i][kk];
            }
#pragma unroll
            for (int j = 0; j < kLambdasPerThread; ++j) {
                w[j] = wTile[kk][tx + kWarpSize * j];
                ws[j] = kMoments ? 0.0 : wsTile[kk][tx + kWarpSize * j];
            }
#pragma unroll
            for (int i = 0; i < kRowsPerThread; ++i)
#pragma unroll
                for (int j = 0; j < kLambdasPerThread; ++j) {
                    s1[i][j] += e[i] * w[j];
                    s2[i][j] += ex[i] * w[j];
                    if constexpr (!kMoments)
                        s3[i][j] += e[i] * ws[j];
                }
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
        const long long row = firstRow + ty + kWarpsPerBlock * i;
        if (row >= rows.count)
            continue;
        if constexpr (kMoments) {
#pragma unroll
            for (int j = 0; j < kLambdasPerThread; ++j) {
                const int term = tx + kWarpSize * j;
                if (term < chunk.count) {
                    moments.m[(long long)term * rows.count + row] = s1[i][j];
                    moments.n[(long long)term * rows.count + row] = s2[i][j];
                }
            }
        } else {
            const RowStats stats = rows.stats[row];
#pragma unroll
            for (int j = 0; j < kLambdasPerThread; ++j) {
                const int l = tx + kWarpSize * j;
                if (l < chunk.count)
                    finishRow(rows, chunk, row, l, stats, s1[i][j], s2[i][j], s3[i][j]);
            }
        }
    }
}

/// The moments of every row and the series coefficients of one chunk of lambdas.
struct Series {
    const double* m; ///< M_j of row r at [j * rows + r]
    const double* n; ///< N_j likewise
    const double*
        f; ///< coefficients of e^{lambda u}: lambda l of the chunk, term j at [l * ld + j]
    const double* g; ///< coefficients of u e^{lambda u}, likewise
    int ld;          ///< coefficients per lambda
    int terms;       ///< terms summed (those past it are below rounding for every lambda)
};

/// Lambdas per pass over a row's moments in seriesKernel (registers: 3 sums each).
constexpr int kSeriesGroup = 8;
/// seriesKernel's block: one thread per row and nothing shared, so small blocks, to spread the
/// 32K rows of the default size over every multiprocessor (256 blocks of 128).
constexpr int kSeriesThreads = 128;

/// One thread per row (grid-stride): S1..S3 of every lambda of CHUNK from the row's moments, then
/// H(A'), KL and sum A' s. Consecutive threads read consecutive rows of each moment: coalesced.
/// A row that is not steered skips the series.
__global__ void __launch_bounds__(kSeriesThreads)
    seriesKernel(Rows rows, Chunk chunk, Series series) {
    for (long long row = blockIdx.x * (long long)blockDim.x + threadIdx.x; row < rows.count;
         row += (long long)gridDim.x * blockDim.x) {
        const RowStats stats = rows.stats[row];
        if (!isRowSteered(rows, row, stats)) {
            for (int l = 0; l < chunk.count; ++l)
                finishRow(rows, chunk, row, l, stats, 0, 0, 0);
            continue;
        }
        for (int first = 0; first < chunk.count; first += kSeriesGroup) {
            double s1[kSeriesGroup] = {}, s2[kSeriesGroup] = {}, s3[kSeriesGroup] = {};
            // Unrolled so that the loads of two terms are in flight at once: with one thread
            // per row there are few warps to hide the latency of device memory.
#pragma unroll 2
            for (int j = 0; j < series.terms; ++j) {
                const double m = series.m[(long long)j * rows.count + row];
                const double n = series.n[(long long)j * rows.count + row];
#pragma unroll
                for (int i = 0; i < kSeriesGroup; ++i) {
                    if (first + i < chunk.count) { // the same for the whole warp: no divergence
                        const double f = series.f[(first + i) * series.ld + j];
                        const double g = series.g[(first + i) * series.ld + j];
                        s1[i] += f * m;
                        s2[i] += f * n;
                        s3[i] += g * m;
                    }
                }
            }
#pragma unroll
            for (int i = 0; i < kSeriesGroup; ++i)
                if (first + i < chunk.count)
                    finishRow(rows, chunk, row, first + i, stats, s1[i], s2[i], s3[i]);
        }
    }
}

/// One block per (row, lambda) slot of the fallback list (grid-stride over the list); the rows
/// there are steered ones.
__global__ void __launch_bounds__(kBlockThreads) fallbackKernel(Rows rows, Chunk chunk) {
    __shared__ double scratch[kWarpsPerBlock];
    const int count = *chunk.fallbackCount;
    const int keys = rows.keys;
    for (int item = blockIdx.x; item < count; item += gridDim.x) {
        const unsigned long long slot = chunk.fallback[item];
        const long long row = (long long)(slot / chunk.ld);
        const double lambda = chunk.lambdas[slot % chunk.ld];
        const RowStats stats = rows.stats[row];
        const float* values = rows.values + row * keys;
        auto attention = [&](int k) {
            return attentionOf(values[k], rows.logits, stats.maxLogit, stats.logSum, stats.invSum);
        };
        auto logit = [&](const Attention& at, int k) {
            return steering::steeredLogit(at.a, rows.eps, lambda, rows.saliency[k]);
        };
        // As steering::steeredRowMetrics, with the keys shared among the block's threads.
        double peak = -INFINITY;
        for (int k = threadIdx.x; k < keys; k += kBlockThreads)
            peak = fmax(peak, logit(attention(k), k));
        peak = blockMax(peak, scratch);
        double sum = 0;
        for (int k = threadIdx.x; k < keys; k += kBlockThreads)
            sum += exp(logit(attention(k), k) - peak);
        sum = blockSum(sum, scratch);
        const double logNormalizer = log(sum) + peak;
        steering::SteeredMetrics out;
        for (int k = threadIdx.x; k < keys; k += kBlockThreads) {
            const Attention at = attention(k);
            const double z = logit(at, k);
            steering::addSteeredTerms(at.a, at.logA, exp(z - peak) / sum, z - logNormalizer,
                                      rows.shifted[k], out);
        }
        const double entropy = blockSum(out.entropy, scratch);
        const double kl = blockSum(out.kl, scratch);
        const double expectation = blockSum(out.expectationShifted, scratch);
        if (threadIdx.x == 0) {
            chunk.entropySteered[slot] = entropy;
            chunk.kl[slot] = kl;
            chunk.expectationSteered[slot] = expectation + rows.maxSaliency;
        }
    }
}

/// The sum over the QUERIES rows of a head of VALUE(q), by one tree for every per-head sum
/// (each thread its queries in order, then blockSum): sums of the same per-row values have the
/// same bits, so a head none of whose rows is steered gets H(A') = H(A) and sum A' s = sum A s
/// exactly. Every thread of the block must call it; the result is thread 0's.
template <typename Value>
__device__ __forceinline__ double headSum(int queries, double* scratch, Value value) {
    double sum = 0;
    for (int q = threadIdx.x; q < queries; q += kBlockThreads)
        sum += value(q);
    return blockSum(sum, scratch);
}

/// Where per-head sums go: head h, lambda l of a chunk at [h * ld + offset + l] of each array.
struct HeadSumsOut {
    double* entropySteered;
    double* kl;
    double* expectationSteered;
    int ld;
    int offset;
};

/// The per-head sums of CHUNK's per-row H(A'), KL and sum A' s over the QUERIES rows of each
/// head; grid (heads, lambdas of the chunk).
__global__ void __launch_bounds__(kBlockThreads)
    headSumKernel(Chunk chunk, int queries, HeadSumsOut out) {
    __shared__ double scratch[kWarpsPerBlock];
    const int head = blockIdx.x, l = blockIdx.y;
    const long long first = (long long)head * queries;
    auto sumOf = [&](const double* perRow) {
        return headSum(queries, scratch, [&](int q) { return perRow[(first + q) * chunk.ld + l]; });
    };
    const double entropy = sumOf(chunk.entropySteered);
    const double kl = sumOf(chunk.kl);
    const double expectation = sumOf(chunk.expectationSteered);
    if (threadIdx.x == 0) {
        const long long at = (long long)head * out.ld + out.offset + l;
        out.entropySteered[at] = entropy;
        out.kl[at] = kl;
        out.expectationSteered[at] = expectation;
    }
}

/// Per head (grid: heads), from the row statistics under this call's flags and gate: the sums
/// over its rows of H(A) into ENTROPY[h], of sum A s into EXPECTATION[h], and the rows steered
/// into ROWS_STEERED[h].
__global__ void __launch_bounds__(kBlockThreads)
    originalSumKernel(Rows rows, double* entropy, double* expectation, double* rowsSteered) {
    __shared__ double scratch[kWarpsPerBlock];
    const int head = blockIdx.x;
    const long long first = (long long)head * rows.queries;
    const double entropySum =
        headSum(rows.queries, scratch, [&](int q) { return rows.stats[first + q].sums.entropy; });
    const double expectationSum = headSum(rows.queries, scratch, [&](int q) {
        return expectationOriginal(rows, rows.stats[first + q]);
    });
    const double steeredSum = headSum(rows.queries, scratch, [&](int q) {
        return isRowSteered(rows, first + q, rows.stats[first + q]) ? 1.0 : 0.0;
    });
    if (threadIdx.x == 0) {
        entropy[head] = entropySum;
        expectation[head] = expectationSum;
        rowsSteered[head] = steeredSum;
    }
}

} // namespace attnsteer::gpu::kernels
