#pragma once
// Option values from text (the one number parser of the command line, the window and the
// sweep lists), with the one-line errors the command line prints and the GUI shows.
// Every error is an InputError about the setting named SETTING (the option without dashes:
// "heads"), e.g. problem "'abc' is not a valid whole number" or "must be at least 1". Parsing
// ignores the locale.

#include "attnsteer/backend.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnsteer {

struct ImageGrid;

/// A whole number in [MIN, MAX]: decimal digits with an optional sign, nothing else.
std::int64_t parseWholeNumber(std::string_view text, std::string_view setting,
                              std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                              std::int64_t max = std::numeric_limits<std::int64_t>::max());

/// A non-negative whole number up to 2^64 - 1 (seeds).
std::uint64_t parseUnsigned(std::string_view text, std::string_view setting);

/// A finite decimal number (123, 0.25, 1e-9) that is at least MIN.
double parseRealNumber(std::string_view text, std::string_view setting,
                       double min = -std::numeric_limits<double>::infinity());

/// Head indices: "0,3,5" or "FIRST:LAST" with both ends included ("0:7" is eight heads).
/// Whether they exist is checked later, against the workload.
std::vector<int> parseHeadList(std::string_view text, std::string_view setting = "--steer-heads");

/// The steered heads of --steer-heads and the window's field.
struct SteeredHeadList {
    std::vector<int> heads;            ///< steered in every layer
    std::vector<LayerHead> layerHeads; ///< steered in their layer only
};

/// "all" (both lists empty), or comma-separated items: a head "3", a range "0:7" (both ends
/// included), or a head of one layer "L5H3" (layer 5, head 3; case-insensitive). Whether they
/// exist is checked later, against the workload (checkSteeringInputs).
SteeredHeadList parseSteeredHeads(std::string_view text, std::string_view setting = "steer-heads");

/// The text parseSteeredHeads reads back: "all", or "0,3,L5H3".
std::string steeredHeadsText(const std::vector<int>& heads,
                             const std::vector<LayerHead>& layerHeads);

/// "ROWSxCOLS" (--image-grid), e.g. "24x24": the vision tokens' grid. Throws InputError about
/// "image-grid".
ImageGrid parseImageGrid(std::string_view text);

/// --layer: "all" (nullopt) or a layer index, negative counting from the end (chooseLayers).
std::optional<int> parseLayerChoice(std::string_view text);

} // namespace attnsteer
