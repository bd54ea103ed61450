#include "attnsteer/dump_meta.h"

#include "attnsteer/errors.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace attnsteer {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

/// Sidecars are a few hundred KB at most (a token text per key); a cap keeps a wrong file from
/// being read whole.
constexpr std::uintmax_t kMaxSidecarBytes = std::uintmax_t(256) << 20;

/// TEXT with control characters replaced, short: safe inside a one-line message.
std::string printable(const std::string& text) {
    std::string out = text.substr(0, 120);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    return text.size() > 120 ? out + "..." : out;
}

class MetaReader {
  public:
    explicit MetaReader(std::string path) : path_(std::move(path)) {}

    [[noreturn]] void fail(const std::string& problem) const { throw fileError(path_, problem); }

    Json parse() const {
        std::error_code error;
        const auto status = fs::status(path_, error);
        if (error || !fs::exists(status))
            fail("cannot open: No such file or directory");
        if (!fs::is_regular_file(status))
            fail("not a regular file");
        if (fs::file_size(path_, error) > kMaxSidecarBytes)
            fail("larger than 256 MiB, not a sidecar");
        std::ifstream in(path_, std::ios::binary);
        if (!in)
            fail("cannot open");
        std::ostringstream text;
        text << in.rdbuf();
        try {
            Json json = Json::parse(text.str());
            if (!json.is_object())
                fail("expected a JSON object");
            return json;
        } catch (const Json::parse_error& e) {
            fail("not valid JSON (at byte " + std::to_string(e.byte) + ")");
        } catch (const Json::exception&) { // e.g. a number beyond a double (found by fuzzing)
            fail("not valid JSON (a value out of range)");
        }
    }

    long long integer(const Json& value, const std::string& what, long long min,
                      long long max) const {
        if (!value.is_number_integer())
            fail(what + " must be an integer");
        const long long number = value.get<long long>();
        if (number < min || number > max)
            fail(what + " is " + std::to_string(number) + ", expected " + std::to_string(min) +
                 ".." + std::to_string(max));
        return number;
    }

    std::string text(const Json& value, const std::string& what) const {
        if (!value.is_string())
            fail(what + " must be a string");
        return value.get<std::string>();
    }

  private:
    std::string path_;
};

} // namespace

int DumpMeta::queryOfKey(int key, int queries, int keys) const {
    if (queryPositions.empty()) {
        const int query = key - (keys - queries);
        return query >= 0 && query < queries ? query : -1;
    }
    for (std::size_t q = 0; q < queryPositions.size(); ++q)
        if (queryPositions[q] == key)
            return int(q);
    return -1;
}

std::string sidecarPathFor(const std::string& dumpPath) {
    fs::path candidate(dumpPath);
    candidate.replace_extension(".json");
    std::error_code error;
    if (candidate != fs::path(dumpPath) && fs::is_regular_file(candidate, error))
        return candidate.string();
    return {};
}

DumpMeta readDumpMeta(const std::string& path, int keys, int queries) {
    const MetaReader reader(path);
    const Json json = reader.parse();
    DumpMeta meta;
    meta.path = path;

    if (const auto it = json.find("tokens"); it != json.end()) {
        if (!it->is_array())
            reader.fail("tokens must be a list of strings");
        if (it->size() != std::size_t(keys))
            reader.fail("tokens has " + std::to_string(it->size()) + " entries, expected " +
                        std::to_string(keys) + " (keys)");
        meta.tokens.reserve(it->size());
        for (std::size_t i = 0; i < it->size(); ++i)
            meta.tokens.push_back(reader.text((*it)[i], "tokens[" + std::to_string(i) + "]"));
    }
    if (const auto it = json.find("spatial_merge_size"); it != json.end())
        meta.spatialMergeSize = int(reader.integer(*it, "spatial_merge_size", 1, 64));
    const auto start = json.find("vision_start");
    const auto thw = json.find("image_grid_thw");
    if ((start == json.end()) != (thw == json.end()))
        reader.fail(start == json.end() ? "image_grid_thw needs vision_start"
                                        : "vision_start needs image_grid_thw");
    if (start != json.end()) {
        meta.visionStart = int(reader.integer(*start, "vision_start", 0, keys - 1));
        if (!thw->is_array() || thw->size() != 3)
            reader.fail("image_grid_thw must be [t, h, w]");
        const int m = meta.spatialMergeSize;
        const long long t = reader.integer((*thw)[0], "image_grid_thw t", 1, 1 << 16);
        const long long h = reader.integer((*thw)[1], "image_grid_thw h", 1, 1 << 16);
        const long long w = reader.integer((*thw)[2], "image_grid_thw w", 1, 1 << 16);
        if (h % m != 0 || w % m != 0)
            reader.fail("image_grid_thw h x w = " + std::to_string(h) + " x " + std::to_string(w) +
                        " is not divisible by spatial_merge_size " + std::to_string(m));
        meta.grid = ImageGrid{int(t), int(h / m), int(w / m)};
        const long long end = *meta.visionStart + meta.grid.tokenCount();
        if (end > keys)
            reader.fail("the " + std::to_string(meta.grid.tokenCount()) +
                        " vision tokens from vision_start " + std::to_string(*meta.visionStart) +
                        " end at key " + std::to_string(end) + ", beyond the " +
                        std::to_string(keys) + " keys");
    }
    if (const auto it = json.find("image"); it != json.end() && !it->is_null()) {
        const std::string image = reader.text(*it, "image");
        fs::path resolved(image);
        if (resolved.is_relative())
            resolved = fs::path(path).parent_path() / resolved;
        std::error_code error;
        if (!fs::is_regular_file(resolved, error))
            reader.fail("image '" + printable(image) + "' does not exist");
        meta.imagePath = resolved.lexically_normal().string();
    }
    if (const auto it = json.find("query_positions"); it != json.end() && !it->is_null()) {
        if (!it->is_array() || it->size() != std::size_t(queries))
            reader.fail("query_positions must list " + std::to_string(queries) +
                        " key indices (one per query row)");
        for (std::size_t i = 0; i < it->size(); ++i)
            meta.queryPositions.push_back(int(reader.integer(
                (*it)[i], "query_positions[" + std::to_string(i) + "]", 0, keys - 1)));
    }
    if (const auto it = json.find("kind"); it != json.end()) {
        meta.kind = reader.text(*it, "kind");
        if (meta.kind != "attention" && meta.kind != "logits")
            reader.fail("kind must be \"attention\" or \"logits\"");
    }
    if (const auto it = json.find("model"); it != json.end() && it->is_string())
        meta.model = it->get<std::string>();
    if (const auto it = json.find("prompt"); it != json.end() && it->is_string())
        meta.prompt = it->get<std::string>();
    return meta;
}

} // namespace attnsteer
