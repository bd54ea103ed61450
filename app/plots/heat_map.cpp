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
    const double nan = std::numeric_limits<double>::quiet_NaN();
    pooled.values.assign(std::size_t(pooled.rows) * std::size_t(pooled.cols), nan);
    // The column group of each source column, once.
    std::vector<int> colGroup(std::size_t(colEnd - colBegin));
    for (int j = 0; j < pooled.cols; ++j)
        for (int c = pooled.colStart[std::size_t(j)]; c < pooled.colStart[std::size_t(j) + 1]; ++c)
            colGroup[std::size_t(c - colBegin)] = j;
    const auto better = [mode](double candidate, double current) {
        if (std::isnan(current))
            return true;
        return mode == Pooling::Max ? candidate > current : std::abs(candidate) > std::abs(current);
    };
    for (int i = 0; i < pooled.rows; ++i) {
        double* out = pooled.values.data() + std::size_t(i) * std::size_t(pooled.cols);
        for (int r = pooled.rowStart[std::size_t(i)]; r < pooled.rowStart[std::size_t(i) + 1];
             ++r) {
            const double* row = values.data() + std::size_t(r) * std::size_t(cols);
            for (int c = colBegin; c < colEnd; ++c) {
                const double v = row[c];
                double& cell = out[colGroup[std::size_t(c - colBegin)]];
                if (!std::isnan(v) && better(v, cell))
                    cell = v;
            }
        }
    }
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
