// CPU benchmarks, run by hand or by tests/bench/run-benchmarks (never by CTest). Sizes are
// 32 heads x N queries x N keys with N = 1024 (the write-up's default) and 4096; the
// straightforward version of the write-up's algorithm (whole-tensor Eigen passes in float32)
// runs in the same binary as the baseline. Report medians (--benchmark_repetitions).
#include "attnsteer/backend.h"
#include "attnsteer/saliency.h"
#include "attnsteer/straightforward.h"
#include "attnsteer/sweep.h"
#include "attnsteer/tensor_file.h"
#include "attnsteer/transformer_block.h"
#include "attnsteer/workload.h"

#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

using namespace attnsteer;

namespace {

WorkloadSpec specOf(const benchmark::State& state) {
    WorkloadSpec spec;
    spec.queries = spec.keys = int(state.range(0));
    return spec;
}

std::vector<double> saliencyOf(int keys) {
    return normalizeSaliency(randomSaliencyRaw(keys, 0), Normalization::Max).values;
}

/// The process's peak resident memory so far, in MB.
double peakMegabytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0;
}

/// A backend whose moments for (workload, saliency, eps) are already computed.
struct WarmBackend {
    Workload workload;
    std::vector<double> saliency;
    std::unique_ptr<Backend> backend = makeCpuBackend();
    explicit WarmBackend(const WorkloadSpec& spec)
        : workload(Workload::generate(spec)), saliency(saliencyOf(spec.keys)) {
        backend->evaluate(workload, saliency, SteeringParams{});
    }
};

} // namespace

/// What the slider costs: metrics of a new lambda plus the per-token row, workload cached.
static void BM_LambdaChange(benchmark::State& state) {
    WarmBackend warm(specOf(state));
    SteeringParams params;
    int step = 0;
    for (auto _ : state) {
        params.lambda = 0.2 + 0.001 * (step++ % 500);
        benchmark::DoNotOptimize(warm.backend->evaluate(warm.workload, warm.saliency, params));
        benchmark::DoNotOptimize(warm.backend->row(warm.workload, warm.saliency, params, 3, 17));
    }
}
BENCHMARK(BM_LambdaChange)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

/// 64 lambdas from 0 to 1 in one call, workload cached (the tradeoff curve).
static void BM_Sweep64(benchmark::State& state) {
    WarmBackend warm(specOf(state));
    const auto lambdas = parseLambdaList("0:1:0.015625");
    for (auto _ : state)
        benchmark::DoNotOptimize(
            warm.backend->evaluate(warm.workload, warm.saliency, lambdas, SteeringParams{}));
}
BENCHMARK(BM_Sweep64)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Cold start: a new workload and a new backend, then the first evaluation (generation of Z,
/// softmax, moments).
static void BM_ColdStart(benchmark::State& state) {
    const WorkloadSpec spec = specOf(state);
    const auto saliency = saliencyOf(spec.keys);
    for (auto _ : state) {
        auto backend = makeCpuBackend();
        const Workload workload = Workload::generate(spec);
        benchmark::DoNotOptimize(backend->evaluate(workload, saliency, SteeringParams{}));
    }
    state.counters["peak_MB"] = peakMegabytes();
}
BENCHMARK(BM_ColdStart)
    ->Arg(1024)
    ->Arg(2048)
    ->Arg(4096)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// 32 x 8192 x 8192 = 2.1 G elements: once, for the time and the constant-memory check (run it in
// a process of its own, peak_MB is the process's peak).
BENCHMARK(BM_ColdStart)->Arg(8192)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The per-token row alone.
static void BM_TokenRow(benchmark::State& state) {
    const WorkloadSpec spec = specOf(state);
    const Workload workload = Workload::generate(spec);
    const auto saliency = saliencyOf(spec.keys);
    auto backend = makeCpuBackend();
    for (auto _ : state)
        benchmark::DoNotOptimize(backend->row(workload, saliency, SteeringParams{}, 3, 17));
}
BENCHMARK(BM_TokenRow)->Arg(1024)->Arg(4096)->Unit(benchmark::kMicrosecond)->UseRealTime();

/// One lambda through the exact blocked pass (no moments): what a lambda beyond the moments'
/// range costs, and the issue-2 path.
static void BM_ExactPassOneLambda(benchmark::State& state) {
    const WorkloadSpec spec = specOf(state);
    const Workload workload = Workload::generate(spec);
    const auto saliency = saliencyOf(spec.keys);
    CpuBackendOptions options;
    options.useMoments = false;
    auto backend = makeCpuBackend(options);
    for (auto _ : state)
        benchmark::DoNotOptimize(backend->evaluate(workload, saliency, SteeringParams{}));
}
BENCHMARK(BM_ExactPassOneLambda)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Baseline: the write-up's algorithm as separate whole-tensor Eigen passes in float32, one
/// lambda, Z already generated (held by the function's first pass).
static void BM_StraightforwardFloat32(benchmark::State& state) {
    const WorkloadSpec spec = specOf(state);
    const Workload workload = Workload::generate(spec);
    const auto saliency = saliencyOf(spec.keys);
    for (auto _ : state)
        benchmark::DoNotOptimize(
            evaluateStraightforward<float>(workload, saliency, SteeringParams{}));
    state.counters["peak_MB"] = peakMegabytes();
}
BENCHMARK(BM_StraightforwardFloat32)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The write-up's default sweep: 9 lambdas x seeds 0, 1, 2, each seed a new workload.
static void BM_DefaultSweep(benchmark::State& state) {
    auto backend = makeCpuBackend();
    SweepConfig config;
    for (auto _ : state)
        benchmark::DoNotOptimize(runSweep(config, *backend));
}
BENCHMARK(BM_DefaultSweep)->Unit(benchmark::kMillisecond)->UseRealTime();

namespace {

/// The dumps BM_TensorFileRows reads: [L, H, Q, K] = [4, 8, 1024, 1024] float16 (64 MiB of data)
/// as .npy, as an .npz of one stored member (np.savez) and as .safetensors, written once into
/// $TMPDIR (else /tmp) by the C++ writers below and removed at exit.
constexpr std::size_t kDumpLayers = 4, kDumpHeads = 8, kDumpQueries = 1024, kDumpKeys = 1024;
constexpr std::size_t kDumpElements = kDumpLayers * kDumpHeads * kDumpQueries * kDumpKeys;

std::uint32_t crc32Of(const std::string& bytes) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t crc = 0xffffffffu;
    for (unsigned char byte : bytes)
        crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

/// Little-endian integers of SIZE bytes.
std::string le(std::uint64_t value, int size) {
    std::string out;
    for (int i = 0; i < size; ++i)
        out += char((value >> (8 * i)) & 0xff);
    return out;
}

struct DumpFiles {
    std::string npy, npz, safetensors;

    DumpFiles() {
        const char* env = std::getenv("TMPDIR");
        const std::string stem = std::string(env && *env ? env : "/tmp") + "/attnsteer-bench-" +
                                 std::to_string(::getpid());
        npy = stem + ".npy", npz = stem + ".npz", safetensors = stem + ".safetensors";

        // Attention-like float16 values in [0, 1) from a fixed LCG.
        std::string data(kDumpElements * 2, '\0');
        std::uint64_t state = 0x9e3779b97f4a7c15ull;
        for (std::size_t i = 0; i < kDumpElements; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const auto bits = std::uint16_t((state >> 33) % 0x3c00);
            data[2 * i] = char(bits & 0xff), data[2 * i + 1] = char(bits >> 8);
        }

        std::string dict = "{'descr': '<f2', 'fortran_order': False, 'shape': (" +
                           std::to_string(kDumpLayers) + ", " + std::to_string(kDumpHeads) + ", " +
                           std::to_string(kDumpQueries) + ", " + std::to_string(kDumpKeys) + "), }";
        dict.append((10 + dict.size() + 1 + 63) / 64 * 64 - 10 - dict.size() - 1, ' ');
        dict += '\n';
        const std::string npyBytes =
            std::string("\x93NUMPY\x01\x00", 8) + le(dict.size(), 2) + dict + data;
        std::ofstream(npy, std::ios::binary) << npyBytes;

        // A stored zip of one member, as np.savez writes it.
        const std::string name = "attentions.npy";
        const std::string sizes = le(crc32Of(npyBytes), 4) + le(npyBytes.size(), 4) +
                                  le(npyBytes.size(), 4) + le(name.size(), 2) + le(0, 2);
        const std::string local = le(0x04034b50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 2) +
                                  le(0x21, 2) + sizes + name;
        const std::string central = le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) +
                                    le(0, 2) + le(0, 2) + le(0x21, 2) + sizes + le(0, 2) +
                                    le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) + name;
        const std::string end = le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(1, 2) + le(1, 2) +
                                le(central.size(), 4) + le(local.size() + npyBytes.size(), 4) +
                                le(0, 2);
        std::ofstream(npz, std::ios::binary) << local << npyBytes << central << end;

        std::string header = R"({"__metadata__": {"format": "pt"}, "attentions": {"dtype": )"
                             R"("F16", "shape": [)" +
                             std::to_string(kDumpLayers) + ", " + std::to_string(kDumpHeads) +
                             ", " + std::to_string(kDumpQueries) + ", " +
                             std::to_string(kDumpKeys) + R"(], "data_offsets": [0, )" +
                             std::to_string(data.size()) + "]}}";
        header.append((8 - header.size() % 8) % 8, ' ');
        std::ofstream(safetensors, std::ios::binary) << le(header.size(), 8) << header << data;
    }
    ~DumpFiles() {
        std::error_code ignored;
        for (const std::string& path : {npy, npz, safetensors})
            std::filesystem::remove(path, ignored);
    }
};

const DumpFiles& dumpFiles() {
    static const DumpFiles files;
    return files;
}

} // namespace

/// Reading a whole float16 dump as float32 through TensorFile::readRows, 32 rows at a time, the
/// file in the page cache: what the reader adds to each element of a whole-file evaluation.
/// ns_per_element is the wall time per element read.
static void BM_TensorFileRows(benchmark::State& state, std::string DumpFiles::*which) {
    const auto file = TensorFile::open(dumpFiles().*which);
    constexpr std::size_t kBlock = 32;
    const std::size_t rows = std::size_t(file->heads()) * std::size_t(file->queries());
    std::vector<float> out(kBlock * std::size_t(file->keys()));
    double seconds = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        for (int layer = 0; layer < file->layers(); ++layer)
            for (std::size_t first = 0; first < rows; first += kBlock) {
                file->readRows(layer, first, kBlock, out.data());
                benchmark::DoNotOptimize(out.data());
                benchmark::ClobberMemory();
            }
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    state.counters["ns_per_element"] =
        seconds * 1e9 / (double(state.iterations()) * double(kDumpElements));
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(kDumpElements) * 2);
}
BENCHMARK_CAPTURE(BM_TensorFileRows, npy_f16, &DumpFiles::npy)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_TensorFileRows, npz_stored_f16, &DumpFiles::npz)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_TensorFileRows, safetensors_f16, &DumpFiles::safetensors)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

/// Generating every row of a workload, as a backend's pass reads them (blocks of 32 rows over the
/// OpenMP threads): random (Philox + Box-Muller) vs the transformer block (per-head Q and K, then
/// a float product per block), a new workload each iteration so that the transformer's per-head
/// cache starts cold. ns_per_element: wall time per generated element.
static void BM_GenerateRows(benchmark::State& state, WorkloadKind kind) {
    WorkloadSpec spec;
    spec.kind = kind;
    spec.queries = spec.keys = int(state.range(0));
    const std::size_t rows = std::size_t(spec.heads) * std::size_t(spec.queries);
    const std::size_t keys = std::size_t(spec.keys), blockRows = 32;
    double seconds = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        const Workload workload = Workload::generate(spec);
        float checksum = 0;
#pragma omp parallel reduction(+ : checksum)
        {
            std::vector<float> buffer(blockRows * keys);
#pragma omp for schedule(dynamic)
            for (std::int64_t block = 0; block < std::int64_t(rows / blockRows); ++block) {
                workload.fillRows(std::size_t(block) * blockRows, blockRows, buffer.data());
                checksum += buffer[std::size_t(block) % buffer.size()];
            }
        }
        benchmark::DoNotOptimize(checksum);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    state.counters["ns_per_element"] =
        seconds * 1e9 / (double(rows * keys) * double(state.iterations()));
}
BENCHMARK_CAPTURE(BM_GenerateRows, random, WorkloadKind::Random)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_GenerateRows, transformer, WorkloadKind::Transformer)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
