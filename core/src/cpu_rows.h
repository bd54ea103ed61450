#pragma once
// What the CPU's passes over the rows share (the backend's and the grounding pass's): rows shared
// out among OpenMP threads so that results do not depend on the thread count (the rows of a
// workload as pieces of one head's queries, each summed in row order by one thread, the pieces
// of a head added in order afterwards), and e^x of masked logits.

#include "attnsteer/backend.h"
#include "attnsteer/errors.h"

#include <Eigen/Dense>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <omp.h>

namespace attnsteer {

/// Rows per piece. Fixed, so that results do not depend on the thread count; 128 pieces at the
/// default size, enough to share out among the threads.
inline constexpr std::size_t kPieceRows = 256;

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

/// The rows of a workload as pieces: each head's queries in runs of at most kPieceRows.
class Pieces {
  public:
    explicit Pieces(const Workload& workload)
        : queries_(std::size_t(workload.queries())),
          perHead_((queries_ + kPieceRows - 1) / kPieceRows),
          count_(std::size_t(workload.heads()) * perHead_) {}
    std::size_t count() const { return count_; }
    std::size_t head(std::size_t piece) const { return piece / perHead_; }
    std::size_t firstRow(std::size_t piece) const {
        return head(piece) * queries_ + piece % perHead_ * kPieceRows;
    }
    std::size_t rows(std::size_t piece) const {
        return std::min(kPieceRows, queries_ - piece % perHead_ * kPieceRows);
    }

  private:
    std::size_t queries_, perHead_, count_;
};

/// WORK(piece, state) for every piece, concurrently for different pieces, each thread with the
/// STATE that MAKE_STATE() returns (made once per call: buffers reused from piece to piece).
/// Progress is reported from OpenMP thread 0, the caller's thread; throws Cancelled once the
/// cancel flag is raised.
template <typename MakeState, typename Work>
void forEachPiece(const Pieces& pieces, int threads, const RunControl& control,
                  MakeState&& makeState, Work&& work) {
    const std::size_t count = pieces.count();
    std::atomic<std::size_t> piecesDone{0};
#pragma omp parallel num_threads(threads)
    {
        auto state = makeState();
#pragma omp for schedule(dynamic)
        for (std::int64_t piece = 0; piece < std::int64_t(count); ++piece) {
            if (control.cancel && control.cancel->load(std::memory_order_relaxed))
                continue;
            work(std::size_t(piece), state);
            const std::size_t done = piecesDone.fetch_add(1) + 1;
            if (control.onProgress && omp_get_thread_num() == 0)
                control.onProgress(double(done) / double(count));
        }
    }
    if (control.cancel && control.cancel->load())
        throw Cancelled();
    if (control.onProgress) // thread 0 may not have finished the last piece
        control.onProgress(1.0);
}

} // namespace attnsteer
