#pragma once
// A lambda grid times a seed list: the tradeoff curve with its seed-to-seed spread.

#include "attnsteer/backend.h"
#include "attnsteer/grounding.h"
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

/// Means over seeds and sample standard deviations (n - 1; 0 for one seed) of each y of the
/// tradeoff view.
struct SweepRow {
    double lambda = 0;
    double reductionMean = 0; ///< the entropy reduction %
    double reductionStd = 0;
    double klMean = 0;
    double klStd = 0;
    double expectationGainMean = 0; ///< sum A' s - sum A s (saliency expectation gain)
    double expectationGainStd = 0;
    double targetMassGainMean = kNotAvailable; ///< target mass steered - original (with a target)
    double targetMassGainStd = kNotAvailable;
    double pointingGainMean = kNotAvailable; ///< pointing steered - original (with a target)
    double pointingGainStd = kNotAvailable;
    double targetMassMean = kNotAvailable; ///< target mass steered at this lambda (with a target)
    double targetMassStd = kNotAvailable;
    double pointingMean = kNotAvailable; ///< pointing steered at this lambda: the accuracy
    double pointingStd = kNotAvailable;
};

/// What varies with the seed: the generated workload (unless one is given) and its saliency
/// (unless one is given): the transformer's simulated saliency, else the random one.
struct SweepConfig {
    WorkloadSpec spec;                              ///< used when no workload is given
    const Workload* workload = nullptr;             ///< fixed rows (loaded from a file), or null
    std::optional<std::vector<double>> saliencyRaw; ///< fixed raw saliency, or random per seed
    SimulatedSaliencySpec simulatedSaliency; ///< the transformer's saliency when none is given
    Normalization normalization = Normalization::Max;
    double binaryThreshold = kDefaultBinaryThreshold;
    SteeringParams params; ///< lambda ignored: LAMBDAS below
    /// The vision span and target; with a target the grounding pass (THREADS CPU threads) adds
    /// the target-mass and pointing gains.
    GroundingKeys grounding;
    int threads = 0;
    std::vector<double> lambdas = defaultSweepLambdas();
    std::vector<std::uint64_t> seeds = {0, 1, 2};
};

/// Runs the sweep: one workload and one evaluate() of all lambdas per seed.
std::vector<SweepRow> runSweep(const SweepConfig& config, Backend& backend,
                               const RunControl& control = {});

} // namespace attnsteer
