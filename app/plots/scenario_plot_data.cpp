#include "scenario_plot_data.h"

#include "attnsteer/errors.h"
#include "attnsteer/sweep.h"

#include <QImageReader>
#include <QString>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <span>

namespace attnsteer {
namespace {

void checkIndex(const char* option, int value, int count) {
    if (value < 0 || value >= count)
        throw InputError(option, std::to_string(value) + " is out of range 0.." +
                                     std::to_string(count - 1));
}

bool isSteered(const SteeringParams& params, int head) {
    return params.steeredHeads.empty() ||
           std::find(params.steeredHeads.begin(), params.steeredHeads.end(), head) !=
               params.steeredHeads.end();
}

/// The first QUERIES rows of HEAD: A' (or A' - A), row-major QUERIES x K.
std::vector<double> headMatrix(const Workload& workload, std::span<const double> saliency,
                               const SteeringParams& params, int head, int queries, bool difference,
                               const std::atomic<bool>* cancel) {
    const std::size_t keys = std::size_t(workload.keys());
    const bool steered = isSteered(params, head);
    std::vector<double> matrix(std::size_t(queries) * keys);
    std::vector<double> original(keys), z(keys);
    for (int q = 0; q < queries; ++q) {
        if (cancel && q % 64 == 0 && cancel->load())
            throw Cancelled();
        workload.attentionRow(head, q, original);
        double* out = matrix.data() + std::size_t(q) * keys;
        if (!steered) {
            // A' = A: the difference is 0.
            for (std::size_t k = 0; k < keys; ++k)
                out[k] = difference ? 0.0 : original[k];
            continue;
        }
        // The backend's row(): z_k = log(A_k + eps) + lambda s_k, A' = softmax(z).
        double top = -std::numeric_limits<double>::infinity();
        for (std::size_t k = 0; k < keys; ++k) {
            const double e = original[k] + params.eps;
            z[k] = e > 0 ? std::log(e) + params.lambda * saliency[k]
                         : -std::numeric_limits<double>::infinity();
            top = std::max(top, z[k]);
        }
        double sum = 0;
        for (std::size_t k = 0; k < keys; ++k)
            sum += out[k] =
                z[k] > -std::numeric_limits<double>::infinity() ? std::exp(z[k] - top) : 0.0;
        const double scale = 1 / sum;
        for (std::size_t k = 0; k < keys; ++k) {
            out[k] *= scale;
            if (difference)
                out[k] -= original[k];
        }
    }
    return matrix;
}

} // namespace

std::vector<double> evenLambdaGrid(int points, double max) {
    if (points < 2)
        return {0.0};
    std::vector<double> lambdas(static_cast<std::size_t>(points));
    for (int i = 0; i < points; ++i)
        lambdas[std::size_t(i)] = max * i / (points - 1);
    lambdas.back() = max;
    return lambdas;
}

PlotData buildPlotData(const Scenario& scenario, const PreparedScenario& prepared, Backend& backend,
                       const SteeringParams& params, const PlotRequest& request,
                       std::vector<std::string>* warnings) {
    const Workload& workload = prepared.workload;
    const std::vector<double>& saliency = prepared.saliency.values;
    checkIndex("--head", request.head, workload.heads());
    checkIndex("--query", request.query, workload.queries());

    PlotData data;
    data.head = request.head;
    data.query = request.query;
    data.lambda = params.lambda;
    data.sortBySaliency = request.sortBySaliency;
    data.saliency = saliency;
    data.saliencyLabel = QString::fromStdString(prepared.raw.label);

    // The per-token row, from the backend itself: what it shows is what the core computes.
    TokenRow row = backend.row(workload, saliency, params, request.head, request.query);
    data.attention = std::move(row.original);
    data.steered = std::move(row.steered);

    // The tradeoff curve.
    SweepConfig config;
    config.spec = scenario.spec;
    config.workload = scenario.hasWorkloadFile() ? &workload : nullptr;
    if (scenario.hasFixedSaliency())
        config.saliencyRaw = prepared.raw.values;
    config.normalization = scenario.normalization;
    config.params = params;
    config.lambdas = request.sweepLambdas;
    std::sort(config.lambdas.begin(), config.lambdas.end());
    config.lambdas.erase(std::unique(config.lambdas.begin(), config.lambdas.end()),
                         config.lambdas.end());
    config.seeds = request.sweepSeeds;
    if (scenario.hasWorkloadFile() && scenario.hasFixedSaliency() && config.seeds.size() > 1)
        config.seeds.erase(config.seeds.begin() + 1, config.seeds.end());
    data.sweep = runSweep(config, backend, request.control);
    data.sweepSeeds = int(config.seeds.size());

    // The saliency grid: the image's token grid, or gridShapeFor(K) (left to the view).
    if (prepared.raw.projection) {
        const SaliencyProjection& projection = *prepared.raw.projection;
        data.gridHeight = projection.gridHeight;
        data.gridWidth = projection.gridWidth;
        data.resizedHeight = projection.resizedHeight;
        data.resizedWidth = projection.resizedWidth;
        data.gridOffset = scenario.projection.visionOffset;
        data.image = request.image;
        if (data.image.isNull() && !scenario.saliencyImagePath.empty()) {
            QImageReader reader(QString::fromStdString(scenario.saliencyImagePath));
            reader.setDecideFormatFromContent(true);
            reader.setAutoTransform(false); // the saliency map is the pixel grid as stored
            data.image = reader.read();
        }
    }

    // The matrix of the head, capped like the window's.
    const std::size_t keys = std::size_t(workload.keys());
    const int queries = int(std::min<std::size_t>(
        std::size_t(workload.queries()), std::max<std::size_t>(1, request.maxMatrixCells / keys)));
    if (queries < workload.queries() && warnings)
        warnings->push_back("matrix: showing the first " + std::to_string(queries) + " of " +
                            std::to_string(workload.queries()) + " queries of head " +
                            std::to_string(request.head) + " (at most " +
                            std::to_string(request.maxMatrixCells) + " cells)");
    data.matrix = headMatrix(workload, saliency, params, request.head, queries, request.difference,
                             request.control.cancel);
    data.matrixQueries = queries;
    data.matrixKeys = int(keys);
    data.matrixIsDifference = request.difference;
    return data;
}

} // namespace attnsteer
