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

SteeredHeadList parseSteeredHeads(std::string_view text, std::string_view setting) {
    SteeredHeadList list;
    const std::string name(setting);
    if (text == "all")
        return list;
    constexpr std::int64_t kMaxIndex = std::numeric_limits<int>::max();
    // Items are few: a range is expanded only up to this many heads.
    constexpr std::int64_t kMaxRange = 100000;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        std::string_view item = text.substr(start, comma - start);
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ')
            item.remove_suffix(1);
        if (item.empty())
            throw settingError(name, quoted(text) + " has an empty item");
        if (item.front() == 'L' || item.front() == 'l') {
            const std::size_t h = item.find_first_of("Hh");
            if (h == std::string_view::npos)
                throw settingError(name, quoted(item) + " is not LAYERHHEAD, e.g. L5H3");
            list.layerHeads.push_back(
                {int(parseWholeNumber(item.substr(1, h - 1), setting, 0, kMaxIndex)),
                 int(parseWholeNumber(item.substr(h + 1), setting, 0, kMaxIndex))});
        } else if (const std::size_t colon = item.find(':'); colon != std::string_view::npos) {
            const std::int64_t first =
                parseWholeNumber(item.substr(0, colon), setting, 0, kMaxIndex);
            const std::int64_t last =
                parseWholeNumber(item.substr(colon + 1), setting, 0, kMaxIndex);
            if (last < first)
                throw settingError(name, quoted(item) + ": LAST is below FIRST");
            if (last - first >= kMaxRange)
                throw settingError(name, quoted(item) + " is more than 100000 heads");
            for (std::int64_t head = first; head <= last; ++head)
                list.heads.push_back(int(head));
        } else {
            list.heads.push_back(int(parseWholeNumber(item, setting, 0, kMaxIndex)));
        }
        start = comma + 1;
    }
    return list;
}

std::string steeredHeadsText(const std::vector<int>& heads,
                             const std::vector<LayerHead>& layerHeads) {
    if (heads.empty() && layerHeads.empty())
        return "all";
    // Appended piece by piece: GCC 12 warned (-Wrestrict, a false positive) on "L" + string.
    std::string text;
    const auto separate = [&text] {
        if (!text.empty())
            text += ',';
    };
    for (int head : heads) {
        separate();
        text += std::to_string(head);
    }
    for (const LayerHead& one : layerHeads) {
        separate();
        text += 'L';
        text += std::to_string(one.layer);
        text += 'H';
        text += std::to_string(one.head);
    }
    return text;
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
