// CPU benchmarks, run by hand or by tests/bench/run-benchmarks (never by CTest). Sizes are
// 32 heads x N queries x N keys with N = 1024 (the write-up's default) and 4096; the
// straightforward version of the write-up's algorithm (whole-tensor Eigen passes in float32)
// runs in the same binary as the baseline. Report medians (--benchmark_repetitions).
#include "attnsteer/backend.h"
#include "attnsteer/saliency.h"
#include "attnsteer/straightforward.h"
#include "attnsteer/sweep.h"
#include "attnsteer/workload.h"

#include <benchmark/benchmark.h>

#include <sys/resource.h>

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

BENCHMARK_MAIN();
