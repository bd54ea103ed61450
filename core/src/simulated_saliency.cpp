#include "attnsteer/simulated_saliency.h"

#include "attnsteer/errors.h"
#include "attnsteer/random.h"

#include <algorithm>
#include <cmath>

namespace attnsteer {
namespace {

constexpr int kPlacementDraws = 64;
constexpr double kMaxBlur = 100;

/// Gaussian blur of a ROWS x COLS grid along one axis: STRIDE apart, COUNT long, LINES lines.
void blurAxis(std::vector<double>& grid, int lines, int count, int lineStride, int stride,
              double sigma) {
    const int reach = int(std::ceil(3 * sigma));
    std::vector<double> weights(static_cast<std::size_t>(2 * reach + 1));
    for (int i = -reach; i <= reach; ++i)
        weights[std::size_t(i + reach)] = std::exp(-0.5 * (i / sigma) * (i / sigma));
    std::vector<double> line(static_cast<std::size_t>(count));
    for (int l = 0; l < lines; ++l) {
        for (int i = 0; i < count; ++i)
            line[std::size_t(i)] = grid[std::size_t(l) * lineStride + std::size_t(i) * stride];
        for (int i = 0; i < count; ++i) {
            double sum = 0, total = 0;
            for (int j = std::max(0, i - reach); j <= std::min(count - 1, i + reach); ++j) {
                const double w = weights[std::size_t(j - i + reach)];
                sum += w * line[std::size_t(j)];
                total += w;
            }
            grid[std::size_t(l) * lineStride + std::size_t(i) * stride] = sum / total;
        }
    }
}

} // namespace

void checkSimulatedSaliency(const SimulatedSaliencySpec& spec) {
    if (!(spec.quality >= 0 && spec.quality <= 1))
        throw settingError("saliency-quality", "must be between 0 and 1");
    if (!(spec.blur >= 0 && spec.blur <= kMaxBlur))
        throw settingError("saliency-blur", "must be between 0 and 100");
}

std::vector<double> simulatedSaliencyRaw(const TransformerLayout& layout,
                                         const SimulatedSaliencySpec& spec, std::uint64_t seed) {
    checkSimulatedSaliency(spec);
    const int rows = layout.grid.rows, cols = layout.grid.cols, frames = layout.grid.frames;
    const int height = layout.targetRows, width = layout.targetCols;
    auto overlapsTarget = [&](int top, int left) {
        return top < layout.targetTop + height && layout.targetTop < top + height &&
               left < layout.targetLeft + width && layout.targetLeft < left + width;
    };
    int top = 0, left = 0;
    for (int j = 0; j < kPlacementDraws; ++j) {
        top =
            int(philoxUniform(seed, RandomStream::SimulatedSaliency, 2 * j) * (rows - height + 1));
        left = int(philoxUniform(seed, RandomStream::SimulatedSaliency, 2 * j + 1) *
                   (cols - width + 1));
        if (!overlapsTarget(top, left))
            break;
    }
    const double q = spec.quality;
    std::vector<double> vision(std::size_t(layout.visionTokens()));
    for (int v = 0; v < layout.visionTokens(); ++v) {
        const int inFrame = v % (rows * cols), r = inFrame / cols, c = inFrame % cols;
        const double target = layout.isTarget(layout.visionOffset + v) ? 1.0 : 0.0;
        const double decoy = r >= top && r < top + height && c >= left && c < left + width;
        const double noise =
            philoxUniform(seed, RandomStream::SimulatedSaliency, (std::uint64_t(1) << 32) + v);
        // Q = 1 must give T exactly: no (1 - Q) term is added then.
        vision[std::size_t(v)] = q == 1 ? target : q * target + (1 - q) * (decoy + noise) / 2;
    }
    if (spec.blur > 0)
        for (int f = 0; f < frames; ++f) {
            std::vector<double> frame(vision.begin() + std::ptrdiff_t(f) * rows * cols,
                                      vision.begin() + std::ptrdiff_t(f + 1) * rows * cols);
            blurAxis(frame, rows, cols, cols, 1, spec.blur); // along each row
            blurAxis(frame, cols, rows, 1, cols, spec.blur); // along each column
            std::copy(frame.begin(), frame.end(), vision.begin() + std::ptrdiff_t(f) * rows * cols);
        }
    std::vector<double> raw(std::size_t(layout.keys), 0.0);
    std::copy(vision.begin(), vision.end(), raw.begin() + layout.visionOffset);
    return raw;
}

} // namespace attnsteer
