#pragma once
// What the four views draw, from a Scenario (app/common): the per-token row, the tradeoff sweep,
// the saliency grid and the matrix of one head. assemblePlotData puts computed results together;
// the window calls it with what its Engine holds, and buildPlotData (`attnsteer-cli plot`)
// computes the results and then calls it too.

#include "plot_data.h"
#include "scenario.h"

#include "attnsteer/backend.h"

#include <QImage>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace attnsteer {

/// What to show, besides the scenario.
struct PlotRequest {
    int head = 0;  ///< head of the per-token row and of the matrix, in the first layer chosen
    int query = 0; ///< query of the per-token row
    /// The tradeoff sweep's grid; drawn in ascending order (sorted, duplicates dropped).
    std::vector<double> sweepLambdas = evenLambdaGrid();
    /// Its seeds. With a workload file and a fixed saliency nothing varies with the seed: only the
    /// first is used then (the spread is 0 anyway).
    std::vector<std::uint64_t> sweepSeeds = {0, 1, 2};
    bool sortBySaliency = false;
    PerTokenMode perTokenMode = PerTokenMode::Values; ///< the per-token view's
    bool difference = false;                          ///< the matrix holds A' - A instead of A'
    std::size_t maxMatrixCells = kMaxMatrixCells;
    RunControl control; ///< progress and cancellation of the sweep
};

/// The computed results the views show, wherever they come from (buildPlotData, the window's
/// Engine). The spans and pointers refer to the caller's data, which assemblePlotData copies;
/// what is empty or null draws empty.
struct PlotSources {
    int visionOffset = 0;           ///< key of the image's first token (effectiveProjection)
    ImageGrid grid;                 ///< the model's grid (effectiveProjection), or unset
    const DumpMeta* meta = nullptr; ///< the dump's sidecar (token texts), or null
    /// The sidecar's picture, decoded by the caller, or null: drawn under the model's grid.
    QImage metaImage;
    const RawSaliency* raw = nullptr; ///< the saliency's label and image projection, or null
    std::span<const double> saliency; ///< s as applied (normalized), K values
    int head = 0;                     ///< head (of its layer) of the row and of the matrix
    int query = 0;                    ///< query of the row
    int layer = -1;                   ///< the source's layer of the row when one of several, or -1
    int layersAveraged = 1;           ///< layers the row and the matrix are the mean of
    bool headSteered = true;          ///< whether HEAD gets the bias
    long long seed = -1;              ///< the random workload's seed, -1 for a file
    double lambda = 0.25;             ///< lambda of the row and of the matrix
    const TokenRow* row = nullptr;    ///< A and A' of (head, query), or null
    /// Mean over the first QUERY_MEAN_ROWS query rows of the head of A and of A', K each.
    std::span<const double> queryMeanAttention, queryMeanSteered;
    int queryMeanRows = 0;
    std::span<const SweepRow> sweep;       ///< the tradeoff curve, ascending lambda
    int sweepSeeds = 1;                    ///< seeds the sweep's means are over
    unsigned long long sweepFirstSeed = 0; ///< the first of them
    /// The matrix of the head, matrixQueries x matrixKeys row-major: A', or A' - A when
    /// matrixIsDifference. Moved into the PlotData (it may be large).
    std::vector<double> matrix;
    int matrixQueries = 0;
    int matrixKeys = 0;
    bool matrixIsDifference = false;
    /// The saliency image as the caller decoded it (nothing is read here); drawn only when RAW
    /// has a projection.
    QImage image;
    /// The target's flags, K (GroundingKeys::target), or empty.
    std::span<const unsigned char> target;
};

/// SOURCES as PlotData: the row, s and its label, the sweep, the matrix, the token texts, the
/// target; the grid: the model's (SOURCES.grid, from the vision offset; its picture META_IMAGE,
/// else the saliency image), else, when the saliency came from an image, the image with its token
/// grid, resized size and grid offset (the vision offset), else gridShapeFor(K) (left to the
/// view).
/// The views' own settings (sorting, highlighted token, overlay opacity, image mode) keep their
/// defaults: the caller sets them.
PlotData assemblePlotData(PlotSources sources);

/// PlotData for SCENARIO as PREPARED (prepareScenario(SCENARIO)), steered with PARAMS:
/// - the row (REQUEST.head, REQUEST.query) from BACKEND.row, the normalized saliency and its label;
/// - the tradeoff sweep: runSweep with BACKEND over REQUEST's lambdas and seeds (a random workload
///   and a random saliency are drawn per seed, file ones are the same for every seed);
/// - the matrix of REQUEST.head: A' = softmax(log(A + eps) + lambda s) per query (A' = A on a head
///   that is not steered), or A' - A; the first min(Q, maxMatrixCells / K) queries;
/// - the image, its token grid, resized size and grid offset (the vision offset) when the
///   saliency came from an image;
/// - the target of PREPARED.grounding (the transformer's planted object unless one is given);
/// computed here, then put together by assemblePlotData.
/// Throws the InputErrors of BACKEND.row (head or query "N is out of range 0..M"), of the
/// backend and the sweep, Cancelled. WARNINGS (when given) gets one line when the matrix shows
/// only the first queries.
PlotData buildPlotData(const Scenario& scenario, const PreparedScenario& prepared, Backend& backend,
                       const SteeringParams& params, const PlotRequest& request,
                       std::vector<std::string>* warnings = nullptr);

} // namespace attnsteer
