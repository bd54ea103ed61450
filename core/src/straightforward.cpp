#include "attnsteer/straightforward.h"

#include <Eigen/Dense>

#include <cmath>
#include <vector>

namespace attnsteer {

template <typename Scalar>
MetricSummary evaluateStraightforward(const Workload& workload, std::span<const double> saliency,
                                      const SteeringParams& params) {
    using Tensor = Eigen::Array<Scalar, Eigen::Dynamic, Eigen::Dynamic>; // K x rows, a row a column
    const Eigen::Index keys = workload.keys(), rows = Eigen::Index(workload.rowCount());
    // The one thing shared with the backends: which heads are steered, with the same checks.
    const std::vector<unsigned char> steered =
        checkSteeringInputs(workload, saliency, std::span(&params.lambda, 1), params);
    std::vector<float> values(std::size_t(rows * keys));
    workload.fillRows(0, std::size_t(rows), values.data());
    Tensor a = Eigen::Map<const Eigen::ArrayXXf>(values.data(), keys, rows).cast<Scalar>();
    if (workload.holdsLogits()) {
        a = (a.rowwise() - a.colwise().maxCoeff()).exp();
        a = a.rowwise() / a.colwise().sum();
    }
    const Eigen::Array<Scalar, Eigen::Dynamic, 1> bias =
        (Scalar(params.lambda) * Eigen::Map<const Eigen::ArrayXd>(saliency.data(), keys))
            .template cast<Scalar>();
    const Tensor logA = a.log();
    const Scalar zero(0);
    // Which rows get the bias: their head, their query, their normalized entropy (the gate).
    const Eigen::Array<Scalar, 1, Eigen::Dynamic> rowEntropy =
        -(a > zero).select(a * logA, zero).colwise().sum();
    auto rowSteered = [&](Eigen::Index row) {
        const auto query = std::size_t(row % workload.queries());
        return steered[std::size_t(row / workload.queries())] &&
               (params.steeredQueries.empty() || params.steeredQueries[query]) &&
               (params.gateEntropy <= 0 ||
                double(rowEntropy[row]) >= params.gateEntropy * std::log(double(keys)));
    };
    Tensor logits = (a + Scalar(params.eps)).log();
    for (Eigen::Index row = 0; row < rows; ++row)
        if (rowSteered(row))
            logits.col(row) += bias;
    Tensor steeredA = (logits.rowwise() - logits.colwise().maxCoeff()).exp();
    steeredA = steeredA.rowwise() / steeredA.colwise().sum();
    double rowsSteered = 0;
    for (Eigen::Index row = 0; row < rows; ++row)
        if (!rowSteered(row))
            steeredA.col(row) = a.col(row);
        else
            ++rowsSteered;
    const Tensor logSteered = steeredA.log();
    const Eigen::Map<const Eigen::ArrayXd> s(saliency.data(), keys);
    const double entropyA = double(rowEntropy.sum());
    const double entropySteered =
        -double((steeredA > zero).select(steeredA * logSteered, zero).sum());
    const double kl = double((a > zero).select(a * (logA - logSteered), zero).sum());
    MetricSummary summary;
    summary.entropyOriginal = entropyA / double(rows);
    summary.entropySteered = entropySteered / double(rows);
    summary.entropyReductionPct = (entropyA - entropySteered) / entropyA * 100.0;
    summary.kl = kl / double(rows);
    summary.saliencyExpectationOriginal =
        double((a.colwise() * s.cast<Scalar>()).sum()) / double(rows);
    summary.saliencyExpectationSteered =
        double((steeredA.colwise() * s.cast<Scalar>()).sum()) / double(rows);
    summary.rowsSteeredFraction = rowsSteered / double(rows);
    return summary;
}

template MetricSummary evaluateStraightforward<float>(const Workload&, std::span<const double>,
                                                      const SteeringParams&);
template MetricSummary evaluateStraightforward<double>(const Workload&, std::span<const double>,
                                                       const SteeringParams&);

} // namespace attnsteer
