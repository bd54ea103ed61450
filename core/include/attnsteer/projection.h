#pragma once
// Saliency maps (images) become vision-token saliency the way Qwen2-VL tokenizes an image.

#include <cstdint>
#include <span>
#include <vector>

namespace attnsteer {

/// The vision tokens' grid as the model laid them out (after the spatial merge): FRAMES x ROWS x
/// COLS tokens in raster order, frame by frame. Unset (0 x 0): derived from the image's size.
struct ImageGrid {
    int frames = 1;
    int rows = 0;
    int cols = 0;
    bool isSet() const { return rows > 0 && cols > 0; }
    std::int64_t tokenCount() const { return std::int64_t(frames) * rows * cols; }
};

/// Throws InputError about "image-grid" for a side < 1 or more than 2^24 tokens.
void checkImageGrid(const ImageGrid& grid);

struct ProjectionOptions {
    int patchFactor = 28; ///< patch size x spatial merge (14 x 2 for Qwen2-VL; 32 for patch 16)
    std::int64_t minPixels = 4 * 28 * 28; ///< smallest resized area
    std::int64_t maxPixels = 0;           ///< largest resized area; 0 = keys * patchFactor^2
    int visionOffset = 0;                 ///< first key index of the vision tokens
    double textSaliency = 0; ///< raw saliency of the key tokens that are not vision tokens
    /// The model's grid (a dump's sidecar or --image-grid): when set, the map of any size is
    /// averaged over its boxes, and the resize options above are not used.
    ImageGrid grid;
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
    int frames = 1;                    ///< of a video grid: each frame holds the same tokens
    int resizedHeight = 0, resizedWidth = 0;
    std::vector<double> tokens; ///< raster order, mean of the map over each token's box
    int tokenCount() const { return frames * gridHeight * gridWidth; }
};

/// Token (r, c) covers the FACTOR x FACTOR block (r, c) of the resized image, which is the box
/// [c*W/gw, (c+1)*W/gw) x [r*H/gh, (r+1)*H/gh) of the original map (x and y scaled separately);
/// its value is the area-weighted mean of the map over that box (fractional pixels at the edges
/// weighted by their covered area). OPTIONS.maxPixels = 0 needs KEYS to be given. With
/// OPTIONS.grid set, the grid is the model's and the map's size does not matter.
SaliencyProjection projectSaliencyMap(std::span<const float> map, int height, int width,
                                      const ProjectionOptions& options, int keys);

/// The raw per-key saliency: OPTIONS.textSaliency everywhere, the projected tokens from
/// OPTIONS.visionOffset on. Throws InputError("--vision-offset", ...) when the vision tokens do
/// not fit into KEYS.
std::vector<double> placeOnKeySequence(const SaliencyProjection& projection, int keys,
                                       const ProjectionOptions& options);

} // namespace attnsteer
