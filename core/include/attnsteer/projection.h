#pragma once
// Saliency maps (images) become vision-token saliency the way Qwen2-VL tokenizes an image.

#include <cstdint>
#include <span>
#include <vector>

namespace attnsteer {

struct ProjectionOptions {
    int patchFactor = 28; ///< patch size x spatial merge (14 x 2 for Qwen2-VL; 32 for patch 16)
    std::int64_t minPixels = 4 * 28 * 28; ///< smallest resized area
    std::int64_t maxPixels = 0;           ///< largest resized area; 0 = keys * patchFactor^2
    int visionOffset = 0;                 ///< first key index of the vision tokens
    double textSaliency = 0; ///< raw saliency of the key tokens that are not vision tokens
};

struct ResizedSize {
    int height = 0;
    int width = 0;
};

/// Qwen2-VL's smart_resize: both sides multiples of FACTOR, area within [minPixels, maxPixels],
/// aspect ratio kept as far as that allows. Python's round() (half to even) is used where the
/// original uses it. Throws InputError("image", ...) for an aspect ratio over 200 or a size < 1.
ResizedSize smartResize(int height, int width, int factor, std::int64_t minPixels,
                        std::int64_t maxPixels);

/// A saliency map (row-major HEIGHT x WIDTH, values 0..1) projected onto the vision-token grid.
struct SaliencyProjection {
    int gridHeight = 0, gridWidth = 0; ///< tokens per column and per row
    int resizedHeight = 0, resizedWidth = 0;
    std::vector<double> tokens; ///< raster order, mean of the map over each token's box
    int tokenCount() const { return gridHeight * gridWidth; }
};

/// Token (r, c) covers the FACTOR x FACTOR block (r, c) of the resized image, which is the box
/// [c*W/gw, (c+1)*W/gw) x [r*H/gh, (r+1)*H/gh) of the original map (x and y scaled separately);
/// its value is the area-weighted mean of the map over that box (fractional pixels at the edges
/// weighted by their covered area). OPTIONS.maxPixels = 0 needs KEYS to be given.
SaliencyProjection projectSaliencyMap(std::span<const float> map, int height, int width,
                                      const ProjectionOptions& options, int keys);

/// The raw per-key saliency: OPTIONS.textSaliency everywhere, the projected tokens from
/// OPTIONS.visionOffset on. Throws InputError("--vision-offset", ...) when the vision tokens do
/// not fit into KEYS.
std::vector<double> placeOnKeySequence(const SaliencyProjection& projection, int keys,
                                       const ProjectionOptions& options);

} // namespace attnsteer
