#include "scenario_plot_data.h"

#include "error_text.h"
#include "saliency_image.h"

#include "attnsteer/errors.h"
#include "attnsteer/steering.h"
#include "attnsteer/sweep.h"

#include <QString>

#include <algorithm>
#include <atomic>
#include <span>

namespace attnsteer {
namespace {

/// The first QUERIES rows of backend head UNIT: A' (or A' - A), row-major QUERIES x K; rows
/// that PARAMS does not steer keep A' = A.
std::vector<double> headMatrix(const Workload& workload, std::span<const double> saliency,
                               const SteeringParams& params, int unit, int queries, bool difference,
                               const std::atomic<bool>* cancel) {
    const std::size_t keys = std::size_t(workload.keys());
    const bool steered = isUnitSteered(workload, params, unit);
    std::vector<double> matrix(std::size_t(queries) * keys);
    std::vector<double> original(keys);
    for (int q = 0; q < queries; ++q) {
        if (cancel && q % 64 == 0 && cancel->load())
            throw Cancelled();
        workload.attentionRow(unit, q, original);
        double* out = matrix.data() + std::size_t(q) * keys;
        if (!isRowSteered(params, steered, q, original)) {
            // A' = A (the head, the query or the entropy gate): the difference is 0.
            if (!difference)
                std::copy(original.begin(), original.end(), out);
            continue;
        }
        // The backend's row().
        steering::steeredRow(original.data(), saliency.data(), keys, params.lambda, params.eps,
                             out);
        if (difference)
            steering::subtractOriginal(original.data(), keys, out);
    }
    return matrix;
}

} // namespace

PlotData assemblePlotData(PlotSources sources) {
    PlotData data;
    data.head = sources.head;
    data.query = sources.query;
    data.layer = sources.layer;
    data.layersAveraged = sources.layersAveraged;
    data.headSteered = sources.headSteered;
    data.seed = sources.seed;
    data.lambda = sources.lambda;
    data.queryMeanAttention.assign(sources.queryMeanAttention.begin(),
                                   sources.queryMeanAttention.end());
    data.queryMeanSteered.assign(sources.queryMeanSteered.begin(), sources.queryMeanSteered.end());
    data.queryMeanRows = sources.queryMeanRows;
    if (sources.meta) {
        data.tokens.reserve(sources.meta->tokens.size());
        for (const std::string& token : sources.meta->tokens)
            data.tokens.push_back(QString::fromStdString(token));
    }
    data.saliency.assign(sources.saliency.begin(), sources.saliency.end());
    data.target.assign(sources.target.begin(), sources.target.end());
    if (sources.row) {
        data.attention = sources.row->original;
        data.steered = sources.row->steered;
    }
    data.sweep.assign(sources.sweep.begin(), sources.sweep.end());
    data.sweepSeeds = sources.sweepSeeds;
    data.sweepFirstSeed = sources.sweepFirstSeed;
    data.matrix = std::move(sources.matrix);
    data.matrixQueries = sources.matrixQueries;
    data.matrixKeys = sources.matrixKeys;
    data.matrixIsDifference = sources.matrixIsDifference;
    if (sources.grid.isSet()) {
        // The model's grid: where the vision tokens are, whatever the saliency is.
        data.modelGrid = true;
        data.gridHeight = sources.grid.rows;
        data.gridWidth = sources.grid.cols;
        data.gridOffset = sources.visionOffset;
        data.visionStart = sources.visionOffset;
        data.visionTokens = int(sources.grid.tokenCount());
        if (!sources.metaImage.isNull())
            data.image = sources.metaImage;
        else if (sources.raw && sources.raw->projection)
            data.image = sources.image;
    }
    if (!sources.raw)
        return data;
    data.saliencyLabel = QString::fromStdString(sources.raw->label);
    // The saliency grid: the image's token grid, or gridShapeFor(K) (left to the view).
    if (sources.raw->projection && !data.modelGrid) {
        const SaliencyProjection& projection = *sources.raw->projection;
        data.gridHeight = projection.gridHeight;
        data.gridWidth = projection.gridWidth;
        data.resizedHeight = projection.resizedHeight;
        data.resizedWidth = projection.resizedWidth;
        data.gridOffset = sources.visionOffset;
        data.image = sources.image;
    }
    return data;
}

PlotData buildPlotData(const Scenario& scenario, const PreparedScenario& prepared, Backend& backend,
                       const SteeringParams& params, const PlotRequest& request,
                       std::vector<std::string>* warnings) {
    const Workload& workload = prepared.workload;
    const std::vector<double>& saliency = prepared.saliency.values;

    PlotSources sources;
    sources.visionOffset = prepared.projection.visionOffset;
    sources.grid = prepared.projection.grid;
    sources.meta = prepared.meta ? &*prepared.meta : nullptr;
    sources.raw = &prepared.raw;
    sources.saliency = saliency;
    sources.target = prepared.grounding.target;
    sources.head = request.head;
    sources.query = request.query;
    sources.lambda = params.lambda;
    if (!scenario.hasWorkloadFile())
        sources.seed = (long long)scenario.spec.seed;

    // With several layers, the row and the matrix are of the first one chosen.
    if (request.head < 0 || request.head >= workload.headsPerLayer())
        throw settingError("head", std::to_string(request.head) + " is out of range 0.." +
                                       std::to_string(workload.headsPerLayer() - 1));
    const int unit = workload.unitOf(0, request.head);
    sources.headSteered = isUnitSteered(workload, params, unit);
    if (workload.sourceLayers() > 1)
        sources.layer = workload.sourceLayer(0);
    // The per-token row, from the backend itself: what it shows is what the core computes.
    const TokenRow row = backend.row(workload, saliency, params, unit, request.query);
    sources.row = &row;

    // The tradeoff curve.
    std::vector<double> lambdas = request.sweepLambdas;
    std::sort(lambdas.begin(), lambdas.end());
    lambdas.erase(std::unique(lambdas.begin(), lambdas.end()), lambdas.end());
    Scenario steering = scenario;
    steering.params = params;
    const SweepConfig config =
        sweepConfigFor(steering, scenario.hasWorkloadFile() ? &workload : nullptr,
                       scenario.hasFixedSaliency() ? &prepared.raw.values : nullptr,
                       std::move(lambdas), request.sweepSeeds);
    const std::vector<SweepRow> sweep = runSweep(config, backend, request.control);
    sources.sweep = sweep;
    sources.sweepSeeds = int(config.seeds.size());
    sources.sweepFirstSeed = config.seeds.empty() ? 0 : config.seeds.front();

    // The image under the grid, as prepareScenario decoded it.
    sources.image = prepared.raw.image;
    // The sidecar's picture under the model's grid, as the window draws it; one that cannot be
    // read is a warning, not a failed plot.
    QImage metaImage;
    if (prepared.meta && !prepared.meta->imagePath.empty()) {
        try {
            loadSaliencyImage(prepared.meta->imagePath, &metaImage);
        } catch (const InputError& error) {
            if (warnings)
                warnings->push_back(commandLineMessage(error) + " (the sidecar's picture)");
        }
    }
    sources.metaImage = metaImage;

    // The matrix of the head, capped like the window's.
    const std::size_t keys = std::size_t(workload.keys());
    const int queries = matrixQueries(workload.queries(), workload.keys(), request.maxMatrixCells);
    if (queries < workload.queries() && warnings)
        warnings->push_back("matrix: showing the first " + std::to_string(queries) + " of " +
                            std::to_string(workload.queries()) + " queries of head " +
                            std::to_string(request.head) + " (at most " +
                            std::to_string(request.maxMatrixCells) + " cells)");
    sources.matrix = headMatrix(workload, saliency, params, unit, queries, request.difference,
                                request.control.cancel);
    sources.matrixQueries = queries;
    sources.matrixKeys = int(keys);
    sources.matrixIsDifference = request.difference;

    PlotData data = assemblePlotData(std::move(sources));
    data.sortBySaliency = request.sortBySaliency;
    data.perTokenMode = request.perTokenMode;
    return data;
}

} // namespace attnsteer
