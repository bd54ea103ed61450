#include "attnsteer/option_values.h"

#include "attnsteer/errors.h"
#include "attnsteer/projection.h"
#include "attnsteer/sweep.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

namespace attnsteer {
namespace {

std::string quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

/// std::from_chars does not take a leading '+'; people write one.
std::string_view withoutPlus(std::string_view text) {
    if (text.size() > 1 && text.front() == '+' && text[1] != '-' && text[1] != '+')
        text.remove_prefix(1);
    return text;
}

[[noreturn]] void notWhole(std::string_view text, std::string_view setting) {
    throw settingError(std::string(setting), quoted(text) + " is not a valid whole number");
}

} // namespace

std::int64_t parseWholeNumber(std::string_view text, std::string_view setting, std::int64_t min,
                              std::int64_t max) {
    const std::string_view digits = withoutPlus(text);
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || end != digits.data() + digits.size())
        notWhole(text, setting);
    if (error == std::errc::result_out_of_range)
        throw settingError(std::string(setting), digits.front() == '-'
                                                     ? "must be at least " + std::to_string(min)
                                                     : "must be at most " + std::to_string(max));
    if (error != std::errc())
        notWhole(text, setting);
    if (value < min)
        throw settingError(std::string(setting), "must be at least " + std::to_string(min));
    if (value > max)
        throw settingError(std::string(setting), "must be at most " + std::to_string(max));
    return value;
}

std::uint64_t parseUnsigned(std::string_view text, std::string_view setting) {
    const std::string_view digits = withoutPlus(text);
    if (!digits.empty() && digits.front() == '-') {
        // "-1" is a whole number, just not an allowed one; "-x" is not a number at all.
        parseWholeNumber(text, setting);
        throw settingError(std::string(setting), "must be at least 0");
    }
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || end != digits.data() + digits.size())
        notWhole(text, setting);
    if (error == std::errc::result_out_of_range)
        throw settingError(std::string(setting),
                           "must be at most " +
                               std::to_string(std::numeric_limits<std::uint64_t>::max()));
    if (error != std::errc())
        notWhole(text, setting);
    return value;
}

double parseRealNumber(std::string_view text, std::string_view setting, double min) {
    const std::string_view digits = withoutPlus(text);
    double value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || end != digits.data() + digits.size() ||
        (error != std::errc() && error != std::errc::result_out_of_range))
        throw settingError(std::string(setting), quoted(text) + " is not a valid number");
    if (error == std::errc::result_out_of_range)
        throw settingError(std::string(setting), quoted(text) + " is out of range for a double");
    if (!std::isfinite(value))
        throw settingError(std::string(setting), quoted(text) + " is not finite");
    if (value < min) {
        char bound[32];
        std::snprintf(bound, sizeof bound, "%g", min);
        throw settingError(std::string(setting), std::string("must be at least ") + bound);
    }
    return value;
}

std::vector<int> parseHeadList(std::string_view text, std::string_view setting) {
    // Same grammar as the seed list: "0,3,5" or "FIRST:LAST".
    const std::vector<std::uint64_t> values = parseSeedList(text, setting);
    std::vector<int> heads;
    heads.reserve(values.size());
    for (std::uint64_t value : values) {
        if (value > std::uint64_t(std::numeric_limits<int>::max()))
            throw settingError(std::string(setting),
                               "head " + std::to_string(value) + " is out of range");
        heads.push_back(int(value));
    }
    return heads;
}

ImageGrid parseImageGrid(std::string_view text) {
    const std::size_t x = text.find_first_of("xX");
    if (x == std::string_view::npos)
        throw settingError("image-grid", quoted(text) + " is not ROWSxCOLS, e.g. 24x24");
    ImageGrid grid;
    grid.rows = int(parseWholeNumber(text.substr(0, x), "image-grid", 1, 1 << 24));
    grid.cols = int(parseWholeNumber(text.substr(x + 1), "image-grid", 1, 1 << 24));
    checkImageGrid(grid);
    return grid;
}

std::optional<int> parseLayerChoice(std::string_view text) {
    if (text == "all")
        return std::nullopt;
    try {
        return int(parseWholeNumber(text, "layer", -(1 << 30), 1 << 30));
    } catch (const InputError&) {
        throw settingError("layer", quoted(text) + " is neither all nor a layer index");
    }
}

} // namespace attnsteer
