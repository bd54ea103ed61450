// The CUDA backend: device probe, resident workload, kernel launches, metrics on the host.
//
// evaluate() puts the workload's values on the device once per Workload::id() and keeps them there
// while lambda moves: a random workload is generated there (generate.cu), a file is uploaded. The
// per-row results stay on the device; per-head sums come back (HeadSums: 3 H + 3 H x L doubles),
// and the totals are formed on the host in head order as the CPU backend forms them. Which rows
// get the bias (the steered heads, the per-query flags, the entropy gate) is decided per call
// from the row statistics, so cached moments serve every gate. Which lambdas take the moments
// path and which the exact pass is chebyshev::planLambdas's choice, as on the CPU. A device that
// fails (out of memory, a failed launch or copy) throws DeviceError; the backend stays usable.
#include "cuda_backend.h"

#include "attnsteer/chebyshev.h"
#include "attnsteer/errors.h"

#include "generate.h"
#include "kernels.cuh"
#include "launch.cuh"

#include <cuda_runtime.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <optional>

namespace attnsteer::gpu {
namespace {

namespace k = kernels;

/// The DeviceError "WHAT: <CUDA's message>".
[[noreturn]] void fail(cudaError_t error, const char* what) {
    cudaGetLastError(); // a failed call leaves its error pending; the next launch must not see it
    throw DeviceError(std::string(what) + ": " + cudaGetErrorString(error));
}

void check(cudaError_t error, const char* what) {
    if (error != cudaSuccess)
        fail(error, what);
}

std::string mib(std::size_t bytes) {
    return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

struct Probe {
    bool available = false;
    std::string reason; ///< why not available
    std::string name;
    std::uint64_t memory = 0;
    int multiprocessors = 0;
};

bool driverLibraryPresent() {
    void* handle = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!handle)
        return false;
    dlclose(handle);
    return true;
}

Probe probeDevice() {
    Probe probe;
    int count = 0;
    const cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess) {
        cudaGetLastError();
        probe.reason = error == cudaErrorInsufficientDriver && !driverLibraryPresent()
                           ? "NVIDIA driver not found (libcuda.so.1)"
                           : std::string(cudaGetErrorString(error));
        return probe;
    }
    if (count < 1) {
        probe.reason = "no CUDA-capable device is detected";
        return probe;
    }
    cudaDeviceProp properties{};
    if (const cudaError_t e = cudaGetDeviceProperties(&properties, 0); e != cudaSuccess) {
        cudaGetLastError();
        probe.reason = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(e);
        return probe;
    }
    probe.name = properties.name;
    probe.memory = properties.totalGlobalMem;
    probe.multiprocessors = properties.multiProcessorCount;
    // The build carries sm_80 and sm_90 code and compute_90 PTX: older devices cannot run it.
    cudaFuncAttributes attributes{};
    if (const cudaError_t e = cudaFuncGetAttributes(&attributes, k::headSumKernel);
        e != cudaSuccess) {
        cudaGetLastError();
        probe.reason = probe.name + " (compute capability " + std::to_string(properties.major) +
                       "." + std::to_string(properties.minor) +
                       ") cannot run this build's kernels (sm_80, sm_90): " + cudaGetErrorString(e);
        return probe;
    }
    probe.available = true;
    return probe;
}

const Probe& probe() {
    static const Probe result = probeDevice();
    return result;
}

/// cudaMalloc'ed memory on the device.
struct DeviceMemory {
    static constexpr bool kOnDevice = true;
    static cudaError_t allocate(void** pointer, std::size_t bytes) {
        return cudaMalloc(pointer, bytes);
    }
    static void release(void* pointer) { cudaFree(pointer); }
};

/// Page-locked host memory: a copy from or to it is one asynchronous DMA transfer (pageable memory
/// is first copied by the driver into a staging buffer of its own, with the host waiting).
struct PinnedHostMemory {
    static constexpr bool kOnDevice = false;
    static cudaError_t allocate(void** pointer, std::size_t bytes) {
        return cudaMallocHost(pointer, bytes);
    }
    static void release(void* pointer) { cudaFreeHost(pointer); }
};

/// Memory that grows on demand and is kept between calls.
template <typename T, typename Memory = DeviceMemory> class Buffer {
  public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { release(); }

    T* data() const { return data_; }

    /// At least COUNT elements. Out of device memory: the DeviceError naming WHAT.
    T* reserve(std::size_t count, const char* what) {
        if (count <= capacity_)
            return data_;
        release();
        const std::size_t bytes = count * sizeof(T);
        void* pointer = nullptr;
        const cudaError_t error = Memory::allocate(&pointer, bytes);
        if (error == cudaErrorMemoryAllocation && Memory::kOnDevice) {
            cudaGetLastError();
            std::size_t free = 0, total = 0;
            cudaMemGetInfo(&free, &total);
            throw DeviceError("out of device memory (" + std::string(what) + " needs " +
                              mib(bytes) + ", " + mib(free) + " free of " + mib(total) + ")");
        }
        check(error, Memory::kOnDevice ? "cudaMalloc" : "cudaMallocHost");
        data_ = static_cast<T*>(pointer);
        capacity_ = count;
        return data_;
    }

    void release() {
        if (data_)
            Memory::release(data_);
        data_ = nullptr;
        capacity_ = 0;
    }

  private:
    T* data_ = nullptr;
    std::size_t capacity_ = 0;
};

template <typename T> using DeviceBuffer = Buffer<T>;
template <typename T> using PinnedBuffer = Buffer<T, PinnedHostMemory>;

/// Doubles that hold BYTES bytes.
constexpr std::size_t doublesFor(std::size_t bytes) {
    return (bytes + sizeof(double) - 1) / sizeof(double);
}

/// Where each input of one evaluation lies in the packed block that run() uploads in one copy:
/// s~ and s (K doubles each), the lambdas (the moments path's first), the series coefficients f
/// and g (kTerms per moments lambda each), one byte per head (1: steered), then one byte per query
/// (0: its rows keep A' = A) where the call has them.
struct InputLayout {
    std::size_t shifted, saliency, lambdas, f, g, steered, queries, doubles;
    InputLayout(std::size_t keys, std::size_t lambdaCount, std::size_t momentsCount,
                std::size_t heads, std::size_t queryFlags)
        : shifted(0), saliency(keys), lambdas(2 * keys), f(lambdas + lambdaCount),
          g(f + momentsCount * chebyshev::kTerms), steered(g + momentsCount * chebyshev::kTerms),
          queries(steered + doublesFor(heads)), doubles(queries + doublesFor(queryFlags)) {}
};

/// Where each result lies in the packed block that run() downloads in one copy: per head H(A),
/// sum A s and the rows steered, then H(A'), KL and sum A' s per head and lambda (head-major).
struct ResultLayout {
    std::size_t original, expectationOriginal, rowsSteered, steered, kl, expectationSteered,
        doubles;
    ResultLayout(std::size_t heads, std::size_t lambdaCount)
        : original(0), expectationOriginal(heads), rowsSteered(2 * heads), steered(3 * heads),
          kl(steered + heads * lambdaCount), expectationSteered(kl + heads * lambdaCount),
          doubles(expectationSteered + heads * lambdaCount) {}
};

/// Which workload the resident values are (ids are unique; the rest is belt and braces).
struct ResidentKey {
    std::uint64_t id = 0;
    int heads = 0, queries = 0, keys = 0;
    WorkloadSource source = WorkloadSource::RandomLogits;
    bool operator==(const ResidentKey&) const = default;
};

ResidentKey keyOf(const Workload& workload) {
    return {workload.id(), workload.heads(), workload.queries(), workload.keys(),
            workload.source()};
}

using RowKernel = void (*)(k::Rows, k::Chunk);

template <int kLambdas> RowKernel rowKernelWith(int perThread) {
    switch (perThread) {
    case k::kPerThreadShort:
        return k::rowKernel<kLambdas, k::kPerThreadShort>;
    case k::kPerThreadLong:
        return k::rowKernel<kLambdas, k::kPerThreadLong>;
    default:
        return k::rowKernel<kLambdas, 0>;
    }
}

/// rowKernel for LAMBDAS slots (0, 1, 2, 4 or 8) and PER_THREAD cached values.
RowKernel rowKernelFor(int lambdas, int perThread) {
    switch (lambdas) {
    case 0:
        return rowKernelWith<0>(perThread);
    case 1:
        return rowKernelWith<1>(perThread);
    case 2:
        return rowKernelWith<2>(perThread);
    case 4:
        return rowKernelWith<4>(perThread);
    default:
        return rowKernelWith<8>(perThread);
    }
}

int lambdaSlots(std::size_t lambdas) {
    if (lambdas > std::size_t(k::kMaxRowLambdas))
        return k::kTileLambdas;
    return int(std::bit_ceil(lambdas));
}

} // namespace

bool isAvailable() {
    return probe().available;
}
std::string unavailableReason() {
    return probe().available ? std::string() : probe().reason;
}
std::string deviceName() {
    return probe().available ? probe().name : probe().reason;
}
std::uint64_t deviceMemoryBytes() {
    return probe().available ? probe().memory : 0;
}

std::unique_ptr<Backend> makeCudaBackend(CudaBackendOptions options) {
    return std::make_unique<CudaBackend>(options);
}

struct CudaBackend::Impl {
    CudaBackendOptions options;
    std::mutex mutex;
    cudaStream_t stream = nullptr;
    cudaEvent_t started = nullptr, finished = nullptr;
    int fallbackBlocks = 1;
    double lastMs = 0;
    std::uint64_t lastBytes = 0;
    std::unique_ptr<Backend> cpu = makeCpuBackend(1); // row(): one row of K values

    DeviceBuffer<float> values;
    ResidentKey resident; // id 0: VALUES holds no workload
    DeviceBuffer<k::RowStats> stats;
    DeviceBuffer<double> entropySteered, kl, expectationSteered, weights, weightsShifted, inputs,
        results;
    PinnedBuffer<double> inputsHost, resultsHost;
    DeviceBuffer<unsigned long long> fallback;
    DeviceBuffer<int> fallbackCount;

    /// The Chebyshev moments of the resident values for one saliency and eps, with the row
    /// statistics of that saliency and eps (the exact pass writes STATS afresh every call). What
    /// depends on the steered heads, queries and gate is formed from them per call.
    struct MomentKey {
        ResidentKey workload;
        double eps;
        std::vector<double> saliency;
    };
    std::optional<MomentKey> momentsOf;
    DeviceBuffer<double> momentsM, momentsN, basis;
    DeviceBuffer<k::RowStats> momentStats;
    PinnedBuffer<double> basisHost;

    /// Makes room for WORKLOAD's values unless they are resident (forgetting the moments of the
    /// old ones); true when fillValues() must follow.
    bool reserveValues(const Workload& workload);
    /// Puts WORKLOAD's values on the device: generated there, or uploaded; now resident.
    void fillValues(const Workload& workload);
    /// Rows of the resident workload under PARAMS whose statistics go to STATS; INPUTS on the
    /// device, laid out as IN.
    k::Rows rowsOf(const Workload& workload, const SteeringParams& params, double maxSaliency,
                   const double* inputs, const InputLayout& in, k::RowStats* stats) const;
    /// Whether the moments of the resident values for SALIENCY and EPS are there.
    bool momentsCurrent(std::span<const double> saliency, double eps) const;
    /// The host's part of computing moments: the buffers, and the Chebyshev basis of the shifted
    /// saliency SHIFTED in pinned memory.
    void prepareMoments(std::size_t rowCount, std::span<const double> shifted);
    /// The device's part: uploads the basis, runs the moment kernels over ROWS (whose statistics
    /// go to the moments' own buffers); then the moments are current for SALIENCY and EPS.
    void computeMoments(const k::Rows& rows, std::span<const double> saliency, double eps);
    std::vector<Metrics> run(const Workload& workload, std::span<const double> saliency,
                             std::span<const double> lambdas, const SteeringParams& params,
                             const std::vector<unsigned char>& steeredHeads,
                             const RunControl& control,
                             std::chrono::steady_clock::time_point wallStart);
};

CudaBackend::CudaBackend(CudaBackendOptions options) {
    if (!isAvailable())
        throw settingError("backend", "cuda: " + unavailableReason());
    impl_ = std::make_unique<Impl>();
    impl_->options = options;
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaEventCreate(&impl_->started), "cudaEventCreate");
    check(cudaEventCreate(&impl_->finished), "cudaEventCreate");
    impl_->fallbackBlocks = std::max(1, 2 * probe().multiprocessors);
}

CudaBackend::~CudaBackend() {
    if (!impl_)
        return;
    cudaSetDevice(0);
    if (impl_->stream)
        cudaStreamSynchronize(impl_->stream);
    if (impl_->started)
        cudaEventDestroy(impl_->started);
    if (impl_->finished)
        cudaEventDestroy(impl_->finished);
    if (impl_->stream)
        cudaStreamDestroy(impl_->stream);
}

bool CudaBackend::Impl::reserveValues(const Workload& workload) {
    if (keyOf(workload) == resident)
        return false;
    resident = {};
    momentsOf.reset();
    values.reserve(workload.rowCount() * std::size_t(workload.keys()), "the workload");
    return true;
}

void CudaBackend::Impl::fillValues(const Workload& workload) {
    if (workload.isGenerated()) {
        const WorkloadSpec& spec = workload.spec();
        launchGenerateLogits(spec.seed, spec.logitStd,
                             workload.rowCount() * (unsigned long long)workload.keys(),
                             values.data(), stream);
    } else {
        const std::size_t rows = workload.rowCount(), keys = std::size_t(workload.keys());
        // Through a host buffer of at most 64 MiB (the workload hands out copies of its rows).
        const std::size_t rowsPerCopy = std::max<std::size_t>(1, (std::size_t(16) << 20) / keys);
        std::vector<float> staging(std::min(rows, rowsPerCopy) * keys);
        for (std::size_t first = 0; first < rows; first += rowsPerCopy) {
            const std::size_t count = std::min(rowsPerCopy, rows - first);
            workload.fillRows(first, count, staging.data());
            // From pageable memory: returns once STAGING has been copied out, so it can be reused.
            check(cudaMemcpyAsync(values.data() + first * keys, staging.data(),
                                  count * keys * sizeof(float), cudaMemcpyHostToDevice, stream),
                  "upload of the workload");
        }
    }
    resident = keyOf(workload);
}

k::Rows CudaBackend::Impl::rowsOf(const Workload& workload, const SteeringParams& params,
                                  double maxSaliency, const double* device, const InputLayout& in,
                                  k::RowStats* rowStats) const {
    return k::Rows{values.data(),
                   (long long)workload.rowCount(),
                   workload.queries(),
                   workload.keys(),
                   workload.holdsLogits(),
                   params.eps,
                   device + in.shifted,
                   device + in.saliency,
                   maxSaliency,
                   reinterpret_cast<const unsigned char*>(device + in.steered),
                   params.steeredQueries.empty()
                       ? nullptr
                       : reinterpret_cast<const unsigned char*>(device + in.queries),
                   gateNats(params, workload.keys()),
                   rowStats};
}

bool CudaBackend::Impl::momentsCurrent(std::span<const double> saliency, double eps) const {
    return momentsOf && momentsOf->workload == resident && momentsOf->eps == eps &&
           std::equal(saliency.begin(), saliency.end(), momentsOf->saliency.begin(),
                      momentsOf->saliency.end());
}

void CudaBackend::Impl::prepareMoments(std::size_t rowCount, std::span<const double> shifted) {
    momentsOf.reset();
    const std::size_t keys = shifted.size();
    momentsM.reserve(rowCount * chebyshev::kTerms, "the moments");
    momentsN.reserve(rowCount * chebyshev::kTerms, "the moments");
    momentStats.reserve(rowCount, "row statistics");
    basis.reserve(keys * k::kTileLambdas, "the Chebyshev basis");
    // T_j(t_k) as tileKernel reads weights: K x 64, terms past kTerms zero.
    double* table = basisHost.reserve(keys * k::kTileLambdas, "the Chebyshev basis");
    std::fill_n(table, keys * k::kTileLambdas, 0.0);
    chebyshev::Range(*std::min_element(shifted.begin(), shifted.end()))
        .basis(shifted, table, k::kTileLambdas, 1);
}

void CudaBackend::Impl::computeMoments(const k::Rows& rows, std::span<const double> saliency,
                                       double eps) {
    const std::size_t rowCount = std::size_t(rows.count), keys = std::size_t(rows.keys);
    check(cudaMemcpyAsync(basis.data(), basisHost.data(), keys * k::kTileLambdas * sizeof(double),
                          cudaMemcpyHostToDevice, stream),
          "upload of the Chebyshev basis");
    const k::Chunk basisChunk{nullptr, chebyshev::kTerms, k::kTileLambdas, basis.data(), nullptr,
                              nullptr, nullptr,           nullptr,         nullptr,      nullptr};
    launch(rowKernelFor(0, k::perThreadFor(rows.keys)), unsigned(rowCount), k::kBlockThreads,
           stream, "rowKernel", rows, basisChunk);
    launch(k::tileKernel<true>, unsigned((rowCount + k::kTileRows - 1) / k::kTileRows),
           k::kBlockThreads, stream, "tileKernel", rows, basisChunk,
           k::MomentsOut{momentsM.data(), momentsN.data()});
    momentsOf = MomentKey{resident, eps, std::vector<double>(saliency.begin(), saliency.end())};
}

std::vector<Metrics>
CudaBackend::Impl::run(const Workload& workload, std::span<const double> saliencyIn,
                       std::span<const double> lambdaList, const SteeringParams& params,
                       const std::vector<unsigned char>& steeredHeads, const RunControl& control,
                       std::chrono::steady_clock::time_point wallStart) {
    const std::size_t heads = std::size_t(workload.heads());
    const int queries = workload.queries();
    const std::size_t rows = heads * std::size_t(queries);
    const std::size_t keys = std::size_t(workload.keys());
    const std::size_t lambdaCount = lambdaList.size();
    const double saliencyMax = *std::max_element(saliencyIn.begin(), saliencyIn.end());
    const chebyshev::Range range(*std::min_element(saliencyIn.begin(), saliencyIn.end()) -
                                 saliencyMax);

    // The moments path's lambdas (their moments computed once per workload, saliency and eps),
    // then the exact pass's. ORDER: the caller's index of each, as the inputs and results hold
    // them. The worst-row plan: the kernels do not check rows one by one (the CPU does, and takes
    // the moments path to larger lambdas).
    const chebyshev::LambdaPlan plan =
        chebyshev::planLambdas(lambdaList, range, options.useMoments);
    std::vector<std::size_t> order = plan.moments;
    order.insert(order.end(), plan.exact.begin(), plan.exact.end());
    const std::size_t momentsCount = plan.moments.size(), exactCount = plan.exact.size();
    const InputLayout in(keys, lambdaCount, momentsCount, heads, params.steeredQueries.size());
    const ResultLayout out(heads, lambdaCount);

    // A call that threw may have left copies from the pinned buffers in flight.
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    // Host work comes before the first event, so that the device time is the device's: the
    // inputs packed for one upload (s~ = s - max s on the host, as the CPU computes it), the
    // allocations, the Chebyshev basis.
    double* staged = inputsHost.reserve(in.doubles, "the saliency and lambdas");
    double* downloaded = resultsHost.reserve(out.doubles, "per-head sums");
    for (std::size_t i = 0; i < keys; ++i) {
        staged[in.shifted + i] = saliencyIn[i] - saliencyMax;
        staged[in.saliency + i] = saliencyIn[i];
    }
    for (std::size_t i = 0; i < lambdaCount; ++i)
        staged[in.lambdas + i] = lambdaList[order[i]];
    std::copy(plan.f.begin(), plan.f.end(), staged + in.f);
    std::copy(plan.g.begin(), plan.g.end(), staged + in.g);
    std::memcpy(staged + in.steered, steeredHeads.data(), heads);
    if (!params.steeredQueries.empty())
        std::memcpy(staged + in.queries, params.steeredQueries.data(),
                    params.steeredQueries.size());

    const int momentsLd = momentsCount ? lambdaSlots(momentsCount) : 0;
    const int exactLd = exactCount ? lambdaSlots(exactCount) : 0;
    const std::size_t ld = std::size_t(std::max(momentsLd, exactLd));
    // The largest allocation first: it is the one that may not fit.
    const bool newValues = reserveValues(workload);
    entropySteered.reserve(rows * ld, "per-row entropies");
    kl.reserve(rows * ld, "per-row divergences");
    expectationSteered.reserve(rows * ld, "per-row saliency expectations");
    fallback.reserve(rows * ld, "the fallback list");
    fallbackCount.reserve(1, "the fallback list");
    inputs.reserve(in.doubles, "the saliency and lambdas");
    results.reserve(out.doubles, "per-head sums");
    if (exactCount) {
        stats.reserve(rows, "row statistics");
        weights.reserve(keys * std::size_t(exactLd), "the weight table");
        weightsShifted.reserve(keys * std::size_t(exactLd), "the weight table");
    }
    const bool newMoments = momentsCount > 0 && !momentsCurrent(saliencyIn, params.eps);
    if (newMoments)
        prepareMoments(rows, std::span<const double>(staged + in.shifted, keys));

    check(cudaEventRecord(started, stream), "cudaEventRecord");
    if (newValues)
        fillValues(workload); // a file's rows are staged on the host as they go up
    check(cudaMemcpyAsync(inputs.data(), staged, in.doubles * sizeof(double),
                          cudaMemcpyHostToDevice, stream),
          "upload of the saliency and lambdas");

    const double* lambdas = inputs.data() + in.lambdas;
    const k::Rows exactRows =
        rowsOf(workload, params, saliencyMax, inputs.data(), in, stats.data());
    auto chunkAt = [&](std::size_t first, int chunkLd, std::size_t sectionEnd) {
        return k::Chunk{lambdas + first,
                        int(std::min<std::size_t>(std::size_t(chunkLd), sectionEnd - first)),
                        chunkLd,
                        weights.data(),
                        weightsShifted.data(),
                        entropySteered.data(),
                        kl.data(),
                        expectationSteered.data(),
                        fallback.data(),
                        fallbackCount.data()};
    };
    const bool tiled = exactCount > std::size_t(k::kMaxRowLambdas);
    const std::size_t momentsChunks = momentsCount ? (momentsCount + momentsLd - 1) / momentsLd : 0;
    const std::size_t exactChunks = !exactCount ? 0
                                    : tiled     ? (exactCount + exactLd - 1) / exactLd
                                                : 1;
    const std::size_t chunks = momentsChunks + exactChunks;
    std::size_t chunksDone = 0;
    // After the per-row results of the chunk of lambdas from FIRST on: the rows whose S1
    // underflowed, the per-head sums, then progress and cancellation.
    auto finishChunk = [&](const k::Rows& rowArgs, const k::Chunk& chunk, std::size_t first) {
        launch(k::fallbackKernel, unsigned(fallbackBlocks), k::kBlockThreads, stream,
               "fallbackKernel", rowArgs, chunk);
        launch(k::headSumKernel, dim3(unsigned(heads), unsigned(chunk.count)), k::kBlockThreads,
               stream, "headSumKernel", chunk, queries,
               k::HeadSumsOut{results.data() + out.steered, results.data() + out.kl,
                              results.data() + out.expectationSteered, int(lambdaCount),
                              int(first)});
        ++chunksDone;
        if (control.cancel || control.onProgress) {
            check(cudaStreamSynchronize(stream), "evaluation");
            if (control.cancel && control.cancel->load())
                throw Cancelled();
            if (control.onProgress)
                control.onProgress(double(chunksDone) / double(chunks));
        }
    };

    // The rows whose statistics give the lambda-free sums: the exact pass's where it ran (they
    // equal the moments' bit for bit: the same kernel code computes both).
    k::Rows originalRows = exactRows;
    if (momentsCount) {
        k::Rows momentsRows = exactRows;
        momentsRows.stats = momentStats.data();
        if (newMoments)
            computeMoments(momentsRows, saliencyIn, params.eps);
        if (!exactCount)
            originalRows = momentsRows;
        const unsigned momentsBlocks = unsigned(
            std::min<std::size_t>((rows + k::kSeriesThreads - 1) / k::kSeriesThreads, 1u << 16));
        for (std::size_t first = 0; first < momentsCount; first += std::size_t(momentsLd)) {
            const k::Chunk chunk = chunkAt(first, momentsLd, momentsCount);
            check(cudaMemsetAsync(fallbackCount.data(), 0, sizeof(int), stream), "cudaMemset");
            const k::Series series{momentsM.data(),
                                   momentsN.data(),
                                   inputs.data() + in.f + first * chebyshev::kTerms,
                                   inputs.data() + in.g + first * chebyshev::kTerms,
                                   chebyshev::kTerms,
                                   plan.terms};
            launch(k::seriesKernel, momentsBlocks, k::kSeriesThreads, stream, "seriesKernel",
                   momentsRows, chunk, series);
            finishChunk(momentsRows, chunk, first);
        }
    }
    if (exactCount) {
        const unsigned tileBlocks = unsigned((rows + k::kTileRows - 1) / k::kTileRows);
        const unsigned weightBlocks = unsigned(std::min<std::size_t>(
            (keys * std::size_t(exactLd) + k::kBlockThreads - 1) / k::kBlockThreads, 1u << 16));
        const int perThread = k::perThreadFor(int(keys));
        if (tiled) // the row statistics first; tileKernel reads them
            launch(rowKernelFor(0, perThread), unsigned(rows), k::kBlockThreads, stream,
                   "rowKernel", exactRows, chunkAt(momentsCount, exactLd, lambdaCount));
        for (std::size_t first = momentsCount; first < lambdaCount; first += std::size_t(exactLd)) {
            const k::Chunk chunk = chunkAt(first, exactLd, lambdaCount);
            launch(k::weightsKernel, weightBlocks, k::kBlockThreads, stream, "weightsKernel",
                   exactRows.shifted, int(keys), chunk, weights.data(), weightsShifted.data());
            check(cudaMemsetAsync(fallbackCount.data(), 0, sizeof(int), stream), "cudaMemset");
            if (tiled)
                launch(k::tileKernel<false>, tileBlocks, k::kBlockThreads, stream, "tileKernel",
                       exactRows, chunk, k::MomentsOut{nullptr, nullptr});
            else
                launch(rowKernelFor(exactLd, perThread), unsigned(rows), k::kBlockThreads, stream,
                       "rowKernel", exactRows, chunk);
            finishChunk(exactRows, chunk, first);
        }
    }
    launch(k::originalSumKernel, unsigned(heads), k::kBlockThreads, stream, "originalSumKernel",
           originalRows, results.data() + out.original, results.data() + out.expectationOriginal,
           results.data() + out.rowsSteered);

    check(cudaMemcpyAsync(downloaded, results.data(), out.doubles * sizeof(double),
                          cudaMemcpyDeviceToHost, stream),
          "download of the results");
    check(cudaEventRecord(finished, stream), "cudaEventRecord");
    check(cudaStreamSynchronize(stream), "evaluation");
    float deviceMs = 0;
    check(cudaEventElapsedTime(&deviceMs, started, finished), "cudaEventElapsedTime");
    lastMs = deviceMs;
    lastBytes = exactCount > 0 || newMoments ? rows * keys * sizeof(float) : 0;

    // Back to the caller's order of lambdas.
    HeadSums sums(heads, lambdaCount);
    for (std::size_t head = 0; head < heads; ++head) {
        sums.entropyOriginal[head] = downloaded[out.original + head];
        sums.expectationOriginal[head] = downloaded[out.expectationOriginal + head];
        sums.rowsSteered[head] = downloaded[out.rowsSteered + head];
        for (std::size_t i = 0; i < lambdaCount; ++i) {
            const std::size_t at = head * lambdaCount + order[i], from = head * lambdaCount + i;
            sums.entropySteered[at] = downloaded[out.steered + from];
            sums.kl[at] = downloaded[out.kl + from];
            sums.expectationSteered[at] = downloaded[out.expectationSteered + from];
        }
    }
    const double elapsedMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wallStart)
            .count();
    return metricsFromHeadSums(lambdaList, sums, queries, "cuda", elapsedMs);
}

std::vector<Metrics> CudaBackend::evaluate(const Workload& workload,
                                           std::span<const double> saliency,
                                           std::span<const double> lambdas,
                                           const SteeringParams& params,
                                           const RunControl& control) {
    const auto wallStart = std::chrono::steady_clock::now();
    const auto steered = checkSteeringInputs(workload, saliency, lambdas, params);
    if (control.cancel && control.cancel->load())
        throw Cancelled();
    if (lambdas.empty())
        return {};
    std::lock_guard lock(impl_->mutex);
    check(cudaSetDevice(0), "cudaSetDevice");
    return impl_->run(workload, saliency, lambdas, params, steered, control, wallStart);
}

std::vector<float> CudaBackend::generateLogits(const WorkloadSpec& spec) {
    const Workload workload = Workload::generate(spec); // its checks; it holds only the spec
    std::lock_guard lock(impl_->mutex);
    check(cudaSetDevice(0), "cudaSetDevice");
    if (impl_->reserveValues(workload))
        impl_->fillValues(workload);
    std::vector<float> out(workload.rowCount() * std::size_t(workload.keys()));
    check(cudaMemcpyAsync(out.data(), impl_->values.data(), out.size() * sizeof(float),
                          cudaMemcpyDeviceToHost, impl_->stream),
          "download of the logits");
    check(cudaStreamSynchronize(impl_->stream), "generation");
    return out;
}

TokenRow CudaBackend::row(const Workload& workload, std::span<const double> saliency,
                          const SteeringParams& params, int head, int query) {
    std::lock_guard lock(impl_->mutex);
    return impl_->cpu->row(workload, saliency, params, head, query);
}

double CudaBackend::lastDeviceMs() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->lastMs;
}

std::uint64_t CudaBackend::lastValueBytes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->lastBytes;
}

void CudaBackend::releaseDeviceMemory() {
    std::lock_guard lock(impl_->mutex);
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize");
    Impl& d = *impl_;
    d.resident = {};
    d.momentsOf.reset();
    d.values.release();
    d.stats.release();
    for (auto* buffer : {&d.entropySteered, &d.kl, &d.expectationSteered, &d.weights,
                         &d.weightsShifted, &d.inputs, &d.results})
        buffer->release();
    d.inputsHost.release();
    d.resultsHost.release();
    for (auto* buffer : {&d.momentsM, &d.momentsN, &d.basis})
        buffer->release();
    d.momentStats.release();
    d.basisHost.release();
    d.fallback.release();
    d.fallbackCount.release();
}

} // namespace attnsteer::gpu
