#pragma once
// A lambda grid times a seed list: the tradeoff curve with its seed-to-seed spread.

#include "attnsteer/backend.h"
#include "attnsteer/saliency.h"
#include "attnsteer/simulated_saliency.h"
#include "attnsteer/workload.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace attnsteer {

/// The write-up's lambda grid: 0, 0.05, 0.10, 0.15, 0.25, 0.40, 0.60, 0.80, 1.00.
std::vector<double> defaultSweepLambdas();

/// Parses "0,0.1,0.5" or "START:STOP:STEP" (STOP included when it lies on the grid within
/// 1e-9 * STEP; "0:1:0.25" gives five values), each number as parseRealNumber reads it. Throws
/// InputError about SETTING on bad text,
/// a step <= 0, STOP < START or more than 100000 values.
std::vector<double> parseLambdaList(std::string_view text, std::string_view setting = "lambdas");
/// Parses "0,1,2" or "START:STOP" (both ends included) into seeds.
std::vector<std::uint64_t> parseSeedList(std::string_view text, std::string_view setting = "seeds");

struct SweepRow {
    double lambda = 0;
    double reductionMean = 0; ///< mean over seeds of the entropy reduction %
    double reductionStd = 0;  ///< sample standard deviation (n - 1) over seeds; 0 for one seed
    double klMean = 0;
    double klStd = 0;
};

/// What varies with the seed: the generated workload (unless one is given) and its saliency
/// (unless one is given): the transformer's simulated saliency, else the random one.
struct SweepConfig {
    WorkloadSpec spec;                              ///< used when no workload is given
    const Workload* workload = nullptr;             ///< fixed rows (loaded from a file), or null
    std::optional<std::vector<double>> saliencyRaw; ///< fixed raw saliency, or random per seed
    SimulatedSaliencySpec simulatedSaliency; ///< the transformer's saliency when none is given
    Normalization normalization = Normalization::Max;
    SteeringParams params; ///< lambda ignored: LAMBDAS below
    std::vector<double> lambdas = defaultSweepLambdas();
    std::vector<std::uint64_t> seeds = {0, 1, 2};
};

/// Runs the sweep: one workload and one evaluate() of all lambdas per seed.
std::vector<SweepRow> runSweep(const SweepConfig& config, Backend& backend,
                               const RunControl& control = {});

} // namespace attnsteer
