#pragma once
// The sidecar of an attention dump: DUMP.json beside DUMP.npy|npz|safetensors (or --meta FILE),
// telling what the keys are: token texts, where the image's tokens start and their grid.
//
//   {"tokens": ["<|im_start|>", "user", ...],      K strings
//    "vision_start": 15,                           key index of the first vision token
//    "image_grid_thw": [1, 48, 48],                patches before merging, as Qwen2-VL's
//    "spatial_merge_size": 2,                      processor returns them (default m = 2)
//    "image": "photo.jpg",                         optional, relative to the JSON file
//    "query_positions": [0, 1, ...]}               optional, Q key indices of the query rows
//
// The vision tokens are t * (h/m) * (w/m) keys from vision_start, a (h/m) x (w/m) grid per frame.

#include "attnsteer/projection.h"

#include <optional>
#include <string>
#include <vector>

namespace attnsteer {

struct DumpMeta {
    std::string path;                ///< the JSON file
    std::vector<std::string> tokens; ///< K token texts, or empty
    std::optional<int> visionStart;  ///< key index of the first vision token
    ImageGrid grid;                  ///< the merged grid; unset without image_grid_thw
    int spatialMergeSize = 2;        ///< m
    std::string imagePath;           ///< the picture, resolved against the JSON's folder; or empty
    std::vector<int> queryPositions; ///< Q key indices, or empty (query q is key q)
    std::string kind;                ///< "attention", "logits", or empty (not said)
    std::string model, prompt;       ///< informational, or empty

    bool hasVisionSpan() const { return visionStart.has_value() && grid.isSet(); }
    /// The key index of query row QUERY of QUERIES rows over KEYS keys: query_positions[q], else
    /// q + KEYS - QUERIES (the last rows, as a causal dump of fewer rows than keys keeps them;
    /// q itself when every position is a row).
    int keyOfQuery(int query, int queries, int keys) const {
        return queryPositions.empty() ? query + keys - queries : queryPositions[std::size_t(query)];
    }
    /// The query row whose key index is KEY, or -1 when KEY is not a query row.
    int queryOfKey(int key, int queries, int keys) const;
};

/// DUMP.json for DUMP_PATH (its extension replaced) when that file exists, else "".
std::string sidecarPathFor(const std::string& dumpPath);

/// Reads and checks the sidecar PATH against a dump of KEYS keys and QUERIES query rows. Throws
/// InputError naming PATH, one line, for unreadable JSON, a key of the wrong type, a token count
/// other than KEYS, h or w not divisible by m, a vision span beyond KEYS, query positions that
/// are not QUERIES keys, or an image that does not exist.
DumpMeta readDumpMeta(const std::string& path, int keys, int queries);

} // namespace attnsteer
