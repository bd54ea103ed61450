#pragma once
// A Scenario is everything the user chose (sizes, files, normalization, steering); this turns it
// into the workload and the saliency that the core evaluates. The command line and the window
// build the same Scenario from their options and controls.

#include "attnsteer/backend.h"
#include "attnsteer/dump_meta.h"
#include "attnsteer/projection.h"
#include "attnsteer/saliency.h"
#include "attnsteer/simulated_saliency.h"
#include "attnsteer/sweep.h"
#include "attnsteer/workload.h"

#include <QImage>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnsteer {

struct Scenario {
    WorkloadSpec spec;             ///< the random workload; with a file only spec.seed is used
                                   ///< (for the random saliency)
    std::string logitsPath;        ///< a logits dump (attnsteer/tensor_file.h); or empty
    std::string attentionPath;     ///< an attention (probabilities) dump; or empty
    std::optional<int> layer;      ///< --layer: nullopt = all layers (chooseLayers)
    std::string metaPath;          ///< --meta: the dump's sidecar; empty = DUMP.json if present
    std::string saliencyPath;      ///< [K] raw saliency .npy; or empty
    std::string saliencyImagePath; ///< a saliency map image, projected onto the vision tokens
    Normalization normalization = Normalization::Max; ///< applied to the raw per-key saliency
    double binaryThreshold = kDefaultBinaryThreshold; ///< of Normalization::Binary
    ProjectionOptions projection;   ///< how a saliency image becomes per-key saliency; a dump's
                                    ///< sidecar fills in the grid and the vision offset that the
                                    ///< user did not give (effectiveProjection)
    bool visionOffsetGiven = false; ///< projection.visionOffset was chosen (--vision-offset)
    SteeringParams params;          ///< lambda, eps, steered heads, entropy gate
    std::string targetPath;         ///< --target: [K] .npy, nonzero = a target token; or empty
    std::string targetMaskPath;     ///< --target-mask: an image projected like a saliency image,
                                    ///< tokens >= 0.5 are the target; or empty
    std::string gatePath;           ///< --gate: [Q] .npy of uncertainty per query; or empty
    double gateThreshold = 0;       ///< --gate-threshold: queries whose value is >= it are steered
    int threads = 0;                ///< CPU threads of the backend; 0 = all cores

    // The transformer workload (spec.kind, spec.transformer; its grid and vision offset come
    // from projection when given) and the simulated saliency it comes with.
    SimulatedSaliencySpec simulatedSaliency; ///< --saliency-quality, --saliency-blur

    bool hasWorkloadFile() const { return !logitsPath.empty() || !attentionPath.empty(); }
    bool hasFixedSaliency() const { return !saliencyPath.empty() || !saliencyImagePath.empty(); }
    bool hasTarget() const { return !targetPath.empty() || !targetMaskPath.empty(); }
    bool isTransformer() const {
        return spec.kind == WorkloadKind::Transformer && !hasWorkloadFile();
    }
};

/// SCENARIO.spec as Workload::generate takes it: for the transformer, --image-grid and
/// --vision-offset (projection.grid, projection.visionOffset when given) become its layout's.
WorkloadSpec generatedSpec(const Scenario& scenario);

/// Throws InputError for options that exclude each other: --logits with --attention,
/// --saliency with --saliency-image, --workload transformer with a dump.
void checkScenario(const Scenario& scenario);

/// The rows: loaded from the logits or attention file, or generated from SCENARIO.spec; the
/// layers of SCENARIO.layer selected.
Workload loadWorkload(const Scenario& scenario);

/// The sidecar of SCENARIO's dump: --meta, else DUMP.json beside the dump, else nullopt (also
/// for a random workload). WORKLOAD is the loaded dump (its keys and queries are checked).
/// Throws InputError about "meta" when --meta is given without a dump.
std::optional<DumpMeta> loadDumpMeta(const Scenario& scenario, const Workload& workload);

/// SCENARIO.projection with what META says and the user did not: the grid (unless
/// --image-grid) and the vision offset (unless --vision-offset). For the transformer workload
/// the grid and offset of its layout: a saliency image lands on its vision tokens.
ProjectionOptions effectiveProjection(const Scenario& scenario, const DumpMeta* meta);

/// A saliency image projected onto the vision-token grid.
struct ImageSaliency {
    int imageWidth = 0, imageHeight = 0;
    QImage image; ///< the decoded image, as stored (for drawing under the token grid)
    SaliencyProjection projection;
};

/// Reads the image PATH (see loadSaliencyImage) and projects it with OPTIONS; KEYS gives the
/// default --max-pixels (keys x factor^2).
ImageSaliency projectSaliencyImage(const std::string& path, const ProjectionOptions& options,
                                   int keys);

/// The per-key saliency before normalization.
struct RawSaliency {
    std::vector<double> values;                   ///< one per key token
    std::optional<SaliencyProjection> projection; ///< set when it came from an image
    std::string label;                            ///< the file, or "random, seed N"
    QImage image;                                 ///< the image it came from, decoded once, or null
};

/// The saliency from SCENARIO's .npy or image for KEYS keys, or nullopt when it is random. An
/// image is projected with PROJECTION (effectiveProjection).
std::optional<RawSaliency> loadFixedSaliency(const Scenario& scenario, int keys,
                                             const ProjectionOptions& projection);

/// The fixed saliency, or the one generated with SCENARIO.spec.seed: the transformer's
/// simulated vision saliency (SCENARIO.simulatedSaliency), else the random one.
RawSaliency loadRawSaliency(const Scenario& scenario, int keys,
                            const ProjectionOptions& projection);

/// The normalized saliency (SCENARIO's normalization); a warning (constant input) is prefixed
/// with where it came from.
NormalizedSaliency normalizeRawSaliency(const RawSaliency& raw, const Scenario& scenario);

/// The keys the grounding metrics look at: the vision span (the grid of the sidecar or
/// --image-grid at the vision offset; else the grid of a projected saliency image, RAW's; else
/// none) and the target (--target, --target-mask), for KEYS keys.
GroundingKeys groundingKeysFor(const Scenario& scenario, int keys,
                               const ProjectionOptions& projection, const RawSaliency* raw);

/// SCENARIO.params with the per-query gate of --gate and --gate-threshold for QUERIES queries.
SteeringParams steeringParamsFor(const Scenario& scenario, int queries);

/// What one evaluation needs.
struct PreparedScenario {
    Workload workload;
    std::optional<DumpMeta> meta; ///< the dump's sidecar, if any
    ProjectionOptions projection; ///< effectiveProjection
    RawSaliency raw;
    NormalizedSaliency saliency; ///< values (K) and a warning that is empty unless it is constant
    SteeringParams params;       ///< steeringParamsFor
    GroundingKeys grounding;     ///< groundingKeysFor
};

/// Checks SCENARIO, then loads or generates its workload and saliency.
PreparedScenario prepareScenario(const Scenario& scenario);

/// The sweep of SCENARIO over LAMBDAS and SEEDS: the random workload and saliency are drawn per
/// seed, FILE_WORKLOAD (the scenario's workload file, loaded; null for a random one) and
/// FIXED_SALIENCY (raw, from a .npy or an image; null for a random one) are the same for every
/// seed. With both fixed nothing varies with the seed: only the first seed is kept (the spread
/// would be 0 anyway). The window, `attnsteer-cli sweep` and `plot` all build their sweep here.
SweepConfig sweepConfigFor(const Scenario& scenario, const Workload* fileWorkload,
                           const std::vector<double>* fixedSaliency, std::vector<double> lambdas,
                           std::vector<std::uint64_t> seeds);

/// POINTS evenly spaced lambdas from 0 to MAX, both included (POINTS >= 2; 1 gives {0}): the
/// tradeoff curve's grid in the window (64 points up to the slider's maximum) and in
/// `attnsteer-cli plot` (64 up to 1).
std::vector<double> evenLambdaGrid(int points = 64, double max = 1.0);

/// The matrix views hold at most this many cells: 4 Mi cells = 32 MiB of doubles per copy.
inline constexpr std::size_t kMaxMatrixCells = std::size_t(1) << 22;

/// How many of QUERIES rows of KEYS keys a matrix of at most MAX_CELLS cells shows (at least 1).
int matrixQueries(int queries, int keys, std::size_t maxCells = kMaxMatrixCells);

/// A sweep's fixed inputs: what does not change with the seed is loaded once.
struct PreparedSweep {
    std::optional<Workload> workload;    ///< the file workload; random ones are made per seed
    std::optional<RawSaliency> saliency; ///< the fixed saliency; random ones are made per seed
    std::optional<DumpMeta> meta;        ///< the dump's sidecar, if any
    std::string warning;                 ///< from normalizing a fixed saliency, or empty
    SweepConfig baseConfig;              ///< everything but the workload pointer

    /// The configuration for runSweep; it points into this object, which must outlive it.
    SweepConfig config() const;
};

/// Checks SCENARIO and loads the sweep's fixed inputs; LAMBDAS and SEEDS define the grid.
PreparedSweep prepareSweep(const Scenario& scenario, std::vector<double> lambdas,
                           std::vector<std::uint64_t> seeds);

/// How a label shows a file: its whole path (the command line) or its name (the window).
enum class PathStyle { FullPath, FileName };

/// Where SCENARIO's rows come from, in the user's words: "random logits, seed 3", "transformer
/// block, seed 3", "logits file PATH", "attention file PATH".
std::string workloadLabel(const Scenario& scenario, PathStyle style);
/// Where its saliency comes from: "random, seed 3", "simulated, quality 0.8, seed 3" (", blur
/// 1.5" when blurred), "image PATH", "file PATH".
std::string saliencyLabel(const Scenario& scenario, PathStyle style);

} // namespace attnsteer
