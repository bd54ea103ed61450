// CUDA backend benchmarks at 32 x 1024 x 1024 (the write-up's size) and 32 x 4096 x 4096, and the
// fused attention forward plain vs steered at 28 heads x 2048 and 8192 tokens x 128
// (BM_CudaAttention). Times are device times from CUDA events around the backend's work (manual
// timing); "GB/s" is the bytes of logits the kernels read (H*Q*K*4) over that time, shown where
// they read them. Each benchmark runs twice, once per path of a lambda (attnsteer/chebyshev.h):
// "Moments" as the backend runs by default (lambdas from the cached Chebyshev moments) and "Exact"
// (useMoments off: every evaluation the exact pass over the logits). Run by hand or by
// gpu/run-gpu-checks.sh, never by CTest. Without a CUDA device it says so and exits 0.
#include "cuda_backend.h" // gpu/src: the class with its extras (device time, bytes read)

#include "attnsteer/backend.h"
#include "attnsteer/gpu.h"
#include "attnsteer/saliency.h"
#include "attnsteer/workload.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>

using namespace attnsteer;

namespace {

enum class Path { Moments, Exact };

/// The backend, or nullptr (and the benchmark marked skipped) without a device.
gpu::CudaBackend* backendFor(benchmark::State& state, Path path) {
    if (!gpu::isAvailable()) {
        state.SkipWithError(("no CUDA device: " + gpu::unavailableReason()).c_str());
        return nullptr;
    }
    static gpu::CudaBackend withMoments({.useMoments = true});
    static gpu::CudaBackend exact({.useMoments = false});
    return path == Path::Moments ? &withMoments : &exact;
}

WorkloadSpec specOf(const benchmark::State& state) {
    const int keys = int(state.range(0));
    WorkloadSpec spec;
    spec.queries = spec.keys = keys;
    return spec;
}

std::vector<double> saliencyOf(int keys) {
    return normalizeSaliency(randomSaliencyRaw(keys, 0), Normalization::Max).values;
}

std::vector<double> sweepLambdas() {
    std::vector<double> lambdas(64);
    for (std::size_t i = 0; i < lambdas.size(); ++i)
        lambdas[i] = 0.05 * double(i);
    return lambdas;
}

/// Device time per iteration, and bandwidth over all iterations.
class DeviceTimer {
  public:
    void add(benchmark::State& state, const gpu::CudaBackend& backend) {
        const double ms = backend.lastDeviceMs();
        state.SetIterationTime(ms * 1e-3);
        totalMs_ += ms;
        bytes_ += double(backend.lastValueBytes());
    }
    void report(benchmark::State& state, std::size_t lambdas) const {
        if (totalMs_ > 0 && bytes_ > 0)
            state.counters["GB/s"] = bytes_ / (totalMs_ * 1e-3) / 1e9;
        state.counters["lambdas"] = double(lambdas);
    }

  private:
    double totalMs_ = 0, bytes_ = 0;
};

void runResident(benchmark::State& state, Path path, const std::vector<double>& lambdas) {
    gpu::CudaBackend* backend = backendFor(state, path);
    if (!backend)
        return;
    const WorkloadSpec spec = specOf(state);
    const Workload workload = Workload::generate(spec);
    const auto saliency = saliencyOf(spec.keys);
    // Generated, now resident (with its moments, on that path).
    backend->evaluate(workload, saliency, lambdas, SteeringParams{});
    DeviceTimer timer;
    for (auto _ : state) {
        benchmark::DoNotOptimize(backend->evaluate(workload, saliency, lambdas, SteeringParams{}));
        timer.add(state, *backend);
    }
    timer.report(state, lambdas.size());
}

} // namespace

/// One lambda, all metrics, the workload resident on the device.
static void BM_CudaOneLambda(benchmark::State& state, Path path) {
    runResident(state, path, {0.25});
}

/// 64 lambdas in one call (Exact: the tiled kernel), the workload resident.
static void BM_CudaSweep64(benchmark::State& state, Path path) {
    runResident(state, path, sweepLambdas());
}

/// Cold start: every iteration a new random workload (a new id), generated on the device, then
/// one lambda evaluated (on the default path, after computing the moments).
static void BM_CudaColdStart(benchmark::State& state, Path path) {
    gpu::CudaBackend* backend = backendFor(state, path);
    if (!backend)
        return;
    const WorkloadSpec spec = specOf(state);
    const auto saliency = saliencyOf(spec.keys);
    SteeringParams params;
    DeviceTimer timer;
    for (auto _ : state) {
        const Workload workload = Workload::generate(spec);
        benchmark::DoNotOptimize(backend->evaluate(workload, saliency, params));
        timer.add(state, *backend);
    }
    timer.report(state, 1);
}

#define ATTNSTEER_GPU_BENCHMARK(function)                                                          \
    BENCHMARK_CAPTURE(function, Moments, Path::Moments)                                            \
        ->Arg(1024)                                                                                \
        ->Arg(4096)                                                                                \
        ->UseManualTime()                                                                          \
        ->Unit(benchmark::kMillisecond);                                                           \
    BENCHMARK_CAPTURE(function, Exact, Path::Exact)                                                \
        ->Arg(1024)                                                                                \
        ->Arg(4096)                                                                                \
        ->UseManualTime()                                                                          \
        ->Unit(benchmark::kMillisecond)

/// The fused attention forward (gpu::timeAttention) at 28 heads x N tokens x head dim 128, plain
/// and steered (lambda 0.25, s = |x| / max |x|) interleaved, 10 timed runs each after a warm-up:
/// kernel times by CUDA events, medians in the counters; the iteration time is the steered
/// median. One iteration: the runs are inside it.
static void BM_CudaAttention(benchmark::State& state) {
    if (!gpu::isAvailable()) {
        state.SkipWithError(("no CUDA device: " + gpu::unavailableReason()).c_str());
        return;
    }
    attention::AttentionParams params;
    params.heads = 28, params.headDim = 128, params.lambda = 0.25f;
    params.queries = params.keys = int(state.range(0));
    params.causal = state.range(1) != 0;
    const std::size_t values = std::size_t(params.heads) * params.queries * params.headDim;
    std::mt19937_64 generator(0);
    std::normal_distribution<float> normal;
    std::vector<float> q(values), k(values), v(values), out(values), bias(params.keys);
    for (auto* x : {&q, &k, &v, &bias})
        for (float& e : *x)
            e = normal(generator);
    float top = 0;
    for (float& e : bias)
        top = std::max(top, e = std::abs(e));
    for (float& e : bias)
        e /= top;
    const auto median = [](std::vector<double> x) {
        std::sort(x.begin(), x.end());
        return x.size() % 2 ? x[x.size() / 2] : (x[x.size() / 2 - 1] + x[x.size() / 2]) / 2;
    };
    for (auto _ : state) {
        const gpu::AttentionRuns runs = gpu::timeAttention(params, q, k, v, bias, out, 10);
        const double plain = median(runs.plainMs), steered = median(runs.steeredMs);
        state.SetIterationTime(steered * 1e-3);
        const double flops = 4.0 * params.heads * double(params.queries) * params.keys *
                             params.headDim / (params.causal ? 2 : 1);
        state.counters["plain_ms"] = plain;
        state.counters["steered_ms"] = steered;
        state.counters["overhead_pct"] = (steered - plain) / plain * 100;
        state.counters["plain_TFLOPs"] = flops / plain / 1e9;
    }
}
BENCHMARK(BM_CudaAttention)
    ->ArgNames({"tokens", "causal"})
    ->Args({2048, 0})
    ->Args({8192, 0})
    ->Args({8192, 1})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

ATTNSTEER_GPU_BENCHMARK(BM_CudaOneLambda);
ATTNSTEER_GPU_BENCHMARK(BM_CudaSweep64);
ATTNSTEER_GPU_BENCHMARK(BM_CudaColdStart);

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    if (!gpu::isAvailable()) {
        std::printf("bench_gpu: no CUDA device (%s); nothing to measure\n",
                    gpu::unavailableReason().c_str());
        return 0;
    }
    std::printf("bench_gpu: %s, %.1f GiB\n", gpu::deviceName().c_str(),
                double(gpu::deviceMemoryBytes()) / double(1ull << 30));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
