// The CPU backend: Eigen, OpenMP over pieces of rows, everything accumulated in double (the
// entropy reduction, a difference of two nearly equal entropies, keeps its digits).
//
// The per-row algebra (H(A') and KL from S1, S2, S3, the shifted log, the fallback where S1
// underflows) is attnsteer/steering.h; the two paths of a lambda (moments, exact) and which one
// each lambda takes are attnsteer/chebyshev.h. Here:
//   moments  the lambda-free moments M = E T and N = (E x) T (rows x kTerms) and the row sums are
//            computed by one pass over the values per workload, saliency and eps and kept; a
//            lambda is then S1 = M f, S2 = N f, S3 = M g for a block of rows: small matrix
//            products that never read the values, except for a row that fails the series'
//            accuracy check (chebyshev::rowWithinTolerance), which is computed from its values.
//   exact    a pass over the values: a block of rows' E and E x times the K x L matrices of w and
//            w s~ for L lambdas give S1, S2 and S3 as small matrix products.
// Rows go in pieces of at most kPieceRows rows of one head, the unit of parallel work: each
// piece sums its rows' metrics in row order and the pieces of a head are added in order, so the
// results do not depend on the thread count, and nothing per row and lambda is ever stored.
#include "attnsteer/backend.h"

#include "attnsteer/chebyshev.h"
#include "attnsteer/errors.h"
#include "attnsteer/steering.h"
#include "cpu_rows.h"

#include <Eigen/Dense>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <sys/mman.h>

namespace attnsteer {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using chebyshev::kTerms;

/// X = log(A + eps) of a row, vectorized: steering::shiftedLogSeries over the whole row, then
/// steering::shiftedLog for the few keys where the series does not hold (A tiny or 0).
template <typename A, typename LogA>
void logOfShifted(const A& a, const LogA& logA, double eps, Eigen::ArrayXd& x) {
    if (eps == 0) {
        x = logA;
        return;
    }
    const Eigen::ArrayXd y = eps / a; // +inf where A = 0
    x = steering::shiftedLogSeries(logA, y);
    if (y.maxCoeff() >= steering::kLogSeriesLimit) { // maxCoeff vectorizes, any() does not
        // Keys with A tiny but not 0 need log(A + eps) itself. A peaked row (the transformer
        // workload's: most keys below 1e-5) has hundreds of them; one vectorized logarithm of the
        // whole row then costs less than a scalar one per key (64 % of such a pass before).
        const Eigen::Index tiny = (y >= steering::kLogSeriesLimit && a > 0.0).count();
        if (tiny * 8 > a.size()) {
            const Eigen::ArrayXd direct = (a + eps).log();
            for (Eigen::Index k = 0; k < a.size(); ++k)
                if (y[k] >= steering::kLogSeriesLimit)
                    x[k] = direct[k];
            return;
        }
        // Masked keys (A = 0: half of a causal dump) all get log eps: one logarithm, not one
        // per key.
        const double logEps = std::log(eps);
        for (Eigen::Index k = 0; k < a.size(); ++k)
            if (y[k] >= steering::kLogSeriesLimit)
                x[k] = a[k] == 0 ? logEps : steering::shiftedLog(a[k], logA[k], eps);
    }
}

/// Buffers of one thread for a block of rows.
struct BlockBuffers {
    std::vector<float> raw;  ///< the rows as stored or generated
    RowMatrix e, ex;         ///< E and E x, a row per attention row
    Eigen::ArrayXXd a, logA; ///< A and log A, a column per attention row
    std::vector<steering::RowSums> sums;
    Eigen::ArrayXd x; ///< x of the row being prepared; the fallback's scratch afterwards
    BlockBuffers(std::size_t rows, Eigen::Index keys)
        : raw(rows * std::size_t(keys)), e(Eigen::Index(rows), keys), ex(Eigen::Index(rows), keys),
          a(keys, Eigen::Index(rows)), logA(keys, Eigen::Index(rows)), sums(rows), x(keys) {}
};

/// Fills A, log A, E and E x of row I of the block from its stored values; returns its sums.
steering::RowSums prepareRow(const float* values, bool holdsLogits, double eps,
                             const Eigen::ArrayXd& shiftedSaliency, BlockBuffers& buffers, int i) {
    const Eigen::Index keys = shiftedSaliency.size();
    const Eigen::Map<const Eigen::ArrayXf> raw(values, keys);
    auto a = buffers.a.col(i);
    auto logA = buffers.logA.col(i);
    if (holdsLogits) {
        logA = raw.cast<double>() - double(raw.maxCoeff());
        a = safeExp(logA);
        const double sum = a.sum();
        a *= 1.0 / sum;
        logA -= std::log(sum);
    } else {
        a = raw.cast<double>();
        logA = a.log(); // -inf at exact zeros, handled by the selects below
    }
    Eigen::ArrayXd& x = buffers.x;
    logOfShifted(a, logA, eps, x);
    auto e = buffers.e.row(i).array().transpose();
    auto ex = buffers.ex.row(i).array().transpose();
    e = a + eps;
    steering::RowSums sums;
    // 0 log 0 = 0: where A = 0 (masked keys), log A and, without eps, x are -inf, and the
    // products would be 0 x -inf = NaN. A floor below every finite logarithm of a double
    // (log 4.9e-324 = -744.4) turns them into 0 and changes nothing else; unlike select(),
    // which Eigen 3.4 evaluates one scalar at a time, max() vectorizes.
    constexpr double kBelowEveryLog = -745.0;
    ex = e * x.max(kBelowEveryLog);
    sums.entropy = -(a * logA.max(kBelowEveryLog)).sum();
    sums.sumAx = (a * x.max(kBelowEveryLog)).sum();
    sums.sumAShifted = (a * shiftedSaliency).sum();
    sums.sumA = a.sum();
    return sums;
}

/// Rows FIRST .. FIRST + COUNT - 1 fetched (or generated) and prepared into BUFFERS.
void prepareBlock(const Workload& workload, double eps, const Eigen::ArrayXd& shifted,
                  std::size_t first, int count, BlockBuffers& buffers) {
    const std::size_t keys = std::size_t(shifted.size());
    workload.fillRows(first, std::size_t(count), buffers.raw.data());
    for (int i = 0; i < count; ++i)
        buffers.sums[std::size_t(i)] = prepareRow(buffers.raw.data() + std::size_t(i) * keys,
                                                  workload.holdsLogits(), eps, shifted, buffers, i);
}

/// What the passes produce: per piece the sums over its rows, in row order, of H(A), sum A s and
/// the rows steered, and per lambda (L per piece) of H(A'), KL(A||A') and sum A' s.
struct PieceSums {
    std::size_t lambdaCount;
    std::vector<double> entropyOriginal, expectationOriginal, rowsSteered;
    std::vector<double> entropySteered, kl, expectationSteered;
    PieceSums(std::size_t pieces, std::size_t lambdas)
        : lambdaCount(lambdas), entropyOriginal(pieces), expectationOriginal(pieces),
          rowsSteered(pieces), entropySteered(pieces * lambdas), kl(pieces * lambdas),
          expectationSteered(pieces * lambdas) {}
    double* steeredOf(std::size_t piece) { return entropySteered.data() + piece * lambdaCount; }
    double* klOf(std::size_t piece) { return kl.data() + piece * lambdaCount; }
    double* expectationOf(std::size_t piece) {
        return expectationSteered.data() + piece * lambdaCount;
    }
};

/// Which rows get the bias (steering::isRowSteered) and the saliency's maximum, for the passes.
struct RowGate {
    const std::vector<unsigned char>& steeredUnits; ///< per backend head
    std::span<const unsigned char> steeredQueries;  ///< per query, or empty = every query
    double gateNats;
    std::size_t queries;
    double maxSaliency;
    bool rowSteered(std::size_t row, const steering::RowSums& sums) const {
        const std::size_t query = row % queries;
        return steering::isRowSteered(steeredUnits[row / queries] != 0,
                                      steeredQueries.empty() || steeredQueries[query] != 0,
                                      sums.entropy, gateNats);
    }
};

/// Running sums of a piece's rows at one lambda.
struct LambdaSums {
    double entropy = 0, kl = 0, expectation = 0;
    void add(const steering::SteeredMetrics& row, double maxSaliency) {
        entropy += row.entropy, kl += row.kl, expectation += row.expectationShifted + maxSaliency;
    }
};

/// Doubles in memory the kernel may back with 2 MiB pages. The moment tables are written once per
/// workload into fresh memory: with 4 KiB pages their first touch (6400 page faults for 25 MB at
/// the default size) cost more than computing them; with huge pages it is a few dozen.
class HugePageArray {
  public:
    explicit HugePageArray(std::size_t count) {
        constexpr std::size_t kHugePage = std::size_t(2) << 20;
        const std::size_t bytes = std::max<std::size_t>(count * sizeof(double), 1);
        const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
        void* memory = std::aligned_alloc(kHugePage, rounded);
        if (!memory)
            throw std::bad_alloc();
        madvise(memory, rounded, MADV_HUGEPAGE); // advice only: 4 KiB pages if refused
        data_.reset(static_cast<double*>(memory));
    }
    double* data() const { return data_.get(); }

  private:
    struct Free {
        void operator()(double* p) const { std::free(p); }
    };
    std::unique_ptr<double, Free> data_;
};

/// The lambda-free moments of one workload, saliency and eps (attnsteer/chebyshev.h), and the
/// lambda-free sums of every row.
///
/// The keys at the saliency's minimum u0 (the text tokens of a dump at saliency 0, the zeros of a
/// binary saliency) are summed apart, in MIN_E = sum E and MIN_EX = sum E x over them, and left out
/// of M and N: their weight e^{lambda u0} is exact, so a row whose attention sits on them (most
/// rows of a vision-language model) no longer has the smallest weight times its whole mass carried
/// by the series, whose rounding is relative to the largest weight. S1 = M f + e^{lambda u0} MIN_E,
/// S2 = N f + e^{lambda u0} MIN_EX, S3 = M g + u0 e^{lambda u0} MIN_E.
struct Moments {
    std::uint64_t workloadId = 0;
    double eps = 0;
    std::vector<double> saliency;
    HugePageArray mStorage, nStorage;
    Eigen::Map<Eigen::MatrixXd> m, n; ///< rows x kTerms, over the storage above
    Eigen::VectorXd minE, minEx;      ///< per row, over the keys at the minimum
    std::vector<steering::RowSums> sums;

    explicit Moments(std::size_t rows)
        : mStorage(rows * kTerms), nStorage(rows * kTerms),
          m(mStorage.data(), Eigen::Index(rows), kTerms),
          n(nStorage.data(), Eigen::Index(rows), kTerms), minE(Eigen::Index(rows)),
          minEx(Eigen::Index(rows)), sums(rows) {}
};

} // namespace

std::size_t momentBytes(std::size_t rows) {
    return rows * ((2 * kTerms + 2) * sizeof(double) + sizeof(steering::RowSums));
}

namespace {

class CpuBackend final : public Backend {
  public:
    explicit CpuBackend(const CpuBackendOptions& options)
        : threads_(options.threads > 0 ? options.threads : omp_get_max_threads()),
          blockRows_(std::size_t(std::max(1, options.blockRows))), useMoments_(options.useMoments),
          maxMomentBytes_(options.maxMomentBytes) {}
    std::string name() const override { return "cpu"; }

    std::vector<Metrics> evaluate(const Workload& workload, std::span<const double> saliency,
                                  std::span<const double> lambdas, const SteeringParams& params,
                                  const RunControl& control) override;
    TokenRow row(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params, int head, int query) override;
    std::size_t cachedBytes() const override {
        std::lock_guard lock(cacheMutex_);
        return cache_ ? momentBytes(cache_->sums.size()) : 0;
    }

  private:
    /// The moments of WORKLOAD, SALIENCY and EPS: the cached ones, or computed by a pass over the
    /// values (and cached when CONTROL keeps caches).
    std::shared_ptr<const Moments> moments(const Workload& workload,
                                           std::span<const double> saliency,
                                           const Eigen::ArrayXd& shifted, double eps,
                                           const Pieces& pieces, const RunControl& control);
    /// The moments path for PLAN's moments lambdas into OUT. A row whose sums from the moments
    /// miss chebyshev::kRowTolerance (or whose S1 underflowed) is computed from its values.
    void momentsPass(const Workload& workload, const Moments& cached,
                     const Eigen::ArrayXd& saliency, const Eigen::ArrayXd& shifted, double eps,
                     const chebyshev::LambdaPlan& plan, std::span<const double> lambdas,
                     const RowGate& gate, const Pieces& pieces, const RunControl& control,
                     PieceSums& out);
    /// The exact pass for the lambdas at COLUMNS of LAMBDAS into OUT.
    void exactPass(const Workload& workload, const Eigen::ArrayXd& saliency,
                   const Eigen::ArrayXd& shifted, std::span<const double> lambdas,
                   const std::vector<std::size_t>& columns, const RowGate& gate, double eps,
                   const Pieces& pieces, const RunControl& control, PieceSums& out);

    /// Rows per block for WORKLOAD: the configured count, fewer for very long rows so that a
    /// thread's block buffers (about 40 bytes per value) stay within 32 MiB: one row of 4 million
    /// keys took 2.9 GB in blocks of 32.
    std::size_t blockRowsFor(const Workload& workload) const {
        constexpr std::size_t kBlockBytes = std::size_t(32) << 20;
        const std::size_t fit = kBlockBytes / (std::size_t(workload.keys()) * 40);
        return std::clamp<std::size_t>(fit, 1, blockRows_);
    }

    int threads_;
    std::size_t blockRows_;
    bool useMoments_;
    std::size_t maxMomentBytes_;
    mutable std::mutex cacheMutex_;
    std::shared_ptr<const Moments> cache_;
};

std::shared_ptr<const Moments> CpuBackend::moments(const Workload& workload,
                                                   std::span<const double> saliency,
                                                   const Eigen::ArrayXd& shifted, double eps,
                                                   const Pieces& pieces,
                                                   const RunControl& control) {
    {
        std::lock_guard lock(cacheMutex_);
        if (cache_ && cache_->workloadId == workload.id() && cache_->eps == eps &&
            std::equal(saliency.begin(), saliency.end(), cache_->saliency.begin(),
                       cache_->saliency.end()))
            return cache_;
    }
    const std::size_t blockRows = blockRowsFor(workload);
    auto fresh = std::make_shared<Moments>(workload.rowCount());
    fresh->workloadId = workload.id();
    fresh->eps = eps;
    fresh->saliency.assign(saliency.begin(), saliency.end());
    Eigen::MatrixXd basis(shifted.size(), kTerms); // T_j(t_k), K x kTerms
    const double lowest = shifted.minCoeff();
    chebyshev::Range(lowest).basis(std::span(shifted.data(), std::size_t(shifted.size())),
                                   basis.data(), 1, std::size_t(shifted.size()));
    // The keys at the minimum: out of the series, into MIN_E and MIN_EX (Moments). Summed by
    // index: one key of a random saliency, a dump's text tokens; not another pass over the block.
    std::vector<Eigen::Index> atMinimum;
    for (Eigen::Index k = 0; k < shifted.size(); ++k)
        if (shifted[k] == lowest) {
            atMinimum.push_back(k);
            basis.row(k).setZero();
        }
    forEachPiece(
        pieces, threads_, control, [&] { return BlockBuffers(blockRows, shifted.size()); },
        [&](std::size_t piece, BlockBuffers& buffers) {
            const std::size_t end = pieces.firstRow(piece) + pieces.rows(piece);
            for (std::size_t first = pieces.firstRow(piece); first < end; first += blockRows) {
                const int count = int(std::min(blockRows, end - first));
                prepareBlock(workload, eps, shifted, first, count, buffers);
                fresh->m.middleRows(Eigen::Index(first), count).noalias() =
                    buffers.e.topRows(count) * basis;
                fresh->n.middleRows(Eigen::Index(first), count).noalias() =
                    buffers.ex.topRows(count) * basis;
                fresh->minE.segment(Eigen::Index(first), count) =
                    buffers.e.topRows(count)(Eigen::all, atMinimum).rowwise().sum();
                fresh->minEx.segment(Eigen::Index(first), count) =
                    buffers.ex.topRows(count)(Eigen::all, atMinimum).rowwise().sum();
                std::copy_n(buffers.sums.begin(), count, fresh->sums.begin() + first);
            }
        });
    std::lock_guard lock(cacheMutex_);
    if (control.keepCaches)
        cache_ = fresh;
    return fresh;
}

/// S1, S2, S3 and log S1 of a piece or block of rows (a row each) for L lambdas (a column each).
struct Products {
    Eigen::MatrixXd s1, s2, s3, logS1;
    Products(std::size_t rows, std::size_t lambdas)
        : s1(Eigen::Index(rows), Eigen::Index(lambdas)), s2(s1.rows(), s1.cols()),
          s3(s1.rows(), s1.cols()), logS1(s1.rows(), s1.cols()) {}
    /// log S1 of the first ROWS rows, vectorized: the scalar logarithm per row and lambda took a
    /// third of a many-lambda evaluation.
    void takeLogs(Eigen::Index rows) {
        logS1.topRows(rows).array() = s1.topRows(rows).array().log();
    }
    /// The metrics of row I, lambda column C, as steering::metricsGivenLogS1.
    bool metrics(const steering::RowSums& sums, double lambda, Eigen::Index i, Eigen::Index c,
                 steering::SteeredMetrics& out) const {
        return steering::metricsGivenLogS1(sums, lambda, s1(i, c), logS1(i, c), s2(i, c), s3(i, c),
                                           out);
    }
};

/// The lambda-free results of the rows FIRST .. FIRST + ROWS - 1 of PIECE into OUT (H(A), sum A s
/// as unsteeredMetrics gives it, so that a row that keeps A' = A adds the same bits to both sums),
/// and whether each row is steered into FLAGS. Returns how many are.
std::size_t addOriginalSums(std::span<const steering::RowSums> sums, std::size_t firstRow,
                            const RowGate& gate, std::size_t piece, PieceSums& out,
                            unsigned char* flags) {
    std::size_t steeredRows = 0;
    for (std::size_t i = 0; i < sums.size(); ++i) {
        out.entropyOriginal[piece] += sums[i].entropy;
        out.expectationOriginal[piece] +=
            steering::unsteeredMetrics(sums[i], gate.maxSaliency).expectationShifted +
            gate.maxSaliency;
        flags[i] = gate.rowSteered(firstRow + i, sums[i]) ? 1 : 0;
        steeredRows += flags[i];
    }
    out.rowsSteered[piece] += double(steeredRows);
    return steeredRows;
}

/// A piece none of whose rows is steered: A' = A for every lambda of COLUMNS.
void copyOriginalSums(std::size_t piece, std::span<const std::size_t> columns, PieceSums& out) {
    for (std::size_t l : columns) {
        out.steeredOf(piece)[l] = out.entropyOriginal[piece];
        out.klOf(piece)[l] = 0;
        out.expectationOf(piece)[l] = out.expectationOriginal[piece];
    }
}

void CpuBackend::momentsPass(const Workload& workload, const Moments& cached,
                             const Eigen::ArrayXd& saliency, const Eigen::ArrayXd& shifted,
                             double eps, const chebyshev::LambdaPlan& plan,
                             std::span<const double> lambdas, const RowGate& gate,
                             const Pieces& pieces, const RunControl& control, PieceSums& out) {
    const std::size_t count = plan.moments.size();
    const Eigen::Map<const Eigen::MatrixXd> fAll(plan.f.data(), kTerms, Eigen::Index(count));
    const Eigen::Map<const Eigen::MatrixXd> gAll(plan.g.data(), kTerms, Eigen::Index(count));
    const auto f = fAll.topRows(plan.terms), g = gAll.topRows(plan.terms);
    const double lowest = shifted.minCoeff(); // u0, the keys summed apart (Moments)
    struct State {
        Products products;
        std::vector<unsigned char> flags;
        /// The values of the last row that failed the check, for its other lambdas.
        std::optional<BlockBuffers> failed;
        std::size_t failedRow = std::size_t(-1);
    };
    // No progress from this pass: it reads the values of failing rows only and takes
    // milliseconds where few fail.
    forEachPiece(
        pieces, threads_, RunControl{nullptr, control.cancel},
        [&] {
            return State{Products(kPieceRows, count), std::vector<unsigned char>(kPieceRows), {}};
        },
        [&](std::size_t piece, State& state) {
            Products& products = state.products;
            const std::size_t first = pieces.firstRow(piece);
            const auto rows = Eigen::Index(pieces.rows(piece));
            const std::span<const steering::RowSums> sums(cached.sums.data() + first,
                                                          std::size_t(rows));
            out.entropyOriginal[piece] = out.expectationOriginal[piece] = 0;
            out.rowsSteered[piece] = 0;
            if (addOriginalSums(sums, first, gate, piece, out, state.flags.data()) == 0) {
                copyOriginalSums(piece, plan.moments, out);
                return;
            }
            const auto m = cached.m.block(Eigen::Index(first), 0, rows, plan.terms);
            products.s1.topRows(rows).noalias() = m * f;
            products.s3.topRows(rows).noalias() = m * g;
            products.s2.topRows(rows).noalias() =
                cached.n.block(Eigen::Index(first), 0, rows, plan.terms) * f;
            // The keys at the minimum, with their exact weight.
            const auto minE = cached.minE.segment(Eigen::Index(first), rows);
            const auto minEx = cached.minEx.segment(Eigen::Index(first), rows);
            for (std::size_t c = 0; c < count; ++c) {
                const double weight = std::exp(lambdas[plan.moments[c]] * lowest);
                const auto column = Eigen::Index(c);
                products.s1.col(column).head(rows) += weight * minE;
                products.s2.col(column).head(rows) += weight * minEx;
                products.s3.col(column).head(rows) += (lowest * weight) * minE;
            }
            products.takeLogs(rows);
            // A row the series does not serve, straight from its values (prepared once for all
            // the lambdas it fails in a row).
            const auto fromValues = [&](Eigen::Index i, double lambda) {
                const std::size_t row = first + std::size_t(i);
                if (!state.failed)
                    state.failed.emplace(1, shifted.size());
                if (state.failedRow != row) {
                    prepareBlock(workload, eps, shifted, row, 1, *state.failed);
                    state.failedRow = row;
                }
                BlockBuffers& values = *state.failed;
                return steering::steeredRowMetrics(
                    values.a.col(0).data(), values.logA.col(0).data(), saliency.data(),
                    gate.maxSaliency, std::size_t(shifted.size()), lambda, eps, values.x.data());
            };
            // A lambda at a time down its column: the sums stay in registers.
            for (std::size_t c = 0; c < count; ++c) {
                const std::size_t l = plan.moments[c];
                const double errorPerMass = plan.errorPerMass[c];
                LambdaSums total;
                for (Eigen::Index i = 0; i < rows; ++i) {
                    const steering::RowSums& row = sums[std::size_t(i)];
                    steering::SteeredMetrics one;
                    if (!state.flags[std::size_t(i)])
                        one = steering::unsteeredMetrics(row, gate.maxSaliency);
                    // M_0: the mass the series carries (the keys at the minimum are exact).
                    else if (!chebyshev::rowWithinTolerance(errorPerMass,
                                                            cached.m(Eigen::Index(first) + i, 0),
                                                            products.s1(i, Eigen::Index(c))) ||
                             !products.metrics(row, lambdas[l], i, Eigen::Index(c), one))
                        one = fromValues(i, lambdas[l]);
                    total.add(one, gate.maxSaliency);
                }
                out.steeredOf(piece)[l] = total.entropy, out.klOf(piece)[l] = total.kl;
                out.expectationOf(piece)[l] = total.expectation;
            }
        });
}

void CpuBackend::exactPass(const Workload& workload, const Eigen::ArrayXd& saliency,
                           const Eigen::ArrayXd& shifted, std::span<const double> lambdas,
                           const std::vector<std::size_t>& columns, const RowGate& gate, double eps,
                           const Pieces& pieces, const RunControl& control, PieceSums& out) {
    const Eigen::Index keys = shifted.size();
    const std::size_t blockRows = blockRowsFor(workload);
    const std::size_t count = columns.size();
    Eigen::MatrixXd weights(keys, Eigen::Index(count)), weightsTimesShifted(keys, weights.cols());
    for (Eigen::Index c = 0; c < weights.cols(); ++c) {
        weights.col(c) = safeExp(lambdas[columns[std::size_t(c)]] * shifted).matrix();
        weightsTimesShifted.col(c) = (weights.col(c).array() * shifted).matrix();
    }
    struct State {
        BlockBuffers buffers;
        Products products;
        std::vector<unsigned char> flags;
        std::vector<LambdaSums> totals;
    };
    forEachPiece(
        pieces, threads_, control,
        [&] {
            return State{BlockBuffers(blockRows, keys), Products(blockRows, count),
                         std::vector<unsigned char>(blockRows), std::vector<LambdaSums>(count)};
        },
        [&](std::size_t piece, State& state) {
            BlockBuffers& buffers = state.buffers;
            Products& products = state.products;
            std::fill(state.totals.begin(), state.totals.end(), LambdaSums{});
            out.entropyOriginal[piece] = out.expectationOriginal[piece] = 0;
            out.rowsSteered[piece] = 0;
            const std::size_t end = pieces.firstRow(piece) + pieces.rows(piece);
            for (std::size_t first = pieces.firstRow(piece); first < end; first += blockRows) {
                const int rows = int(std::min(blockRows, end - first));
                prepareBlock(workload, eps, shifted, first, rows, buffers);
                const std::span<const steering::RowSums> sums(buffers.sums.data(),
                                                              std::size_t(rows));
                if (addOriginalSums(sums, first, gate, piece, out, state.flags.data()) == 0) {
                    for (LambdaSums& total : state.totals)
                        for (const steering::RowSums& row : sums)
                            total.add(steering::unsteeredMetrics(row, gate.maxSaliency),
                                      gate.maxSaliency);
                    continue;
                }
                const auto e = buffers.e.topRows(rows);
                if (count == 1) {
                    // One lambda (a one-off evaluation): matrix-vector products; the matrix
                    // product would pack E for a single column, a third of the pass.
                    products.s1.col(0).head(rows).noalias() = e * weights.col(0);
                    products.s2.col(0).head(rows).noalias() =
                        buffers.ex.topRows(rows) * weights.col(0);
                    products.s3.col(0).head(rows).noalias() = e * weightsTimesShifted.col(0);
                } else {
                    products.s1.topRows(rows).noalias() = e * weights;
                    products.s2.topRows(rows).noalias() = buffers.ex.topRows(rows) * weights;
                    products.s3.topRows(rows).noalias() = e * weightsTimesShifted;
                }
                products.takeLogs(rows);
                // A lambda at a time down its column, carrying on the piece's sums in row order.
                for (std::size_t c = 0; c < count; ++c) {
                    const double lambda = lambdas[columns[c]];
                    LambdaSums& total = state.totals[c];
                    for (int i = 0; i < rows; ++i) {
                        const steering::RowSums& row = sums[std::size_t(i)];
                        steering::SteeredMetrics one;
                        if (!state.flags[std::size_t(i)])
                            one = steering::unsteeredMetrics(row, gate.maxSaliency);
                        else if (!products.metrics(row, lambda, i, Eigen::Index(c), one))
                            one = steering::steeredRowMetrics(
                                buffers.a.col(i).data(), buffers.logA.col(i).data(),
                                saliency.data(), gate.maxSaliency, std::size_t(keys), lambda, eps,
                                buffers.x.data());
                        total.add(one, gate.maxSaliency);
                    }
                }
            }
            if (out.rowsSteered[piece] == 0) { // the same bits as a piece of an unsteered head
                copyOriginalSums(piece, columns, out);
                return;
            }
            for (std::size_t c = 0; c < count; ++c) {
                const std::size_t l = columns[c];
                out.steeredOf(piece)[l] = state.totals[c].entropy;
                out.klOf(piece)[l] = state.totals[c].kl;
                out.expectationOf(piece)[l] = state.totals[c].expectation;
            }
        });
}

std::vector<Metrics> CpuBackend::evaluate(const Workload& workload,
                                          std::span<const double> saliency,
                                          std::span<const double> lambdas,
                                          const SteeringParams& params, const RunControl& control) {
    const auto started = std::chrono::steady_clock::now();
    const auto steered = checkSteeringInputs(workload, saliency, lambdas, params);

    const Eigen::Map<const Eigen::ArrayXd> s(saliency.data(), workload.keys());
    const Eigen::ArrayXd saliencyArray = s;
    const double maxSaliency = s.maxCoeff();
    const Eigen::ArrayXd shifted = s - maxSaliency;
    const RowGate gate{steered, params.steeredQueries, gateNats(params, workload.keys()),
                       std::size_t(workload.queries()), maxSaliency};
    const std::size_t lambdaCount = lambdas.size();
    const Pieces pieces(workload);
    PieceSums sums(pieces.count(), lambdaCount);

    // The moments of a workload too large for the budget are not kept: its lambdas take the
    // exact pass, which holds nothing per row (a dump of many layers evaluated once).
    const bool momentsFit = momentBytes(workload.rowCount()) <= maxMomentBytes_;
    // Building the moments costs more than one exact pass (a product with 48 basis columns
    // instead of one): worth it for several lambdas, or when more evaluations of the same inputs
    // follow (the window's lambda drag), not for a one-off such as `attnsteer-cli metrics`.
    const bool momentsPayOff = lambdas.size() > 1 || !control.oneOff;
    if (!momentsFit) {
        std::lock_guard lock(cacheMutex_);
        cache_.reset();
    }
    // Each row of the moments path is checked and, where the series does not serve it, computed
    // from its values: the moments reach lambdas whose weights span many orders of magnitude.
    const chebyshev::LambdaPlan plan = chebyshev::planLambdas(
        lambdas, chebyshev::Range(shifted.minCoeff()), useMoments_ && momentsFit && momentsPayOff,
        chebyshev::EachRowChecked{std::size_t(workload.keys())});
    if (!plan.moments.empty()) {
        const auto held = moments(workload, saliency, shifted, params.eps, pieces, control);
        momentsPass(workload, *held, saliencyArray, shifted, params.eps, plan, lambdas, gate,
                    pieces, control, sums);
    }
    if (!plan.exact.empty())
        exactPass(workload, saliencyArray, shifted, lambdas, plan.exact, gate, params.eps, pieces,
                  control, sums);
    if (!control.keepCaches) {
        std::lock_guard lock(cacheMutex_);
        cache_.reset();
    }

    const double elapsedMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    // Per-head sums, the pieces of a head in order, then the shared summary.
    HeadSums heads(std::size_t(workload.heads()), lambdaCount);
    for (std::size_t piece = 0; piece < pieces.count(); ++piece) {
        const std::size_t head = pieces.head(piece);
        heads.entropyOriginal[head] += sums.entropyOriginal[piece];
        heads.expectationOriginal[head] += sums.expectationOriginal[piece];
        heads.rowsSteered[head] += sums.rowsSteered[piece];
        for (std::size_t l = 0; l < lambdaCount; ++l) {
            const std::size_t at = head * lambdaCount + l;
            heads.entropySteered[at] += sums.steeredOf(piece)[l];
            heads.kl[at] += sums.klOf(piece)[l];
            heads.expectationSteered[at] += sums.expectationOf(piece)[l];
        }
    }
    return metricsFromHeadSums(lambdas, heads, workload.queries(), name(), elapsedMs);
}

TokenRow CpuBackend::row(const Workload& workload, std::span<const double> saliency,
                         const SteeringParams& params, int head, int query) {
    const auto steered =
        checkSteeringInputs(workload, saliency, std::span<const double>(&params.lambda, 1), params);
    if (head < 0 || head >= workload.heads())
        throw settingError("head", std::to_string(head) + " is out of range 0.." +
                                       std::to_string(workload.heads() - 1));
    if (query < 0 || query >= workload.queries())
        throw settingError("query", std::to_string(query) + " is out of range 0.." +
                                        std::to_string(workload.queries() - 1));
    TokenRow result;
    result.original.resize(std::size_t(workload.keys()));
    workload.attentionRow(head, query, result.original);
    result.steered.resize(result.original.size());
    if (!isRowSteered(params, steered[std::size_t(head)] != 0, query, result.original))
        result.steered = result.original;
    else
        steering::steeredRow(result.original.data(), saliency.data(), result.original.size(),
                             params.lambda, params.eps, result.steered.data());
    return result;
}

} // namespace

std::unique_ptr<Backend> makeCpuBackend(int threads) {
    CpuBackendOptions options;
    options.threads = threads;
    return makeCpuBackend(options);
}

std::unique_ptr<Backend> makeCpuBackend(const CpuBackendOptions& options) {
    return std::make_unique<CpuBackend>(options);
}

} // namespace attnsteer
