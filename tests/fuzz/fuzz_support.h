#pragma once
// What the libFuzzer targets share: an in-memory file to hand the readers a path, and the little
// parameter block some targets take from the front of their input.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace fuzzsupport {

/// An anonymous in-memory file (memfd) whose content each input replaces. The readers take a
/// path and open it themselves: path() is /proc/self/fd/N, which opens the same file again. A
/// memfd is a regular file, so the readers' "not a regular file" checks let it through; nothing
/// touches the disk and nothing is left behind.
class MemoryFile {
  public:
    explicit MemoryFile(const char* name) : fd_(memfd_create(name, MFD_CLOEXEC)) {
        if (fd_ < 0) {
            std::perror("memfd_create");
            std::abort();
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    MemoryFile(const MemoryFile&) = delete;
    MemoryFile& operator=(const MemoryFile&) = delete;

    const std::string& path() const { return path_; }

    /// Makes DATA (SIZE bytes) the whole content of the file.
    void assign(const std::uint8_t* data, std::size_t size) const {
        if (ftruncate(fd_, 0) != 0) {
            std::perror("ftruncate");
            std::abort();
        }
        std::size_t done = 0;
        while (done < size) {
            const ssize_t written = pwrite(fd_, data + done, size - done, off_t(done));
            if (written <= 0) {
                std::perror("pwrite");
                std::abort();
            }
            done += std::size_t(written);
        }
    }

  private:
    int fd_;
    std::string path_;
};

/// True while fuzzing; false with ATTNSTEER_FUZZ_STRICT=1, which is how scripts/run-fuzzers
/// replays the reproducers in tests/fuzz/findings/. Lenient, the targets step around the known
/// findings (bugs outside tests/fuzz that they found and that are not fixed yet, listed in
/// tests/fuzz/findings/README.md) so that fuzzing goes on past them, and may skip inputs that are
/// only slow; strict, they skip nothing.
inline bool lenient() {
    static const bool value = [] {
        const char* strict = std::getenv("ATTNSTEER_FUZZ_STRICT");
        return !(strict && std::strcmp(strict, "1") == 0);
    }();
    return value;
}

/// Reads little-endian numbers from the front of an input; past its end every byte reads as 0.
/// What remains after the numbers is the file the target hands to the reader.
class FrontReader {
  public:
    FrontReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    template <typename T> T take() {
        unsigned char bytes[sizeof(T)] = {};
        for (std::size_t i = 0; i < sizeof(T); ++i)
            bytes[i] = pos_ < size_ ? data_[pos_++] : 0;
        T value;
        std::memcpy(&value, bytes, sizeof(T));
        return value;
    }
    const std::uint8_t* rest() const { return data_ + pos_; }
    std::size_t restSize() const { return size_ - pos_; }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

} // namespace fuzzsupport
