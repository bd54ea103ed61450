// The CPU backend.
//
// Per row, with E = A + eps, x = log E, s~ = s - max s and w_k = exp(lambda s~_k) <= 1:
//   A'_k      = E_k w_k / S1,                       S1 = sum_k E_k w_k
//   H(A')     = log S1 - (S2 + lambda S3) / S1,     S2 = sum_k E_k x_k w_k,  S3 = sum_k E_k w_k
//   s~_k KL(A||A') = sum A log A - sum A x - lambda sum A s~ + (sum A) log S1
// (the shift by max s cancels in A' and keeps w from overflowing at large lambda). So a row needs
// only three dot products per lambda, and a block of rows times the K x L matrix of w for L
// lambdas is one small matrix product (the exact pass). Everything is accumulated in double, so
// the entropy reduction, a difference of two nearly equal entropies, keeps its digits.
//
// Moments. s~ lies in [u0, 0], u0 = min s~. On t = (u - c) / h in [-1, 1] (c = u0/2, h = -u0/2)
// the functions f(u) = e^{lambda u} and g(u) = u e^{lambda u} have Chebyshev series whose
// coefficients fall like I_j(lambda h) ~ (lambda h / 2)^j / j!, so for moderate lambda h a
// degree-D interpolant f ~ sum_j c_j T_j(t) is exact to double precision. Then
//   S1 = sum_j c_j M_j,  S2 = sum_j c_j N_j,  S3 = sum_j g_j M_j,  M_j = sum_k E_k T_j(t_k),
//   N_j = sum_k E_k x_k T_j(t_k),
// and the lambda-free moments M, N (rows x D) are computed once per workload, saliency and eps by
// one pass over the rows. A lambda then costs O(rows x D) instead of O(rows x K). Lambdas whose
// series does not converge to double precision within D terms take the exact pass.
#include "attnsteer/backend.h"

#include "attnsteer/chebyshev.h"
#include "attnsteer/errors.h"

#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <omp.h>
#include <sys/mman.h>

namespace attnsteer {

std::vector<unsigned char> checkSteeringInputs(const Workload& workload,
                                               std::span<const double> saliency,
                                               std::span<const double> lambdas,
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
    for (double lambda : lambdas)
        if (!std::isfinite(lambda))
            throw InputError("--lambda", "must be a finite number");
    std::vector<unsigned char> steered(std::size_t(workload.heads()),
                                       params.steeredHeads.empty() ? 1 : 0);
    for (int head : params.steeredHeads) {
        if (head < 0 || head >= workload.heads())
            throw InputError("--steer-heads", "head " + std::to_string(head) +
                                                  " is out of range 0.." +
                                                  std::to_string(workload.heads() - 1));
        steered[std::size_t(head)] = 1;
    }
    return steered;
}

Metrics Backend::evaluate(const Workload& workload, std::span<const double> saliency,
                          const SteeringParams& params, const RunControl& control) {
    const double lambda = params.lambda;
    return evaluate(workload, saliency, std::span<const double>(&lambda, 1), params, control)
        .front();
}

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr int kChebyshevDegree = chebyshev::kTerms;

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

/// The lambda-free sums of one row.
struct RowSums {
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

/// Buffers of one thread for a block of rows.
struct BlockBuffers {
    std::vector<float> raw;  ///< the rows as stored or generated
    RowMatrix e, ex;         ///< E and E x, a row per attention row
    Eigen::ArrayXXd a, logA; ///< A and log A, a column per attention row
    std::vector<RowSums> sums;
    Eigen::ArrayXd x;
    BlockBuffers(int rows, Eigen::Index keys)
        : raw(std::size_t(rows * keys)), e(rows, keys), ex(rows, keys), a(keys, rows),
          logA(keys, rows), sums(std::size_t(rows)), x(keys) {}
};

/// Fills A, log A, E and E x of row I of the block from its stored values; returns its sums.
RowSums prepareRow(const float* values, bool holdsLogits, double eps,
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
    RowSums sums;
    if (a.minCoeff() > 0) { // every softmax row: no 0 log 0 terms, and the vectorized path
        ex = e * x;
        sums.entropy = -(a * logA).sum();
        sums.sumAx = (a * x).sum();
    } else {
        ex = (e > 0).select(e * x, 0.0);
        sums.entropy = -(a > 0).select(a * logA, 0.0).sum();
        sums.sumAx = (a > 0).select(a * x, 0.0).sum();
    }
    sums.sumAShifted = (a * shiftedSaliency).sum();
    sums.sumA = a.sum();
    return sums;
}

/// One pass over all rows in blocks: each block's rows are fetched (or generated), prepared, and
/// handed to CONSUME(first row, row count, buffers), concurrently for different blocks.
template <typename Consume>
void forEachRowBlock(const Workload& workload, double eps, const Eigen::ArrayXd& shifted,
                     int threads, int blockRows, const RunControl& control, Consume&& consume) {
    const std::size_t rows = workload.rowCount();
    const std::size_t blocks = (rows + blockRows - 1) / blockRows;
    const std::size_t keys = std::size_t(workload.keys());
    std::atomic<std::size_t> blocksDone{0};
#pragma omp parallel num_threads(threads)
    {
        BlockBuffers buffers(blockRows, Eigen::Index(keys));
#pragma omp for schedule(dynamic, 4)
        for (std::int64_t block = 0; block < std::int64_t(blocks); ++block) {
            if (control.cancel && control.cancel->load(std::memory_order_relaxed))
                continue;
            const std::size_t first = std::size_t(block) * blockRows;
            const int count = int(std::min<std::size_t>(blockRows, rows - first));
            workload.fillRows(first, std::size_t(count), buffers.raw.data());
            for (int i = 0; i < count; ++i)
                buffers.sums[i] = prepareRow(buffers.raw.data() + i * keys, workload.holdsLogits(),
                                             eps, shifted, buffers, i);
            consume(first, count, buffers);
            const std::size_t done = blocksDone.fetch_add(1) + 1;
            if (control.onProgress && omp_get_thread_num() == 0)
                control.onProgress(double(done) / double(blocks));
        }
    }
    if (control.cancel && control.cancel->load())
        throw Cancelled();
    if (control.onProgress) // thread 0 may not have finished the last block
        control.onProgress(1.0);
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

/// H(A') and KL from the three sums; false where S1 underflowed and the row needs steerRowDirect.
bool steerFromSums(const RowSums& sums, double lambda, double s1, double s2, double s3,
                   double& entropy, double& kl) {
    if (!(s1 > 1e-280) || !std::isfinite(s1))
        return false;
    const double logS1 = std::log(s1);
    entropy = logS1 - (s2 + lambda * s3) / s1;
    kl = -sums.entropy - sums.sumAx - lambda * sums.sumAShifted + sums.sumA * logS1;
    return true;
}

/// The lambda-free moments of one workload, saliency and eps.
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

struct Moments {
    std::uint64_t workloadId = 0;
    double eps = 0;
    std::vector<double> saliency;
    HugePageArray mStorage, nStorage;
    Eigen::Map<Eigen::MatrixXd> m, n; ///< rows x D, over the storage above
    std::vector<RowSums> sums;

    explicit Moments(std::size_t rows)
        : mStorage(rows * kChebyshevDegree), nStorage(rows * kChebyshevDegree),
          m(mStorage.data(), Eigen::Index(rows), kChebyshevDegree),
          n(nStorage.data(), Eigen::Index(rows), kChebyshevDegree), sums(rows) {}
};

class CpuBackend final : public Backend {
  public:
    explicit CpuBackend(const CpuBackendOptions& options)
        : threads_(options.threads > 0 ? options.threads : omp_get_max_threads()),
          blockRows_(std::max(1, options.blockRows)), useMoments_(options.useMoments) {}
    std::string name() const override { return "cpu"; }

    std::vector<Metrics> evaluate(const Workload& workload, std::span<const double> saliency,
                                  std::span<const double> lambdas, const SteeringParams& params,
                                  const RunControl& control) override;
    TokenRow row(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params, int head, int query) override;

  private:
    /// Per-row results: H(A) per row; H(A') and KL per row and lambda (row-major, L per row).
    struct RowResults {
        std::vector<double> entropyOriginal, entropySteered, kl;
        std::size_t lambdaCount = 0;
    };
    std::shared_ptr<const Moments> moments(const Workload& workload,
                                           std::span<const double> saliency,
                                           const Eigen::ArrayXd& shifted, double eps,
                                           const RunControl& control);
    void exactPass(const Workload& workload, const Eigen::ArrayXd& saliency,
                   const Eigen::ArrayXd& shifted, std::span<const double> lambdas,
                   const std::vector<std::size_t>& columns,
                   const std::vector<unsigned char>& steered, double eps, const RunControl& control,
                   RowResults& results);

    int threads_;
    int blockRows_;
    bool useMoments_;
    std::mutex cacheMutex_;
    std::shared_ptr<const Moments> cache_;
};

std::shared_ptr<const Moments> CpuBackend::moments(const Workload& workload,
                                                   std::span<const double> saliency,
                                                   const Eigen::ArrayXd& shifted, double eps,
                                                   const RunControl& control) {
    {
        std::lock_guard lock(cacheMutex_);
        if (cache_ && cache_->workloadId == workload.id() && cache_->eps == eps &&
            std::equal(saliency.begin(), saliency.end(), cache_->saliency.begin(),
                       cache_->saliency.end()))
            return cache_;
    }
    const std::size_t rows = workload.rowCount();
    auto fresh = std::make_shared<Moments>(rows);
    fresh->workloadId = workload.id();
    fresh->eps = eps;
    fresh->saliency.assign(saliency.begin(), saliency.end());
    Eigen::MatrixXd basis(shifted.size(), kChebyshevDegree); // T_j(t_k), K x D
    chebyshev::Range(shifted.minCoeff())
        .basis(std::span(shifted.data(), std::size_t(shifted.size())), basis.data(), 1,
               std::size_t(shifted.size()));
    forEachRowBlock(workload, eps, shifted, threads_, blockRows_, control,
                    [&](std::size_t first, int count, BlockBuffers& buffers) {
                        fresh->m.middleRows(Eigen::Index(first), count).noalias() =
                            buffers.e.topRows(count) * basis;
                        fresh->n.middleRows(Eigen::Index(first), count).noalias() =
                            buffers.ex.topRows(count) * basis;
                        std::copy_n(buffers.sums.begin(), count, fresh->sums.begin() + first);
                    });
    std::lock_guard lock(cacheMutex_);
    cache_ = fresh;
    return fresh;
}

void CpuBackend::exactPass(const Workload& workload, const Eigen::ArrayXd& saliency,
                           const Eigen::ArrayXd& shifted, std::span<const double> lambdas,
                           const std::vector<std::size_t>& columns,
                           const std::vector<unsigned char>& steered, double eps,
                           const RunControl& control, RowResults& results) {
    const Eigen::Index keys = shifted.size();
    const Eigen::Index count = Eigen::Index(columns.size());
    Eigen::MatrixXd weights(keys, count), weightsTimesShifted(keys, count);
    for (Eigen::Index c = 0; c < count; ++c) {
        weights.col(c) = safeExp(lambdas[columns[std::size_t(c)]] * shifted).matrix();
        weightsTimesShifted.col(c) = (weights.col(c).array() * shifted).matrix();
    }
    const std::size_t lambdaCount = results.lambdaCount;
    const std::size_t queries = std::size_t(workload.queries());
    forEachRowBlock(workload, eps, shifted, threads_, blockRows_, control,
                    [&](std::size_t first, int rowCount, BlockBuffers& buffers) {
                        const auto e = buffers.e.topRows(rowCount);
                        const Eigen::MatrixXd s1 = e * weights;
                        const Eigen::MatrixXd s2 = buffers.ex.topRows(rowCount) * weights;
                        const Eigen::MatrixXd s3 = e * weightsTimesShifted;
                        for (int i = 0; i < rowCount; ++i) {
                            const std::size_t row = first + i;
                            const RowSums& sums = buffers.sums[i];
                            results.entropyOriginal[row] = sums.entropy;
                            for (Eigen::Index c = 0; c < count; ++c) {
                                const std::size_t l = columns[std::size_t(c)];
                                double& entropy = results.entropySteered[row * lambdaCount + l];
                                double& kl = results.kl[row * lambdaCount + l];
                                if (!steered[row / queries]) {
                                    entropy = sums.entropy, kl = 0;
                                } else if (!steerFromSums(sums, lambdas[l], s1(i, c), s2(i, c),
                                                          s3(i, c), entropy, kl)) {
                                    steerRowDirect(buffers.a.col(i), buffers.logA.col(i), eps,
                                                   saliency, lambdas[l], entropy, kl);
                                }
                            }
                        }
                    });
}

std::vector<Metrics> CpuBackend::evaluate(const Workload& workload,
                                          std::span<const double> saliency,
                                          std::span<const double> lambdas,
                                          const SteeringParams& params, const RunControl& control) {
    const auto started = std::chrono::steady_clock::now();
    const auto steered = checkSteeringInputs(workload, saliency, lambdas, params);

    const Eigen::Index keys = workload.keys();
    const Eigen::Map<const Eigen::ArrayXd> s(saliency.data(), keys);
    const Eigen::ArrayXd saliencyArray = s;
    const Eigen::ArrayXd shifted = s - s.maxCoeff();
    const std::size_t rows = workload.rowCount(), lambdaCount = lambdas.size();
    const std::size_t queries = std::size_t(workload.queries());
    // Kept per thread across calls: fresh multi-megabyte vectors would be page-faulted in anew on
    // every lambda, which costs more than the lambda itself.
    // (A plain reference, so that the OpenMP threads below share this thread's instance.)
    static thread_local RowResults scratch;
    RowResults& results = scratch;
    results.lambdaCount = lambdaCount;
    results.entropyOriginal.resize(rows);
    results.entropySteered.resize(rows * lambdaCount);
    results.kl.resize(rows * lambdaCount);

    // Split the lambdas: those whose Chebyshev series converges use the moments.
    std::vector<std::size_t> viaMoments, viaExactPass;
    Eigen::MatrixXd fCoefficients(kChebyshevDegree, 0), gCoefficients(kChebyshevDegree, 0);
    int usedTerms = 0;
    if (useMoments_ && rows > 0) {
        const chebyshev::Range range(shifted.minCoeff());
        std::vector<Eigen::VectorXd> fs, gs;
        for (std::size_t l = 0; l < lambdaCount; ++l) {
            Eigen::VectorXd f(kChebyshevDegree), g(kChebyshevDegree);
            if (const int used = range.coefficients(lambdas[l], f.data(), g.data())) {
                usedTerms = std::max(usedTerms, used);
                viaMoments.push_back(l);
                fs.push_back(f), gs.push_back(g);
            } else {
                viaExactPass.push_back(l);
            }
        }
        fCoefficients.resize(kChebyshevDegree, Eigen::Index(viaMoments.size()));
        gCoefficients.resize(kChebyshevDegree, Eigen::Index(viaMoments.size()));
        for (std::size_t c = 0; c < viaMoments.size(); ++c)
            fCoefficients.col(Eigen::Index(c)) = fs[c], gCoefficients.col(Eigen::Index(c)) = gs[c];
    } else {
        for (std::size_t l = 0; l < lambdaCount; ++l)
            viaExactPass.push_back(l);
    }

    if (!viaMoments.empty()) {
        const auto held = moments(workload, saliency, shifted, params.eps, control);
        const Moments& cached = *held;
        const auto f = fCoefficients.topRows(usedTerms), g = gCoefficients.topRows(usedTerms);
        constexpr std::int64_t kChunk = 512;
        const std::int64_t chunks = (std::int64_t(rows) + kChunk - 1) / kChunk;
        bool underflow = false;
#pragma omp parallel for num_threads(threads_) schedule(static) reduction(|| : underflow)
        for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
            const Eigen::Index first = chunk * kChunk;
            const Eigen::Index count = std::min<Eigen::Index>(kChunk, Eigen::Index(rows) - first);
            const auto m = cached.m.block(first, 0, count, usedTerms);
            const Eigen::MatrixXd s1 = m * f, s3 = m * g;
            const Eigen::MatrixXd s2 = cached.n.block(first, 0, count, usedTerms) * f;
            for (Eigen::Index i = 0; i < count; ++i) {
                const std::size_t row = std::size_t(first + i);
                const RowSums& sums = cached.sums[row];
                results.entropyOriginal[row] = sums.entropy;
                for (std::size_t c = 0; c < viaMoments.size(); ++c) {
                    const std::size_t l = viaMoments[c];
                    double& entropy = results.entropySteered[row * lambdaCount + l];
                    double& kl = results.kl[row * lambdaCount + l];
                    const auto col = Eigen::Index(c);
                    if (!steered[row / queries])
                        entropy = sums.entropy, kl = 0;
                    else if (!steerFromSums(sums, lambdas[l], s1(i, col), s2(i, col), s3(i, col),
                                            entropy, kl))
                        underflow = true;
                }
            }
        }
        if (underflow) // cannot happen within the series' range; stay exact regardless
            viaExactPass.insert(viaExactPass.end(), viaMoments.begin(), viaMoments.end());
    }
    if (!viaExactPass.empty())
        exactPass(workload, saliencyArray, shifted, lambdas, viaExactPass, steered, params.eps,
                  control, results);

    const double elapsedMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    // Per-head sums in row order, then the shared summary.
    const std::size_t heads = std::size_t(workload.heads());
    std::vector<double> headOriginal(heads, 0.0), headSteered(heads * lambdaCount, 0.0),
        headKl(heads * lambdaCount, 0.0);
    for (std::size_t row = 0; row < rows; ++row) {
        const std::size_t head = row / queries;
        headOriginal[head] += results.entropyOriginal[row];
        for (std::size_t l = 0; l < lambdaCount; ++l) {
            headSteered[head * lambdaCount + l] += results.entropySteered[row * lambdaCount + l];
            headKl[head * lambdaCount + l] += results.kl[row * lambdaCount + l];
        }
    }
    return metricsFromHeadSums(lambdas, headOriginal, headSteered, headKl, workload.queries(),
                               name(), elapsedMs);
}

TokenRow CpuBackend::row(const Workload& workload, std::span<const double> saliency,
                         const SteeringParams& params, int head, int query) {
    const auto steered =
        checkSteeringInputs(workload, saliency, std::span<const double>(&params.lambda, 1), params);
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
    CpuBackendOptions options;
    options.threads = threads;
    return makeCpuBackend(options);
}

std::unique_ptr<Backend> makeCpuBackend(const CpuBackendOptions& options) {
    return std::make_unique<CpuBackend>(options);
}

} // namespace attnsteer
