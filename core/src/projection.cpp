#include "attnsteer/projection.h"

#include "attnsteer/errors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

namespace attnsteer {
namespace {

/// The value in %g form: 201 -> "201", 201.5 -> "201.5".
std::string shortNumber(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

/// The most vision tokens an image may become, by a model's grid or by resizing.
constexpr std::int64_t kMaxVisionTokens = std::int64_t(1) << 24;

/// Pixels per token side: 28 for Qwen2-VL (patch 14 x merge 2); 1024 is far beyond any model
/// and keeps keys x factor^2 and the grid's pixel sizes within 64 bits and int.
constexpr int kMaxPatchFactor = 1024;

void checkFactor(int factor) {
    if (factor < 1)
        throw settingError("patch-factor", "must be a positive integer");
    if (factor > kMaxPatchFactor)
        throw settingError("patch-factor", "must be at most " + std::to_string(kMaxPatchFactor));
}

/// A resized side as int; Python's int would not overflow, ours must not silently.
int resizedSide(double side, int height, int width) {
    if (!(side <= double(std::numeric_limits<int>::max())))
        throw inputError("image", "size " + std::to_string(width) + "x" + std::to_string(height) +
                                      " resizes to more than " +
                                      std::to_string(std::numeric_limits<int>::max()) +
                                      " pixels per side");
    return int(side);
}

/// One token column (or row) of the original map: the pixels it overlaps and their weights.
struct Span {
    int first = 0;               ///< first pixel index
    std::vector<double> weights; ///< covered length of pixels first, first + 1, ...
};

/// Splits [0, PIXELS) into CELLS boxes [i*PIXELS/CELLS, (i+1)*PIXELS/CELLS). Integer arithmetic in
/// units of 1/CELLS keeps the box edges exact: pixel p covers [p*CELLS, (p+1)*CELLS), box i covers
/// [i*PIXELS, (i+1)*PIXELS). Weights are in pixels (covered units / CELLS); they sum to
/// PIXELS/CELLS.
std::vector<Span> boxSpans(int pixels, int cells) {
    std::vector<Span> spans(std::size_t(cells), Span{});
    const std::int64_t n = cells;
    for (int i = 0; i < cells; ++i) {
        const std::int64_t begin = std::int64_t(i) * pixels;
        const std::int64_t end = begin + pixels;
        const std::int64_t firstPixel = begin / n;
        const std::int64_t lastPixel = (end - 1) / n; // inclusive; end > begin since pixels >= 1
        Span& span = spans[std::size_t(i)];
        span.first = int(firstPixel);
        span.weights.reserve(std::size_t(lastPixel - firstPixel + 1));
        for (std::int64_t p = firstPixel; p <= lastPixel; ++p) {
            const std::int64_t covered = std::min(end, (p + 1) * n) - std::max(begin, p * n);
            span.weights.push_back(double(covered) / double(n));
        }
    }
    return spans;
}

} // namespace

void checkImageGrid(const ImageGrid& grid) {
    constexpr std::int64_t kMaxTokens = kMaxVisionTokens;
    if (grid.frames < 1 || grid.rows < 1 || grid.cols < 1)
        throw settingError("image-grid", "every side must be at least 1");
    if (grid.rows > 65536 || grid.cols > 65536)
        throw settingError("image-grid", "a side of more than 65536 tokens");
    if (std::int64_t(grid.frames) * grid.rows * grid.cols > kMaxTokens)
        throw settingError("image-grid", "more than 2^24 vision tokens");
}

ResizedSize smartResize(int height, int width, int factor, std::int64_t minPixels,
                        std::int64_t maxPixels) {
    checkFactor(factor);
    if (height < 1 || width < 1)
        throw inputError("image", "size " + std::to_string(width) + "x" + std::to_string(height) +
                                      " is empty");
    if (minPixels < 0)
        throw settingError("min-pixels", "must be >= 0");
    if (maxPixels < 1)
        throw settingError("max-pixels", "must be >= 1");
    if (minPixels > maxPixels)
        throw settingError("min-pixels", std::to_string(minPixels) + " is more than the " +
                                             std::to_string(maxPixels) + " of --max-pixels");

    // Every step repeats the double operations of the Python reference in the same order, so
    // floor/ceil land on the same side of an integer.
    const double ratio = double(std::max(height, width)) / double(std::min(height, width));
    if (ratio > 200)
        throw inputError("image", "aspect ratio " + shortNumber(ratio) + " exceeds 200");

    const double f = factor;
    // std::nearbyint rounds half to even in the default rounding mode, like Python's round().
    const std::int64_t roundedHeight =
        std::max<std::int64_t>(factor, std::int64_t(std::nearbyint(double(height) / f)) * factor);
    const std::int64_t roundedWidth =
        std::max<std::int64_t>(factor, std::int64_t(std::nearbyint(double(width) / f)) * factor);
    double hBar = double(roundedHeight);
    double wBar = double(roundedWidth);
    // Python divides exact integers; so do these for any area below 2^53 pixels.
    const double area = double(height) * double(width);
    if (roundedHeight * roundedWidth > maxPixels) {
        const double beta = std::sqrt(area / double(maxPixels));
        hBar = std::max(f, std::floor(double(height) / beta / f) * f);
        wBar = std::max(f, std::floor(double(width) / beta / f) * f);
    } else if (roundedHeight * roundedWidth < minPixels) {
        const double beta = std::sqrt(double(minPixels) / area);
        hBar = std::ceil(double(height) * beta / f) * f;
        wBar = std::ceil(double(width) * beta / f) * f;
    }
    return {resizedSide(hBar, height, width), resizedSide(wBar, height, width)};
}

SaliencyProjection projectSaliencyMap(std::span<const float> map, int height, int width,
                                      const ProjectionOptions& options, int keys) {
    const int factor = options.patchFactor;
    checkFactor(factor);
    if (map.size() != std::size_t(std::max(height, 0)) * std::size_t(std::max(width, 0)))
        throw std::invalid_argument("projectSaliencyMap: the map has " +
                                    std::to_string(map.size()) + " values, expected " +
                                    std::to_string(height) + " x " + std::to_string(width));
    SaliencyProjection projection;
    if (options.grid.isSet()) {
        // The model's own grid: the map, whatever its size, is averaged over that grid's boxes.
        if (height < 1 || width < 1)
            throw inputError("image", "size " + std::to_string(width) + "x" +
                                          std::to_string(height) + " is empty");
        checkImageGrid(options.grid);
        projection.gridHeight = options.grid.rows;
        projection.gridWidth = options.grid.cols;
        projection.frames = options.grid.frames;
        projection.resizedHeight = options.grid.rows * factor;
        projection.resizedWidth = options.grid.cols * factor;
    } else {
        std::int64_t maxPixels = options.maxPixels;
        if (maxPixels < 0)
            throw settingError("max-pixels", "must be >= 0 (0 means keys x patch factor^2)");
        if (maxPixels == 0) {
            if (keys < 1)
                throw settingError("max-pixels",
                                   "0 means keys x patch factor^2, but the key count is " +
                                       std::to_string(keys));
            maxPixels = std::int64_t(keys) * factor * factor;
        }
        const ResizedSize resized =
            smartResize(height, width, factor, options.minPixels, maxPixels);
        projection.resizedHeight = resized.height;
        projection.resizedWidth = resized.width;
        projection.gridHeight = resized.height / factor;
        projection.gridWidth = resized.width / factor;
    }
    const std::int64_t tokenCount = std::int64_t(projection.gridHeight) * projection.gridWidth;
    // As many as a model's grid may have: a large --min-pixels must not allocate gigabytes of
    // tokens before anything compares them with the keys (found by fuzzing).
    if (tokenCount * projection.frames > kMaxVisionTokens)
        throw inputError("image", "resized to " + std::to_string(projection.resizedWidth) + "x" +
                                      std::to_string(projection.resizedHeight) +
                                      ", more than 2^24 vision tokens");

    // Separable box weights: a token's sum is sum_y wy(y) * sum_x wx(x) * map(y, x). Each token row
    // first collapses its pixel rows into one weighted row, then every column span reads it.
    const std::vector<Span> columns = boxSpans(width, projection.gridWidth);
    const std::vector<Span> rows = boxSpans(height, projection.gridHeight);
    const double boxArea =
        (double(width) / projection.gridWidth) * (double(height) / projection.gridHeight);
    projection.tokens.assign(std::size_t(tokenCount), 0.0);
    std::vector<double> weightedRow(static_cast<std::size_t>(width));
    for (int r = 0; r < projection.gridHeight; ++r) {
        const Span& rowSpan = rows[std::size_t(r)];
        std::fill(weightedRow.begin(), weightedRow.end(), 0.0);
        for (std::size_t i = 0; i < rowSpan.weights.size(); ++i) {
            const double wy = rowSpan.weights[i];
            const float* pixel = map.data() + (std::size_t(rowSpan.first) + i) * std::size_t(width);
            for (int x = 0; x < width; ++x)
                weightedRow[std::size_t(x)] += wy * double(pixel[x]);
        }
        double* out = projection.tokens.data() + std::size_t(r) * std::size_t(projection.gridWidth);
        for (int c = 0; c < projection.gridWidth; ++c) {
            const Span& columnSpan = columns[std::size_t(c)];
            double sum = 0;
            for (std::size_t j = 0; j < columnSpan.weights.size(); ++j)
                sum += columnSpan.weights[j] * weightedRow[std::size_t(columnSpan.first) + j];
            out[c] = sum / boxArea;
        }
    }
    // Every frame of a video grid sees the same map.
    for (int frame = 1; frame < projection.frames; ++frame)
        projection.tokens.insert(projection.tokens.end(), projection.tokens.begin(),
                                 projection.tokens.begin() + std::ptrdiff_t(tokenCount));
    return projection;
}

std::vector<double> placeOnKeySequence(const SaliencyProjection& projection, int keys,
                                       const ProjectionOptions& options) {
    if (keys < 0)
        throw std::invalid_argument("placeOnKeySequence: keys must be >= 0");
    const std::int64_t count = projection.tokenCount();
    if (projection.tokens.size() != std::size_t(count))
        throw std::invalid_argument("placeOnKeySequence: the projection has " +
                                    std::to_string(projection.tokens.size()) +
                                    " tokens, its grid " + std::to_string(count));
    const std::int64_t offset = options.visionOffset;
    if (offset < 0 || offset + count > keys)
        throw settingError(
            "vision-offset",
            "the " +
                (projection.frames > 1 ? std::to_string(projection.frames) + "x" : std::string()) +
                std::to_string(projection.gridHeight) + "x" + std::to_string(projection.gridWidth) +
                " = " + std::to_string(count) + " vision tokens at offset " +
                std::to_string(offset) + " do not fit into " + std::to_string(keys) + " keys");
    std::vector<double> saliency(std::size_t(keys), options.textSaliency);
    std::copy(projection.tokens.begin(), projection.tokens.end(),
              saliency.begin() + std::ptrdiff_t(offset));
    return saliency;
}

} // namespace attnsteer
