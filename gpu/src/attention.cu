// The fused attention forward of attnsteer/attention.h on the device: one pass over tiles of
// queries x keys with the online softmax and the optional per-key bias, float32 throughout.
//
// The products run on the FP32 cores, from tiles in shared memory, not on tensor cores (wmma or
// mma fragments): the CPU emulation of CUDA that the tests run this file on (gpu/emulation/) has
// no wmma, so a tensor-core kernel would reach the GPU untested; and the question here is what the
// bias adds next to the products, which the FP32 kernel answers as well (its products are slower,
// so the bias's share comes out smaller than with tensor cores: see the README).
//
// A block takes kQueries = 16 queries of one head, 128 threads: 8 threads per query. Per key tile
// (kKeys = 64 keys): the tile of K is loaded into shared memory; each thread computes 8 scores of
// its query (keys r, r + 8, ... for its lane r in the group of 8), adds the bias (one add per
// score) and masks; the group of 8 finds the row's maximum and sum with xor shuffles (the 8 lanes
// are contiguous in the warp); the probabilities go to shared memory; the tile of V replaces K
// there, and each thread accumulates d / 8 output dimensions (c = r, r + 8, ...). Rows of the
// tiles are padded to kDimPad = 129 floats so that the 8 keys a group reads at once fall in
// different banks. d is at most 128 (kMaxDim): Qwen2-VL's and most models' head dimension.
#include "attention_cuda.h"
#include "launch.cuh"

#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnsteer::gpu {
namespace {

constexpr int kQueries = 16;
constexpr int kKeys = 64;
constexpr int kGroup = 8; ///< threads per query
constexpr int kThreads = kQueries * kGroup;
constexpr int kMaxDim = AttentionDeviceArgs::kMaxDim;
constexpr int kDimPad = kMaxDim + 1;
constexpr int kScoresPerThread = kKeys / kGroup;
constexpr int kDimsPerThread = kMaxDim / kGroup;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ __host__ inline int smaller(int a, int b) {
    return a < b ? a : b;
}

__global__ void __launch_bounds__(kThreads) attentionKernel(AttentionDeviceArgs a) {
    __shared__ float qTile[kQueries * kDimPad];
    __shared__ float kvTile[kKeys * kDimPad];
    __shared__ float pTile[kQueries * (kKeys + 1)];

    const int tid = int(threadIdx.x), row = tid / kGroup, lane = tid % kGroup;
    const int head = int(blockIdx.y), q0 = int(blockIdx.x) * kQueries;
    const int d = a.headDim;
    const float* qHead = a.q + std::size_t(head) * a.queries * d;
    const float* kHead = a.k + std::size_t(head) * a.keys * d;
    const float* vHead = a.v + std::size_t(head) * a.keys * d;
    const int offset = a.keys - a.queries;
    const int query = q0 + row;

    // The query tile, scaled (d multiplies per query instead of K); rows beyond Q are zeros.
    for (int e = tid; e < kQueries * d; e += kThreads) {
        const int i = e / d, c = e % d;
        qTile[i * kDimPad + c] =
            q0 + i < a.queries ? qHead[std::size_t(q0 + i) * d + c] * a.scale : 0.0f;
    }
    float acc[kDimsPerThread];
    for (int j = 0; j < kDimsPerThread; ++j)
        acc[j] = 0.0f;
    float runningMax = -INFINITY, runningSum = 0.0f;
    const int lastQuery = smaller(q0 + kQueries, a.queries) - 1;
    const int endKey = a.causal ? smaller(a.keys, lastQuery + offset + 1) : a.keys;
    // The last key this thread's query sees (all of them without the mask; -1 for no query).
    const int lastVisible = query < a.queries ? (a.causal ? query + offset : a.keys - 1) : -1;

    for (int k0 = 0; k0 < endKey; k0 += kKeys) {
        const int cols = smaller(kKeys, endKey - k0);
        __syncthreads(); // the previous tile's V and P are no longer read
        for (int e = tid; e < kKeys * d; e += kThreads) {
            const int i = e / d, c = e % d;
            kvTile[i * kDimPad + c] = i < cols ? kHead[std::size_t(k0 + i) * d + c] : 0.0f;
        }
        __syncthreads();
        float scores[kScoresPerThread];
        float tileMax = -INFINITY;
        for (int j = 0; j < kScoresPerThread; ++j) {
            const int kk = lane + kGroup * j, key = k0 + kk;
            float dot = 0.0f;
            for (int c = 0; c < d; ++c)
                dot += qTile[row * kDimPad + c] * kvTile[kk * kDimPad + c];
            if (a.bias)
                dot += a.bias[smaller(key, a.keys - 1)]; // lambda s_k, one add per score
            scores[j] = kk < cols && key <= lastVisible ? dot : -INFINITY;
            tileMax = fmaxf(tileMax, scores[j]);
        }
        for (int mask = 1; mask < kGroup; mask <<= 1)
            tileMax = fmaxf(tileMax, __shfl_xor_sync(kFullMask, tileMax, mask));
        const float newMax = fmaxf(runningMax, tileMax);
        // A row with no visible key so far (only rows beyond Q) keeps everything at 0.
        const float alpha = newMax == -INFINITY ? 1.0f : expf(runningMax - newMax);
        float tileSum = 0.0f;
        for (int j = 0; j < kScoresPerThread; ++j) {
            const float p = scores[j] == -INFINITY ? 0.0f : expf(scores[j] - newMax);
            pTile[row * (kKeys + 1) + lane + kGroup * j] = p;
            tileSum += p;
        }
        for (int mask = 1; mask < kGroup; mask <<= 1)
            tileSum += __shfl_xor_sync(kFullMask, tileSum, mask);
        runningSum = runningSum * alpha + tileSum;
        runningMax = newMax;
        __syncthreads(); // every score has read K
        for (int e = tid; e < kKeys * d; e += kThreads) {
            const int i = e / d, c = e % d;
            kvTile[i * kDimPad + c] = i < cols ? vHead[std::size_t(k0 + i) * d + c] : 0.0f;
        }
        __syncthreads();
        for (int j = 0; j < kDimsPerThread; ++j) {
            const int c = lane + kGroup * j;
            if (c >= d)
                break;
            float sum = acc[j] * alpha;
            for (int kk = 0; kk < cols; ++kk)
                sum += pTile[row * (kKeys + 1) + kk] * kvTile[kk * kDimPad + c];
            acc[j] = sum;
        }
    }
    if (query < a.queries)
        for (int j = 0; j < kDimsPerThread; ++j) {
            const int c = lane + kGroup * j;
            if (c >= d)
                break;
            a.out[(std::size_t(head) * a.queries + query) * d + c] = acc[j] / runningSum;
        }
}

} // namespace

void launchAttention(const AttentionDeviceArgs& args, cudaStream_t stream) {
    const dim3 grid(unsigned((args.queries + kQueries - 1) / kQueries), unsigned(args.heads));
    launch(attentionKernel, grid, dim3(kThreads), stream, "attentionKernel", args);
}

namespace {

void check(cudaError_t error, const char* what) {
    if (error != cudaSuccess) {
        cudaGetLastError();
        throw DeviceError(std::string(what) + ": " + cudaGetErrorString(error));
    }
}

/// COUNT floats on the device, freed with it; out of memory is the DeviceError that says so.
class DeviceFloats {
  public:
    DeviceFloats(std::size_t count, const float* from, cudaStream_t stream) {
        const cudaError_t error = cudaMalloc(reinterpret_cast<void**>(&data_), count * 4);
        if (error == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            throw DeviceError("out of device memory (the attention inputs need " +
                              std::to_string((count * 4 + (1u << 20) - 1) >> 20) + " MiB more)");
        }
        check(error, "cudaMalloc");
        if (from)
            check(cudaMemcpyAsync(data_, from, count * 4, cudaMemcpyHostToDevice, stream),
                  "cudaMemcpyAsync");
    }
    ~DeviceFloats() { cudaFree(data_); }
    DeviceFloats(const DeviceFloats&) = delete;
    DeviceFloats& operator=(const DeviceFloats&) = delete;
    float* get() const { return data_; }

  private:
    float* data_ = nullptr;
};

class Stream {
  public:
    Stream() { check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "stream"); }
    ~Stream() { cudaStreamDestroy(stream_); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const { return stream_; }

  private:
    cudaStream_t stream_ = nullptr;
};

class EventPair {
  public:
    EventPair() {
        check(cudaEventCreate(&start_), "cudaEventCreate");
        check(cudaEventCreate(&end_), "cudaEventCreate");
    }
    ~EventPair() {
        cudaEventDestroy(start_);
        cudaEventDestroy(end_);
    }
    EventPair(const EventPair&) = delete;
    EventPair& operator=(const EventPair&) = delete;
    /// Milliseconds of what LAUNCH queues on STREAM, by events around it.
    template <typename F> double time(cudaStream_t stream, F&& launch) {
        check(cudaEventRecord(start_, stream), "cudaEventRecord");
        launch();
        check(cudaEventRecord(end_, stream), "cudaEventRecord");
        check(cudaStreamSynchronize(stream), "attentionKernel");
        float ms = 0;
        check(cudaEventElapsedTime(&ms, start_, end_), "cudaEventElapsedTime");
        return double(ms);
    }

  private:
    cudaEvent_t start_ = nullptr, end_ = nullptr;
};

void checkSize(const char* what, std::size_t actual, std::size_t expected) {
    if (actual != expected)
        throw std::invalid_argument(std::string("attention: ") + what + " holds " +
                                    std::to_string(actual) + " values, expected " +
                                    std::to_string(expected));
}

} // namespace

AttentionRuns timeAttention(const attention::AttentionParams& p, std::span<const float> q,
                            std::span<const float> k, std::span<const float> v,
                            std::span<const float> bias, std::span<float> out, int repetitions) {
    checkCudaAttention(p);
    static_assert(AttentionDeviceArgs::kMaxDim == kMaxCudaHeadDim);
    const std::size_t queryValues = std::size_t(p.heads) * p.queries * p.headDim;
    const std::size_t keyValues = std::size_t(p.heads) * p.keys * p.headDim;
    checkSize("Q", q.size(), queryValues);
    checkSize("K", k.size(), keyValues);
    checkSize("V", v.size(), keyValues);
    checkSize("O", out.size(), queryValues);
    if (!bias.empty())
        checkSize("the bias", bias.size(), std::size_t(p.keys));
    if (!isAvailable())
        throw settingError("backend", "cuda: " + unavailableReason());

    Stream stream;
    std::vector<float> scaledBias(bias.size());
    for (std::size_t i = 0; i < bias.size(); ++i)
        scaledBias[i] = p.lambda * bias[i];
    DeviceFloats dq(queryValues, q.data(), stream.get()), dk(keyValues, k.data(), stream.get()),
        dv(keyValues, v.data(), stream.get()), dOut(queryValues, nullptr, stream.get()),
        dBias(std::max<std::size_t>(bias.size(), 1), bias.empty() ? nullptr : scaledBias.data(),
              stream.get());
    AttentionDeviceArgs plain;
    plain.q = dq.get(), plain.k = dk.get(), plain.v = dv.get(), plain.out = dOut.get();
    plain.heads = p.heads, plain.queries = p.queries, plain.keys = p.keys;
    plain.headDim = p.headDim, plain.causal = p.causal;
    plain.scale = p.scale != 0 ? p.scale : 1.0f / std::sqrt(float(p.headDim));
    AttentionDeviceArgs steered = plain;
    steered.bias = dBias.get();

    AttentionRuns runs;
    EventPair events;
    const auto run = [&](const AttentionDeviceArgs& args, std::vector<double>* times) {
        const double ms = events.time(stream.get(), [&] { launchAttention(args, stream.get()); });
        if (times)
            times->push_back(ms);
    };
    if (repetitions > 0) {
        run(plain, nullptr); // warm-up
        if (!bias.empty())
            run(steered, nullptr);
        for (int r = 0; r < repetitions; ++r) {
            if (bias.empty()) {
                run(plain, &runs.plainMs);
            } else if (r % 2 == 0) {
                run(plain, &runs.plainMs);
                run(steered, &runs.steeredMs);
            } else {
                run(steered, &runs.steeredMs);
                run(plain, &runs.plainMs);
            }
        }
    }
    // O of the variant asked for, last.
    run(bias.empty() ? plain : steered, nullptr);
    check(cudaMemcpyAsync(out.data(), dOut.get(), queryValues * 4, cudaMemcpyDeviceToHost,
                          stream.get()),
          "cudaMemcpyAsync");
    check(cudaStreamSynchronize(stream.get()), "cudaStreamSynchronize");
    return runs;
}

void attentionForward(const attention::AttentionParams& params, std::span<const float> q,
                      std::span<const float> k, std::span<const float> v,
                      std::span<const float> bias, std::span<float> out) {
    timeAttention(params, q, k, v, bias, out, 0);
}

} // namespace attnsteer::gpu
