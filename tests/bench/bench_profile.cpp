// The grounding pass and the head profile (attnsteer/grounding.h, attnsteer/profile.h) against
// the backend's one-lambda pass over the same rows in the same run: 32 heads x 1024 x 1024 random
// logits with a 24 x 24 image at keys 200..775 and a 6 x 6 target. Run by hand or by
// tests/bench/run-benchmarks (never by CTest); report medians (--benchmark_repetitions) and the
// ratios to BM_BackendOneLambda. tests/bench/run-profile-benchmark times the whole command on a
// 28 x 28 x 1024 x 1024 dump.
#include "attnsteer/backend.h"
#include "attnsteer/grounding.h"
#include "attnsteer/profile.h"
#include "attnsteer/saliency.h"
#include "attnsteer/workload.h"

#include <benchmark/benchmark.h>

#include <cmath>

using namespace attnsteer;

namespace {

constexpr int kKeys = 1024, kStart = 200, kSide = 24;

struct Inputs {
    Workload workload = Workload::generate(WorkloadSpec{});
    std::vector<double> saliency = std::vector<double>(kKeys, 0.0);
    GroundingKeys keys;
    SteeringParams params;
    Inputs() {
        keys.visionStart = kStart;
        keys.visionCount = kSide * kSide;
        keys.grid = {1, kSide, kSide};
        keys.target.assign(kKeys, 0);
        for (int r = 0; r < kSide; ++r)
            for (int c = 0; c < kSide; ++c) {
                const int k = kStart + r * kSide + c;
                saliency[std::size_t(k)] =
                    std::exp(-((r - 12) * (r - 12) + (c - 12) * (c - 12)) / 18.0);
                keys.target[std::size_t(k)] = r >= 9 && r < 15 && c >= 9 && c < 15;
            }
        params.lambda = 2;
    }
};

void setElements(benchmark::State& state, const Workload& workload) {
    state.counters["ns_per_element"] = benchmark::Counter(
        double(state.iterations()) * double(workload.rowCount()) * workload.keys(),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

} // namespace

/// The baseline: what `attnsteer-cli metrics` runs (one lambda, a one-off evaluation).
static void BM_BackendOneLambda(benchmark::State& state) {
    const Inputs in;
    const auto backend = makeCpuBackend();
    RunControl oneOff;
    oneOff.oneOff = true;
    for (auto _ : state)
        benchmark::DoNotOptimize(backend->evaluate(in.workload, in.saliency, in.params, oneOff));
    setElements(state, in.workload);
}
BENCHMARK(BM_BackendOneLambda)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The grounding pass of one lambda: vision and target masses, pointing, mean attention.
static void BM_GroundingPass(benchmark::State& state) {
    const Inputs in;
    const double lambda = in.params.lambda;
    for (auto _ : state)
        benchmark::DoNotOptimize(
            evaluateGrounding(in.workload, in.saliency, std::span(&lambda, 1), in.params, in.keys));
    setElements(state, in.workload);
}
BENCHMARK(BM_GroundingPass)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Both and the join: `attnsteer-cli profile`'s work.
static void BM_Profile(benchmark::State& state) {
    const Inputs in;
    const auto backend = makeCpuBackend();
    for (auto _ : state)
        benchmark::DoNotOptimize(
            profileHeads(in.workload, in.saliency, in.params, in.keys, *backend));
    setElements(state, in.workload);
}
BENCHMARK(BM_Profile)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
