#pragma once
// A prepared Scenario (app/common) turned into what the four views draw: the per-token row, the
// tradeoff sweep, the saliency grid and the matrix of one head. `attnsteer-cli plot` uses it; the
// window can fill its PlotData the same way.

#include "plot_data.h"
#include "scenario.h"

#include "attnsteer/backend.h"

#include <QImage>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace attnsteer {

/// The matrix view holds at most this many cells (as the window's): 4 Mi cells = 32 MiB of
/// doubles. Larger heads show their first queries only.
inline constexpr std::size_t kMaxPlotMatrixCells = std::size_t(1) << 22;

/// POINTS evenly spaced lambdas from 0 to MAX, both included (POINTS >= 2; 1 gives {0}).
std::vector<double> evenLambdaGrid(int points = 64, double max = 1.0);

/// What to show, besides the scenario.
struct PlotRequest {
    int head = 0;  ///< head of the per-token row and of the matrix
    int query = 0; ///< query of the per-token row
    /// The tradeoff sweep's grid; drawn in ascending order (sorted, duplicates dropped).
    std::vector<double> sweepLambdas = evenLambdaGrid();
    /// Its seeds. With a workload file and a fixed saliency nothing varies with the seed: only the
    /// first is used then (the spread is 0 anyway).
    std::vector<std::uint64_t> sweepSeeds = {0, 1, 2};
    bool sortBySaliency = false;
    bool difference = false; ///< the matrix holds A' - A instead of A'
    std::size_t maxMatrixCells = kMaxPlotMatrixCells;
    /// Drawn under the grid when the saliency came from an image. Null: read from
    /// Scenario::saliencyImagePath (as stored, orientation metadata not applied).
    QImage image;
    RunControl control; ///< progress and cancellation of the sweep
};

/// PlotData for SCENARIO as PREPARED (prepareScenario(SCENARIO)), steered with PARAMS:
/// - the row (REQUEST.head, REQUEST.query) from BACKEND.row, the normalized saliency and its label;
/// - the tradeoff sweep: runSweep with BACKEND over REQUEST's lambdas and seeds (a random workload
///   and a random saliency are drawn per seed, file ones are the same for every seed);
/// - the matrix of REQUEST.head: A' = softmax(log(A + eps) + lambda s) per query (A' = A on a head
///   that is not steered), or A' - A; the first min(Q, maxMatrixCells / K) queries;
/// - the image, its token grid, resized size and grid offset (the vision offset) when the
///   saliency came from an image.
/// Throws InputError("--head" / "--query", "N is out of range 0..M"), the InputErrors of the
/// backend and the sweep, Cancelled. WARNINGS (when given) gets one line when the matrix shows
/// only the first queries.
PlotData buildPlotData(const Scenario& scenario, const PreparedScenario& prepared, Backend& backend,
                       const SteeringParams& params, const PlotRequest& request,
                       std::vector<std::string>* warnings = nullptr);

} // namespace attnsteer
