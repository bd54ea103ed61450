// libFuzzer target: the sidecar JSON of a dump, attnsteer::readDumpMeta (core/include/attnsteer/
// dump_meta.h). Input: keys - 1 and queries - 1 as two little-endian uint16 (so 1..65536 each),
// then the JSON text. The file lies in a temporary folder of its own beside an empty photo.png,
// so that an "image" naming it exists and any other name does not.
// An InputError is the expected answer to a bad sidecar; a crash, a sanitizer report, a hang or
// an oversized allocation is a finding, and so is a sidecar accepted that breaks what
// readDumpMeta promises (token count, vision span and query positions within the keys).

#include "fuzz_support.h"

#include "attnsteer/dump_meta.h"
#include "attnsteer/errors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

namespace {

/// A folder with meta.json (each input) and photo.png (empty), removed at exit.
struct SidecarFolder {
    std::string folder, json;
    SidecarFolder() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/attnsteer-fuzz-XXXXXX";
        if (!mkdtemp(pattern.data())) {
            std::perror("mkdtemp");
            std::abort();
        }
        folder = pattern;
        json = folder + "/meta.json";
        write(folder + "/photo.png", nullptr, 0);
    }
    ~SidecarFolder() {
        std::error_code error;
        std::filesystem::remove_all(folder, error);
    }
    static void write(const std::string& path, const std::uint8_t* data, std::size_t size) {
        const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            std::perror("open");
            std::abort();
        }
        std::size_t done = 0;
        while (done < size) {
            const ssize_t written = ::write(fd, data + done, size - done);
            if (written <= 0) {
                std::perror("write");
                std::abort();
            }
            done += std::size_t(written);
        }
        close(fd);
    }
};

/// Reads the sidecar and checks what readDumpMeta promises of one it accepts.
void readAndCheck(const std::string& path, int keys, int queries) {
    const attnsteer::DumpMeta meta = attnsteer::readDumpMeta(path, keys, queries);
    if (!meta.tokens.empty() && meta.tokens.size() != std::size_t(keys))
        __builtin_trap();
    if (!meta.queryPositions.empty() && meta.queryPositions.size() != std::size_t(queries))
        __builtin_trap();
    if (meta.hasVisionSpan() &&
        (*meta.visionStart < 0 || *meta.visionStart + meta.grid.tokenCount() > keys))
        __builtin_trap();
    if (meta.spatialMergeSize < 1)
        __builtin_trap();
    // Every query row maps to a key and back.
    for (int q = 0; q < std::min(queries, 4096); ++q) {
        const int key = meta.keyOfQuery(q, queries, keys);
        if (!meta.queryPositions.empty() && (key < 0 || key >= keys))
            __builtin_trap();
        if (key >= 0 && key < keys && q < 64 && meta.queryOfKey(key, queries, keys) < 0)
            __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const SidecarFolder sidecar;
    fuzzsupport::FrontReader front(data, size);
    const int keys = 1 + int(front.take<std::uint16_t>());
    const int queries = 1 + int(front.take<std::uint16_t>());
    SidecarFolder::write(sidecar.json, front.rest(), front.restSize());
    try {
        readAndCheck(sidecar.json, keys, queries);
    } catch (const attnsteer::InputError&) {
    }
    return 0;
}
