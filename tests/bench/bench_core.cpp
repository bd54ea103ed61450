// Core benchmarks at the write-up's default size (32 x 1024 x 1024). Run by hand or by
// tests/bench/run-benchmarks; never by CTest. Report medians (--benchmark_repetitions).
#include "attnsteer/backend.h"
#include "attnsteer/saliency.h"
#include "attnsteer/sweep.h"
#include "attnsteer/workload.h"

#include <benchmark/benchmark.h>

using namespace attnsteer;

namespace {

const Workload& defaultWorkload() {
    static const Workload workload = Workload::generate(WorkloadSpec{});
    return workload;
}

const std::vector<double>& defaultSaliency() {
    static const std::vector<double> saliency =
        normalizeSaliency(randomSaliencyRaw(1024, 0), Normalization::Max).values;
    return saliency;
}

} // namespace

/// One lambda, all metrics, the workload already generated.
static void BM_EvaluateOneLambda(benchmark::State& state) {
    defaultWorkload(); // generated before the timing starts
    auto backend = makeCpuBackend();
    SteeringParams params;
    for (auto _ : state)
        benchmark::DoNotOptimize(backend->evaluate(defaultWorkload(), defaultSaliency(), params));
}
BENCHMARK(BM_EvaluateOneLambda)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The write-up's 9 lambdas in one pass, the workload already generated.
static void BM_EvaluateNineLambdas(benchmark::State& state) {
    defaultWorkload();
    auto backend = makeCpuBackend();
    const auto lambdas = defaultSweepLambdas();
    for (auto _ : state)
        benchmark::DoNotOptimize(
            backend->evaluate(defaultWorkload(), defaultSaliency(), lambdas, SteeringParams{}));
}
BENCHMARK(BM_EvaluateNineLambdas)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The per-token row for the per-token view.
static void BM_TokenRow(benchmark::State& state) {
    defaultWorkload();
    auto backend = makeCpuBackend();
    for (auto _ : state)
        benchmark::DoNotOptimize(
            backend->row(defaultWorkload(), defaultSaliency(), SteeringParams{}, 3, 17));
}
BENCHMARK(BM_TokenRow)->Unit(benchmark::kMicrosecond)->UseRealTime();

/// Philox generation of the 33.5 M logits.
static void BM_GenerateWorkload(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(Workload::generate(WorkloadSpec{}));
}
BENCHMARK(BM_GenerateWorkload)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The default sweep: 9 lambdas x seeds 0, 1, 2, each seed generating its workload.
static void BM_DefaultSweep(benchmark::State& state) {
    auto backend = makeCpuBackend();
    SweepConfig config;
    for (auto _ : state)
        benchmark::DoNotOptimize(runSweep(config, *backend));
}
BENCHMARK(BM_DefaultSweep)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

BENCHMARK_MAIN();
