#pragma once
// Private to the core: what the .npy reader and the tensor-file reader share. A file opened for
// positioned reads (one descriptor, pread from any thread), an unlinked temporary file, the
// conversions of stored elements to float32, and the one-line text helpers for messages.

#include "attnsteer/tensor_file.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace attnsteer::detail {

/// A file open for reading at offsets (pread: thread-safe, no shared position). Move-only.
class PosixFile {
  public:
    /// Opens PATH read-only. A FIFO, socket or device does not block the open (O_NONBLOCK) and is
    /// refused before anything is read. Throws fileError(PATH, "cannot open file: ...") with
    /// strerror's wording ("No such file or directory", "Is a directory") or "not a regular file".
    static PosixFile open(const std::string& path);
    /// An unlinked read-write file in $TMPDIR (else /tmp), gone when closed. ABOUT names the
    /// file the temporary data belongs to, for the message when none can be created.
    static PosixFile temporary(const std::string& about);

    PosixFile() = default;
    PosixFile(PosixFile&& other) noexcept;
    PosixFile& operator=(PosixFile&& other) noexcept;
    PosixFile(const PosixFile&) = delete;
    PosixFile& operator=(const PosixFile&) = delete;
    ~PosixFile();

    /// The size when opened (or, for a temporary file, what was appended to it).
    std::uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }

    /// Reads BYTES at OFFSET into BUFFER, looping over short reads and EINTR; returns the bytes
    /// read, fewer only at the end of the file. Throws fileError(path, "cannot read file: ...")
    /// on an I/O error.
    std::size_t readAt(void* buffer, std::size_t bytes, std::uint64_t offset) const;
    /// Appends BYTES to a temporary file. Throws fileError(ABOUT, ...) when the write fails.
    void append(const void* data, std::size_t bytes, const std::string& about);

  private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::string path_;
};

/// Where the elements of an array lie and how they are stored.
struct StoredArray {
    const PosixFile* file = nullptr; ///< the file holding the bytes
    std::uint64_t offset = 0;        ///< byte offset of the first element in FILE
    TensorDtype dtype = TensorDtype::Float32;
    bool bigEndian = false;
};

/// Converts COUNT elements stored as DTYPE (byte-swapped first when BIG_ENDIAN; SOURCE may be
/// changed by that) to float32 in OUT.
void convertToFloat(TensorDtype dtype, bool bigEndian, unsigned char* source, std::size_t count,
                    float* out);

/// Reads COUNT elements of ARRAY starting at element FIRST into OUT as float32, through a
/// thread-local buffer. Throws fileError(ABOUT, "truncated: ...") when the file ends first.
void readElements(const StoredArray& array, const std::string& about, std::uint64_t first,
                  std::size_t count, float* out);

/// TEXT made safe for a one-line message: printable ASCII only ('?' for the rest), at most
/// MAX_SHOWN characters and "..." after.
std::string printable(std::string_view text, std::size_t maxShown = 32);

/// NAME in single quotes for a message, through printable (at most 64 characters shown).
std::string quotedName(std::string_view name);

/// "(3, 4)", "(5,)", "()"; beyond 8 dimensions "(1, 1, 1, 1, 1, 1, 1, 1, ... 5000 dimensions)".
std::string shapeText(std::span<const std::size_t> shape);

} // namespace attnsteer::detail
