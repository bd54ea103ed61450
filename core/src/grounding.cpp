// The grounding pass (attnsteer/grounding.h): one read of the rows, pieces of rows shared among
// threads as the CPU backend shares them (cpu_rows.h), so the results do not depend on the thread
// count. Per row only the vision keys are touched after the softmax: per lambda three short
// vectorized passes over V (the products E w, their sums over V and T, their maximum).
#include "attnsteer/grounding.h"

#include "attnsteer/errors.h"
#include "attnsteer/steering.h"
#include "cpu_rows.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace attnsteer {

void checkGroundingKeys(const GroundingKeys& keys, int workloadKeys) {
    if (keys.visionStart < 0 || keys.visionCount < 0 ||
        std::int64_t(keys.visionStart) + keys.visionCount > workloadKeys)
        throw settingError(
            "vision-offset",
            "the vision tokens " + std::to_string(keys.visionStart) + ".." +
                std::to_string(std::int64_t(keys.visionStart) + keys.visionCount - 1) +
                " do not fit into " + std::to_string(workloadKeys) + " keys");
    if (keys.grid.isSet() && keys.grid.tokenCount() != keys.visionCount)
        throw settingError("image-grid", "has " + std::to_string(keys.grid.tokenCount()) +
                                             " tokens, the vision span " +
                                             std::to_string(keys.visionCount));
    if (!keys.hasTarget())
        return;
    if (keys.target.size() != std::size_t(workloadKeys))
        throw settingError("target", "length is " + std::to_string(keys.target.size()) +
                                         ", expected " + std::to_string(workloadKeys) + " (keys)");
    const int first = keys.hasVisionSpan() ? keys.visionStart : 0;
    const int count = keys.hasVisionSpan() ? keys.visionCount : workloadKeys;
    if (std::none_of(keys.target.begin() + first, keys.target.begin() + first + count,
                     [](unsigned char flag) { return flag != 0; }))
        throw settingError("target", keys.hasVisionSpan()
                                         ? "no target token lies among the vision tokens " +
                                               std::to_string(first) + ".." +
                                               std::to_string(first + count - 1)
                                         : std::string("has no target token"));
}

double pearsonCorrelation(std::span<const double> x, std::span<const double> y) {
    const std::size_t n = std::min(x.size(), y.size());
    if (n < 2)
        return kNotAvailable;
    double meanX = 0, meanY = 0;
    for (std::size_t i = 0; i < n; ++i)
        meanX += x[i], meanY += y[i];
    meanX /= double(n), meanY /= double(n);
    double xy = 0, xx = 0, yy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double dx = x[i] - meanX, dy = y[i] - meanY;
        xy += dx * dy, xx += dx * dx, yy += dy * dy;
    }
    if (!(xx > 0) || !(yy > 0))
        return kNotAvailable;
    return std::clamp(xy / std::sqrt(xx * yy), -1.0, 1.0);
}

double spatialEntropy(std::span<const double> map, const ImageGrid& grid) {
    const int rows = grid.rows, cols = grid.cols;
    const std::size_t perFrame = std::size_t(rows) * std::size_t(cols);
    if (!grid.isSet() || map.size() != perFrame * std::size_t(grid.frames) || map.empty())
        return kNotAvailable;
    double mean = 0;
    for (double v : map)
        mean += v;
    mean /= double(map.size());
    // A map constant up to rounding has no cell above its mean (the mean's own rounding would
    // otherwise put every cell above it).
    const auto [low, high] = std::minmax_element(map.begin(), map.end());
    if (!(*high - *low > 1e-12 * std::max(std::abs(*high), std::abs(*low))))
        return kNotAvailable;
    // 4-connected regions of the cells above the mean, frame by frame (a flood fill per region).
    std::vector<unsigned char> seen(map.size(), 0);
    std::vector<std::size_t> sizes, stack;
    for (std::size_t start = 0; start < map.size(); ++start) {
        if (seen[start] || !(map[start] > mean))
            continue;
        const std::size_t frameBase = start / perFrame * perFrame;
        std::size_t size = 0;
        stack.assign(1, start);
        seen[start] = 1;
        while (!stack.empty()) {
            const std::size_t cell = stack.back();
            stack.pop_back();
            ++size;
            const int r = int((cell - frameBase) / std::size_t(cols));
            const int c = int((cell - frameBase) % std::size_t(cols));
            const int neighbours[4][2] = {{r - 1, c}, {r + 1, c}, {r, c - 1}, {r, c + 1}};
            for (const auto& [nr, nc] : neighbours) {
                if (nr < 0 || nr >= rows || nc < 0 || nc >= cols)
                    continue;
                const std::size_t next = frameBase + std::size_t(nr) * std::size_t(cols) + nc;
                if (!seen[next] && map[next] > mean) {
                    seen[next] = 1;
                    stack.push_back(next);
                }
            }
        }
        sizes.push_back(size);
    }
    if (sizes.empty())
        return kNotAvailable;
    double total = 0;
    for (std::size_t size : sizes)
        total += double(size);
    double entropy = 0;
    for (std::size_t size : sizes) {
        const double p = double(size) / total;
        entropy -= p * std::log(p);
    }
    return entropy + 0.0; // -0 of a single region reads as 0
}

namespace {

/// The mean of SUMMARIES[first], SUMMARIES[first + stride], ... (COUNT of them), field by field,
/// over the available values.
GroundingSummary meanOf(const std::vector<GroundingSummary>& summaries, std::size_t first,
                        std::size_t stride, std::size_t count) {
    GroundingSummary mean;
    for (double GroundingSummary::*field :
         {&GroundingSummary::visionMass, &GroundingSummary::targetMassOriginal,
          &GroundingSummary::targetMassSteered, &GroundingSummary::pointingOriginal,
          &GroundingSummary::pointingSteered, &GroundingSummary::saliencyCorrelation,
          &GroundingSummary::spatialEntropy}) {
        double sum = 0;
        int available = 0;
        for (std::size_t i = 0; i < count; ++i)
            if (const double v = summaries[first + i * stride].*field; !std::isnan(v))
                sum += v, ++available;
        mean.*field = available ? sum / available : kNotAvailable;
    }
    return mean;
}

} // namespace

LayeredGrounding splitLayers(const Grounding& grounding, int layers, int headsPerLayer) {
    const std::size_t layerCount = std::size_t(layers), perLayer = std::size_t(headsPerLayer);
    LayeredGrounding result;
    result.aggregate.total = grounding.total;
    for (std::size_t head = 0; head < perLayer; ++head)
        result.aggregate.heads.push_back(meanOf(grounding.heads, head, perLayer, layerCount));
    for (std::size_t layer = 0; layer < layerCount; ++layer) {
        LayeredGrounding::Part& part = result.layers.emplace_back();
        part.heads.assign(grounding.heads.begin() + std::ptrdiff_t(layer * perLayer),
                          grounding.heads.begin() + std::ptrdiff_t((layer + 1) * perLayer));
        part.total = meanOf(part.heads, 0, 1, perLayer);
    }
    return result;
}

namespace {

/// Per piece of rows, summed over its rows in row order.
struct PieceTotals {
    std::size_t lambdaCount, visionCount;
    std::vector<double> visionMass, targetOriginal, pointingOriginal; ///< per piece
    std::vector<double> targetSteered, pointingSteered;               ///< per piece and lambda
    std::vector<double> columns; ///< per piece, sum over its rows of A_k, k in V
    PieceTotals(std::size_t pieces, std::size_t lambdas, std::size_t vision)
        : lambdaCount(lambdas), visionCount(vision), visionMass(pieces), targetOriginal(pieces),
          pointingOriginal(pieces), targetSteered(pieces * lambdas),
          pointingSteered(pieces * lambdas), columns(pieces * vision) {}
};

/// Target mass and pointing of one row.
struct RowGrounding {
    double targetMass = 0;
    double pointing = 0;
};

/// Of the vision keys' weights P (proportional to the attention) and TARGET (1 on target keys):
/// 0 and 0 where every weight is 0.
template <typename Derived>
RowGrounding groundingOf(const Eigen::ArrayBase<Derived>& p, const Eigen::ArrayXd& target) {
    Eigen::Index top = 0;
    p.maxCoeff(&top);
    const double all = p.sum();
    if (!(all > 0))
        return {};
    return {(p * target).sum() / all, target[top]};
}

/// The same from log-weights (-inf allowed), for rows whose weights underflow.
RowGrounding groundingOfLogs(const Eigen::ArrayXd& logP, const Eigen::ArrayXd& target) {
    Eigen::Index top = 0;
    const double largest = logP.maxCoeff(&top);
    if (!(largest > -INFINITY))
        return {};
    const Eigen::ArrayXd p = (logP - largest).exp(); // the largest is 1: no underflow of the sum
    return {(p * target).sum() / p.sum(), target[top]};
}

/// Below this the largest weight of a row has lost its digits: the log-domain path.
constexpr double kTinyWeight = 1e-300;

} // namespace

std::vector<Grounding> evaluateGrounding(const Workload& workload, std::span<const double> saliency,
                                         std::span<const double> lambdas,
                                         const SteeringParams& params, const GroundingKeys& keys,
                                         int threads, const RunControl& control) {
    const std::vector<unsigned char> steeredUnits =
        checkSteeringInputs(workload, saliency, lambdas, params);
    checkGroundingKeys(keys, workload.keys());
    const int keyCount = workload.keys();
    const int visionStart = keys.hasVisionSpan() ? keys.visionStart : 0;
    const int visionCount = keys.hasVisionSpan() ? keys.visionCount : keyCount;
    const std::size_t lambdaCount = lambdas.size();
    const bool hasTarget = keys.hasTarget();
    const double gate = gateNats(params, keyCount);
    const bool needsEntropy = params.gateEntropy > 0;
    if (threads <= 0)
        threads = omp_get_max_threads();

    const Eigen::Map<const Eigen::ArrayXd> s(saliency.data() + visionStart, visionCount);
    Eigen::ArrayXd target = Eigen::ArrayXd::Zero(visionCount);
    if (hasTarget)
        for (int k = 0; k < visionCount; ++k)
            target[k] = keys.target[std::size_t(visionStart + k)] ? 1.0 : 0.0;
    // w = e^{lambda s - max_V lambda s} <= 1 over V, a column per lambda (any shift cancels).
    Eigen::ArrayXXd weights(visionCount, Eigen::Index(lambdaCount));
    for (std::size_t l = 0; l < lambdaCount; ++l) {
        const Eigen::ArrayXd bias = lambdas[l] * s;
        weights.col(Eigen::Index(l)) = (bias - bias.maxCoeff()).exp();
    }

    const Pieces pieces(workload);
    PieceTotals totals(pieces.count(), lambdaCount, std::size_t(visionCount));
    const std::size_t blockRows =
        std::clamp<std::size_t>((std::size_t(8) << 20) / (std::size_t(keyCount) * 4), 1, 32);
    struct State {
        std::vector<float> raw;
        Eigen::ArrayXd a, logA, p, logP;
    };
    forEachPiece(
        pieces, threads, control,
        [&] {
            return State{std::vector<float>(blockRows * std::size_t(keyCount)),
                         Eigen::ArrayXd(keyCount), Eigen::ArrayXd(keyCount),
                         Eigen::ArrayXd(visionCount), Eigen::ArrayXd(visionCount)};
        },
        [&](std::size_t piece, State& state) {
            const std::size_t unit = pieces.head(piece);
            double* columns = totals.columns.data() + piece * std::size_t(visionCount);
            Eigen::Map<Eigen::ArrayXd> columnSums(columns, visionCount);
            columnSums.setZero();
            double visionMass = 0, targetOriginal = 0, pointingOriginal = 0;
            std::vector<double> targetSteered(lambdaCount, 0.0), pointingSteered(lambdaCount, 0.0);
            const std::size_t end = pieces.firstRow(piece) + pieces.rows(piece);
            for (std::size_t first = pieces.firstRow(piece); first < end; first += blockRows) {
                const std::size_t count = std::min(blockRows, end - first);
                workload.fillRows(first, count, state.raw.data());
                for (std::size_t i = 0; i < count; ++i) {
                    const Eigen::Map<const Eigen::ArrayXf> raw(
                        state.raw.data() + i * std::size_t(keyCount), keyCount);
                    Eigen::ArrayXd& a = state.a;
                    double entropy = 0;
                    if (workload.holdsLogits()) {
                        state.logA = raw.cast<double>() - double(raw.maxCoeff());
                        a = safeExp(state.logA);
                        const double sum = a.sum();
                        a *= 1.0 / sum;
                        if (needsEntropy) // log A = Z - max - log sum: no logarithm per key
                            entropy = -(a * (state.logA - std::log(sum)).max(-745.0)).sum();
                    } else {
                        a = raw.cast<double>();
                        if (needsEntropy)
                            entropy = -(a * a.log().max(-745.0)).sum();
                    }
                    const auto vision = a.segment(visionStart, visionCount);
                    const double mass = vision.sum();
                    visionMass += mass;
                    columnSums += vision;
                    if (!hasTarget)
                        continue;
                    const RowGrounding original = groundingOf(vision, target);
                    targetOriginal += original.targetMass;
                    pointingOriginal += original.pointing;
                    const std::size_t row = first + i;
                    const std::size_t query = row % std::size_t(workload.queries());
                    const bool steered = steering::isRowSteered(
                        steeredUnits[unit] != 0,
                        params.steeredQueries.empty() || params.steeredQueries[query] != 0, entropy,
                        gate);
                    for (std::size_t l = 0; l < lambdaCount; ++l) {
                        RowGrounding after = original;
                        // A row that cannot see the image (its vision keys masked) stays blind:
                        // what eps lends the masked keys is not attention on the object.
                        if (steered && mass > 0) {
                            state.p = (vision + params.eps) * weights.col(Eigen::Index(l));
                            if (state.p.maxCoeff() > kTinyWeight)
                                after = groundingOf(state.p, target);
                            else {
                                state.logP = (vision + params.eps).log() +
                                             lambdas[l] * s; // -inf where A + eps = 0
                                after = groundingOfLogs(state.logP, target);
                            }
                        }
                        targetSteered[l] += after.targetMass;
                        pointingSteered[l] += after.pointing;
                    }
                }
            }
            totals.visionMass[piece] = visionMass;
            totals.targetOriginal[piece] = targetOriginal;
            totals.pointingOriginal[piece] = pointingOriginal;
            std::copy(targetSteered.begin(), targetSteered.end(),
                      totals.targetSteered.begin() + std::ptrdiff_t(piece * lambdaCount));
            std::copy(pointingSteered.begin(), pointingSteered.end(),
                      totals.pointingSteered.begin() + std::ptrdiff_t(piece * lambdaCount));
        });

    // Per head: its pieces in order; then the per-head figures of its mean attention.
    const std::size_t units = std::size_t(workload.heads());
    const double queries = workload.queries();
    std::vector<double> visionMass(units), targetOriginal(units), pointingOriginal(units);
    std::vector<double> targetSteered(units * lambdaCount), pointingSteered(units * lambdaCount);
    std::vector<GroundingSummary> perHead(units);
    Eigen::ArrayXd meanAttention(visionCount);
    std::vector<double> saliencyOnVision(s.begin(), s.end());
    for (std::size_t unit = 0, piece = 0; unit < units; ++unit) {
        meanAttention.setZero();
        for (; piece < pieces.count() && pieces.head(piece) == unit; ++piece) {
            visionMass[unit] += totals.visionMass[piece];
            targetOriginal[unit] += totals.targetOriginal[piece];
            pointingOriginal[unit] += totals.pointingOriginal[piece];
            for (std::size_t l = 0; l < lambdaCount; ++l) {
                targetSteered[unit * lambdaCount + l] +=
                    totals.targetSteered[piece * lambdaCount + l];
                pointingSteered[unit * lambdaCount + l] +=
                    totals.pointingSteered[piece * lambdaCount + l];
            }
            meanAttention += Eigen::Map<const Eigen::ArrayXd>(
                totals.columns.data() + piece * std::size_t(visionCount), visionCount);
        }
        meanAttention /= queries;
        const std::span<const double> mean(meanAttention.data(), std::size_t(visionCount));
        GroundingSummary& head = perHead[unit];
        head.saliencyCorrelation = pearsonCorrelation(mean, saliencyOnVision);
        if (keys.hasVisionSpan()) {
            head.visionMass = visionMass[unit] / queries;
            if (keys.grid.isSet())
                head.spatialEntropy = spatialEntropy(mean, keys.grid);
        }
    }

    std::vector<Grounding> results(lambdaCount);
    const double rows = queries * double(units);
    for (std::size_t l = 0; l < lambdaCount; ++l) {
        Grounding& out = results[l];
        out.lambda = lambdas[l];
        out.heads = perHead;
        double allVision = 0, allTargetOriginal = 0, allTargetSteered = 0, allPointingOriginal = 0,
               allPointingSteered = 0, correlation = 0, entropy = 0;
        int correlated = 0, withEntropy = 0;
        for (std::size_t unit = 0; unit < units; ++unit) {
            GroundingSummary& head = out.heads[unit];
            if (hasTarget) {
                head.targetMassOriginal = targetOriginal[unit] / queries;
                head.pointingOriginal = pointingOriginal[unit] / queries;
                head.targetMassSteered = targetSteered[unit * lambdaCount + l] / queries;
                head.pointingSteered = pointingSteered[unit * lambdaCount + l] / queries;
            }
            allVision += visionMass[unit];
            allTargetOriginal += targetOriginal[unit];
            allPointingOriginal += pointingOriginal[unit];
            allTargetSteered += targetSteered[unit * lambdaCount + l];
            allPointingSteered += pointingSteered[unit * lambdaCount + l];
            if (!std::isnan(head.saliencyCorrelation))
                correlation += head.saliencyCorrelation, ++correlated;
            if (!std::isnan(head.spatialEntropy))
                entropy += head.spatialEntropy, ++withEntropy;
        }
        GroundingSummary& total = out.total;
        if (keys.hasVisionSpan())
            total.visionMass = allVision / rows;
        if (hasTarget) {
            total.targetMassOriginal = allTargetOriginal / rows;
            total.targetMassSteered = allTargetSteered / rows;
            total.pointingOriginal = allPointingOriginal / rows;
            total.pointingSteered = allPointingSteered / rows;
        }
        if (correlated)
            total.saliencyCorrelation = correlation / correlated;
        if (withEntropy)
            total.spatialEntropy = entropy / withEntropy;
    }
    return results;
}

} // namespace attnsteer
