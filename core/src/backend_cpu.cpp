// The CPU backend.
//
// Per row, with E = A + eps, x = log E, s~ = s - max s and w_k = exp(lambda s~_k) <= 1:
//   A'_k      = E_k w_k / S1,                       S1 = sum_k E_k w_k
//   H(A')     = log S1 - (S2 + lambda S3) / S1,     S2 = sum_k E_k x_k w_k,  S3 = sum_k E_k w_k
//   s~_k KL(A||A') = sum A log A - sum A x - lambda sum A s~ + (sum A) log S1
// (the shift by max s cancels in A' and keeps w from overflowing at large lambda). So a row needs
// only three dot products per lambda, and a block of rows times the K x L matrix of w for L
// lambdas is one small matrix product. Everything is accumulated in double, so the entropy
// reduction, a difference of two nearly equal entropies, keeps its digits.
#include "attnsteer/backend.h"

#include "attnsteer/errors.h"

#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <omp.h>

namespace attnsteer {

Metrics Backend::evaluate(const Workload& workload, std::span<const double> saliency,
                          const SteeringParams& params, const RunControl& control) {
    const double lambda = params.lambda;
    return evaluate(workload, saliency, std::span<const double>(&lambda, 1), params, control)
        .front();
}

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr int kBlockRows = 32; // rows per matrix product: 2 x 32 x K doubles stay in L2

/// e^x with e^-inf = 0. Eigen 3.4's vectorized exp clamps its argument at -709.78, so it returns
/// 5.6e-309 instead of 0 for masked (-inf) logits; below -708 the true value is under 3.3e-308
/// and 0 is what every sum here needs. (A select() around exp() would not vectorize: Eigen then
/// calls the scalar std::exp, three times slower; hence the fix-up only where needed.)
template <typename Derived> Eigen::ArrayXd safeExp(const Eigen::ArrayBase<Derived>& x) {
    Eigen::ArrayXd result = x.exp();
    if (x.minCoeff() < -708.0)
        for (Eigen::Index k = 0; k < result.size(); ++k)
            if (x[k] < -708.0)
                result[k] = 0;
    return result;
}

/// The lambda-free per-row quantities and the rows of E and E x for the products.
struct RowPreparation {
    double entropy = 0;     ///< H(A) = -sum A log A
    double sumAx = 0;       ///< sum A x
    double sumAShifted = 0; ///< sum A s~
    double sumA = 0;        ///< sum A (1 up to rounding for softmax rows)
};

/// log(A + eps) from log A without a logarithm per element where eps / A < 1e-4:
/// log(A + eps) = log A + log1p(y), y = eps / A, and log1p(y) = y - y^2/2 + y^3/3 - ... is exact in
/// double there to y^4/4 < 2.5e-17. The few other elements (A tiny or 0) take the logarithm.
void logOfShifted(const Eigen::ArrayXd& a, const Eigen::ArrayXd& logA, double eps,
                  Eigen::ArrayXd& x) {
    if (eps == 0) {
        x = logA;
        return;
    }
    constexpr double kSeriesLimit = 1e-4;
    const Eigen::ArrayXd y = eps / a; // +inf where A = 0
    x = logA + y * (1.0 - y * (0.5 - y * (1.0 / 3.0)));
    if (y.maxCoeff() >= kSeriesLimit) // maxCoeff vectorizes, any() of a comparison does not
        for (Eigen::Index k = 0; k < a.size(); ++k)
            if (y[k] >= kSeriesLimit)
                x[k] = std::log(a[k] + eps);
}

/// Fills A, log A, E = A + eps and E x for one row; returns the lambda-free sums. X is scratch.
RowPreparation prepareRow(const Workload& workload, int head, int query, double eps,
                          const Eigen::ArrayXd& shiftedSaliency, Eigen::Ref<Eigen::ArrayXd> a,
                          Eigen::Ref<Eigen::ArrayXd> logA, double* eRow, double* exRow,
                          Eigen::ArrayXd& x) {
    const auto values = workload.row(head, query);
    const Eigen::Index keys = Eigen::Index(values.size());
    const Eigen::Map<const Eigen::ArrayXf> raw(values.data(), keys);
    if (workload.holdsLogits()) {
        logA = raw.cast<double>() - double(raw.maxCoeff());
        a = safeExp(logA);
        const double sum = a.sum();
        a *= 1.0 / sum;
        logA -= std::log(sum);
    } else {
        a = raw.cast<double>();
        logA = a.log(); // -inf at exact zeros, handled by the selects below
    }
    logOfShifted(a, logA, eps, x);
    Eigen::Map<Eigen::ArrayXd> e(eRow, keys), ex(exRow, keys);
    e = a + eps;
    RowPreparation prep;
    if (a.minCoeff() > 0) { // every softmax row: no 0 log 0 terms, and the vectorized path
        ex = e * x;
        prep.entropy = -(a * logA).sum();
        prep.sumAx = (a * x).sum();
    } else {
        ex = (e > 0).select(e * x, 0.0);
        prep.entropy = -(a > 0).select(a * logA, 0.0).sum();
        prep.sumAx = (a > 0).select(a * x, 0.0).sum();
    }
    prep.sumAShifted = (a * shiftedSaliency).sum();
    prep.sumA = a.sum();
    return prep;
}

/// H(A') and KL(A||A') of one row and lambda straight from A, with the shift of the exponent by
/// the row's own largest live logit: used where S1 underflows (lambda in the hundreds, with the
/// saliency maximum on keys that this row masks out).
void steerRowDirect(const Eigen::ArrayXd& a, const Eigen::ArrayXd& logA, double eps,
                    const Eigen::ArrayXd& saliency, double lambda, double& entropy, double& kl) {
    const Eigen::ArrayXd e = a + eps;
    const Eigen::ArrayXd logits =
        (e > 0).select(e.log() + lambda * saliency, -std::numeric_limits<double>::infinity());
    const double shift = logits.maxCoeff();
    const Eigen::ArrayXd weights = safeExp(logits - shift);
    const double logSum = std::log(weights.sum()) + shift;
    const Eigen::ArrayXd logSteered = logits - logSum;
    const Eigen::ArrayXd steered = weights / weights.sum();
    entropy = -(steered > 0).select(steered * logSteered, 0.0).sum();
    kl = (a > 0).select(a * (logA - logSteered), 0.0).sum();
}

class CpuBackend final : public Backend {
  public:
    explicit CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {}
    std::string name() const override { return "cpu"; }

    std::vector<Metrics> evaluate(const Workload& workload, std::span<const double> saliency,
                                  std::span<const double> lambdas, const SteeringParams& params,
                                  const RunControl& control) override;
    TokenRow row(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params, int head, int query) override;

  private:
    int threads_;
};

std::vector<char> steeredMask(const Workload& workload, const SteeringParams& params) {
    std::vector<char> steered(std::size_t(workload.heads()), params.steeredHeads.empty());
    for (int head : params.steeredHeads) {
        if (head < 0 || head >= workload.heads())
            throw InputError("--steer-heads", "head " + std::to_string(head) +
                                                  " is out of range 0.." +
                                                  std::to_string(workload.heads() - 1));
        steered[std::size_t(head)] = 1;
    }
    return steered;
}

void checkInputs(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params) {
    if (saliency.size() != std::size_t(workload.keys()))
        throw InputError("saliency", "length is " + std::to_string(saliency.size()) +
                                         ", expected " + std::to_string(workload.keys()) +
                                         " (keys)");
    if (!(params.eps >= 0) || !std::isfinite(params.eps))
        throw InputError("--eps", "must be a finite number >= 0");
    for (double s : saliency)
        if (!std::isfinite(s))
            throw InputError("saliency", "contains NaN or Inf");
}

std::vector<Metrics> CpuBackend::evaluate(const Workload& workload,
                                          std::span<const double> saliency,
                                          std::span<const double> lambdas,
                                          const SteeringParams& params, const RunControl& control) {
    const auto started = std::chrono::steady_clock::now();
    checkInputs(workload, saliency, params);
    for (double lambda : lambdas)
        if (!std::isfinite(lambda))
            throw InputError("--lambda", "must be a finite number");
    const std::vector<char> steered = steeredMask(workload, params);

    const Eigen::Index keys = workload.keys();
    const Eigen::Index lambdaCount = Eigen::Index(lambdas.size());
    const Eigen::Map<const Eigen::ArrayXd> s(saliency.data(), keys);
    const Eigen::ArrayXd shifted = s - s.maxCoeff();
    Eigen::MatrixXd weights(keys, lambdaCount), weightsTimesShifted(keys, lambdaCount);
    for (Eigen::Index l = 0; l < lambdaCount; ++l) {
        weights.col(l) = safeExp(lambdas[std::size_t(l)] * shifted).matrix();
        weightsTimesShifted.col(l) = (weights.col(l).array() * shifted).matrix();
    }

    const std::size_t rows = workload.rowCount();
    const std::size_t blocks = (rows + kBlockRows - 1) / kBlockRows;
    // Per-row results, reduced afterwards in row order: the sums do not depend on the threads.
    std::vector<double> entropyOriginal(rows);
    std::vector<double> entropySteered(rows * lambdas.size()), kl(rows * lambdas.size());
    std::atomic<std::size_t> blocksDone{0};
    bool cancelled = false;

#pragma omp parallel num_threads(threads_)
    {
        RowMatrix e(kBlockRows, keys), ex(kBlockRows, keys);
        Eigen::ArrayXXd a(keys, kBlockRows), logA(keys, kBlockRows);
        RowPreparation prep[kBlockRows];
        Eigen::ArrayXd logScratch(keys);
#pragma omp for schedule(dynamic, 4)
        for (std::int64_t block = 0; block < std::int64_t(blocks); ++block) {
            if (control.cancel && control.cancel->load(std::memory_order_relaxed))
                continue;
            const std::size_t first = std::size_t(block) * kBlockRows;
            const int count = int(std::min<std::size_t>(kBlockRows, rows - first));
            for (int i = 0; i < count; ++i) {
                const std::size_t row = first + i;
                prep[i] = prepareRow(workload, int(row / workload.queries()),
                                     int(row % workload.queries()), params.eps, shifted, a.col(i),
                                     logA.col(i), e.row(i).data(), ex.row(i).data(), logScratch);
                entropyOriginal[row] = prep[i].entropy;
            }
            const auto eTop = e.topRows(count);
            const Eigen::MatrixXd s1 = eTop * weights;
            const Eigen::MatrixXd s2 = ex.topRows(count) * weights;
            const Eigen::MatrixXd s3 = eTop * weightsTimesShifted;
            for (int i = 0; i < count; ++i) {
                const std::size_t row = first + i;
                const bool rowSteered = steered[row / workload.queries()];
                for (Eigen::Index l = 0; l < lambdaCount; ++l) {
                    const double lambda = lambdas[std::size_t(l)];
                    double& hSteered = entropySteered[row * lambdas.size() + l];
                    double& divergence = kl[row * lambdas.size() + l];
                    if (!rowSteered) {
                        hSteered = prep[i].entropy, divergence = 0;
                        continue;
                    }
                    const double sum1 = s1(i, l);
                    if (!(sum1 > 1e-280)) {
                        steerRowDirect(a.col(i), logA.col(i), params.eps, s, lambda, hSteered,
                                       divergence);
                        continue;
                    }
                    const double logSum1 = std::log(sum1);
                    hSteered = logSum1 - (s2(i, l) + lambda * s3(i, l)) / sum1;
                    divergence = -prep[i].entropy - prep[i].sumAx - lambda * prep[i].sumAShifted +
                                 prep[i].sumA * logSum1;
                }
            }
            const std::size_t done = blocksDone.fetch_add(1) + 1;
            if (control.onProgress && omp_get_thread_num() == 0)
                control.onProgress(double(done) / double(blocks));
        }
    }
    if (control.cancel && control.cancel->load())
        cancelled = true;
    if (cancelled)
        throw Cancelled();

    const double elapsedMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    const std::size_t queries = std::size_t(workload.queries());
    auto summarize = [](double hOriginal, double hSteered, double divergence, double rowCount) {
        MetricSummary summary;
        summary.entropyOriginal = hOriginal / rowCount;
        summary.entropySteered = hSteered / rowCount;
        summary.entropyReductionPct = (hOriginal - hSteered) / hOriginal * 100.0;
        summary.kl = divergence / rowCount;
        return summary;
    };
    std::vector<Metrics> results(lambdas.size());
    for (std::size_t l = 0; l < lambdas.size(); ++l) {
        Metrics& metrics = results[l];
        metrics.lambda = lambdas[l];
        metrics.backend = name();
        metrics.elapsedMs = elapsedMs;
        double totalOriginal = 0, totalSteered = 0, totalKl = 0;
        for (int head = 0; head < workload.heads(); ++head) {
            double hOriginal = 0, hSteered = 0, divergence = 0;
            for (std::size_t q = 0; q < queries; ++q) {
                const std::size_t row = head * queries + q;
                hOriginal += entropyOriginal[row];
                hSteered += entropySteered[row * lambdas.size() + l];
                divergence += kl[row * lambdas.size() + l];
            }
            metrics.heads.push_back(summarize(hOriginal, hSteered, divergence, double(queries)));
            totalOriginal += hOriginal, totalSteered += hSteered, totalKl += divergence;
        }
        metrics.total = summarize(totalOriginal, totalSteered, totalKl, double(rows));
    }
    return results;
}

TokenRow CpuBackend::row(const Workload& workload, std::span<const double> saliency,
                         const SteeringParams& params, int head, int query) {
    checkInputs(workload, saliency, params);
    const std::vector<char> steered = steeredMask(workload, params);
    if (head < 0 || head >= workload.heads())
        throw InputError("head", std::to_string(head) + " is out of range 0.." +
                                     std::to_string(workload.heads() - 1));
    if (query < 0 || query >= workload.queries())
        throw InputError("query", std::to_string(query) + " is out of range 0.." +
                                      std::to_string(workload.queries() - 1));
    TokenRow result;
    result.original.resize(std::size_t(workload.keys()));
    workload.attentionRow(head, query, result.original);
    if (!steered[std::size_t(head)]) {
        result.steered = result.original;
        return result;
    }
    const Eigen::Map<const Eigen::ArrayXd> a(result.original.data(), workload.keys());
    const Eigen::Map<const Eigen::ArrayXd> s(saliency.data(), workload.keys());
    const Eigen::ArrayXd e = a + params.eps;
    const Eigen::ArrayXd logits =
        (e > 0).select(e.log() + params.lambda * s, -std::numeric_limits<double>::infinity());
    const Eigen::ArrayXd weights = safeExp(logits - logits.maxCoeff());
    result.steered.resize(result.original.size());
    Eigen::Map<Eigen::ArrayXd>(result.steered.data(), workload.keys()) = weights / weights.sum();
    return result;
}

} // namespace

std::unique_ptr<Backend> makeCpuBackend(int threads) {
    return std::make_unique<CpuBackend>(threads);
}

} // namespace attnsteer
