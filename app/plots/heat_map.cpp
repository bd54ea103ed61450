#include "heat_map.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace attnsteer {

namespace {

/// Group starts of N source cells (from FIRST) onto at most OUT groups: N + 1 entries when no
/// pooling is needed, else OUT + 1, as even as whole cells allow.
std::vector<int> groupStarts(int first, int n, int out) {
    const int groups = std::max(std::min(n, out), 1);
    std::vector<int> starts(std::size_t(groups) + 1);
    for (int i = 0; i <= groups; ++i)
        starts[std::size_t(i)] = first + int((long long)n * i / groups);
    return starts;
}

} // namespace

int pooledCount(int cells, double span, double pixels) {
    if (!(pixels > 0) || cells <= 0)
        return std::max(cells, 0);
    const double perPixel = span / pixels;
    return perPixel > 1 ? std::max(1, int(std::ceil(cells / perPixel))) : cells;
}

namespace {

/// The group of each of N source cells from FIRST, given the group starts.
std::vector<int> groupOf(const std::vector<int>& starts, int first, int n) {
    std::vector<int> group(std::size_t(std::max(n, 0)));
    for (std::size_t g = 0; g + 1 < starts.size(); ++g)
        for (int c = starts[g]; c < starts[g + 1]; ++c)
            group[std::size_t(c - first)] = int(g);
    return group;
}

/// Folds one source row into OUT, a pooled row: the source cells [STARTS[g], STARTS[g + 1]) of
/// VALUES (indexed from STARTS[0]) into OUT[g], by MODE, NaN skipped. Walks each group's
/// contiguous cells with a branch-free running max: a lookup of each cell's group and a
/// read-modify-write of its pooled cell per source cell took 10-25 ns a cell, most of a lambda
/// change's rows job.
void foldRow(const double* values, const std::vector<int>& starts, double* out, Pooling mode) {
    const int first = starts.front();
    for (std::size_t g = 0; g + 1 < starts.size(); ++g) {
        const double* cell = values + (starts[g] - first);
        const double* end = values + (starts[g + 1] - first);
        // A NaN pooled cell (nothing folded in yet) takes the group's first value that is not.
        double best = out[g];
        if (std::isnan(best)) {
            while (cell != end && std::isnan(*cell))
                ++cell;
            if (cell == end)
                continue;
            best = *cell++;
        }
        if (mode == Pooling::Max) {
            for (; cell != end; ++cell)
                best = *cell > best ? *cell : best; // NaN compares false: skipped
        } else {
            for (; cell != end; ++cell)
                best = std::abs(*cell) > std::abs(best) ? *cell : best;
        }
        out[g] = best;
    }
}

} // namespace

RowPooler::RowPooler(int rows, int cols, int outRows, int outCols, Pooling mode) : mode_(mode) {
    pooled_.rowStart = groupStarts(0, std::max(rows, 0), std::max(outRows, 1));
    pooled_.colStart = groupStarts(0, std::max(cols, 0), std::max(outCols, 1));
    pooled_.rows = rows > 0 ? int(pooled_.rowStart.size()) - 1 : 0;
    pooled_.cols = cols > 0 ? int(pooled_.colStart.size()) - 1 : 0;
    pooled_.values.assign(std::size_t(pooled_.rows) * std::size_t(pooled_.cols),
                          std::numeric_limits<double>::quiet_NaN());
    rowGroup_ = groupOf(pooled_.rowStart, 0, std::max(rows, 0));
}

void RowPooler::add(int row, const double* values) {
    if (row < 0 || std::size_t(row) >= rowGroup_.size())
        return;
    foldRow(values, pooled_.colStart,
            pooled_.values.data() +
                std::size_t(rowGroup_[std::size_t(row)]) * std::size_t(pooled_.cols),
            mode_);
}

int RowPooler::firstRowOfGroupAt(int row) const {
    if (row < 0 || std::size_t(row) >= rowGroup_.size())
        return std::clamp(row, 0, int(rowGroup_.size()));
    return pooled_.rowStart[std::size_t(rowGroup_[std::size_t(row)])];
}

PooledMatrix poolMatrix(std::span<const double> values, int rows, int cols, int rowBegin,
                        int rowEnd, int colBegin, int colEnd, int outRows, int outCols,
                        Pooling mode) {
    PooledMatrix pooled;
    rowBegin = std::max(rowBegin, 0), colBegin = std::max(colBegin, 0);
    rowEnd = std::min(rowEnd, rows), colEnd = std::min(colEnd, cols);
    if (rowEnd <= rowBegin || colEnd <= colBegin || outRows < 1 || outCols < 1 ||
        values.size() < std::size_t(rows) * std::size_t(cols))
        return pooled;
    pooled.rowStart = groupStarts(rowBegin, rowEnd - rowBegin, outRows);
    pooled.colStart = groupStarts(colBegin, colEnd - colBegin, outCols);
    pooled.rows = int(pooled.rowStart.size()) - 1;
    pooled.cols = int(pooled.colStart.size()) - 1;
    pooled.values.assign(std::size_t(pooled.rows) * std::size_t(pooled.cols),
                         std::numeric_limits<double>::quiet_NaN());
    for (int i = 0; i < pooled.rows; ++i)
        for (int r = pooled.rowStart[std::size_t(i)]; r < pooled.rowStart[std::size_t(i) + 1]; ++r)
            foldRow(values.data() + std::size_t(r) * std::size_t(cols) + colBegin, pooled.colStart,
                    pooled.values.data() + std::size_t(i) * std::size_t(pooled.cols), mode);
    return pooled;
}

std::pair<double, double> sequentialColorRange(double low, double high) {
    if (!std::isfinite(low) || !std::isfinite(high) || low > high)
        return {0.0, 1.0};
    const double magnitude = std::max(std::abs(low), std::abs(high));
    if (high - low > 1e-9 * magnitude && high > low)
        return {low, high};
    // Constant (to rounding): a scale from 0 to just beyond the value, so that the noise around
    // it falls on one colour.
    const double value = (low + high) / 2;
    if (value > 0)
        return {0.0, value * (1 + 1e-6)};
    if (value < 0)
        return {value * (1 + 1e-6), 0.0};
    return {0.0, 1.0};
}

double divergingColorExtent(double low, double high, double minExtent) {
    double extent = 0;
    if (std::isfinite(low) && std::isfinite(high) && low <= high)
        extent = std::max(std::abs(low), std::abs(high));
    return std::max(extent, minExtent);
}

std::pair<double, double> logColorRange(double lowestPositive, double high) {
    if (!(high > 0) || !std::isfinite(high))
        return {1e-4, 1.0};
    double low = high * 1e-4;
    if (lowestPositive > low && lowestPositive < high)
        low = lowestPositive;
    if (!(low < high))
        low = high * 1e-4;
    return {low, high};
}

} // namespace attnsteer
