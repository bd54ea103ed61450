#pragma once
// Private to the core: the central directory of a zip archive (what np.savez and
// np.savez_compressed write), ZIP64 included. Our own parser rather than libzip: the tensor
// reader needs each member's data offset, to pread rows of a stored member from worker threads
// on one shared descriptor, and libzip neither gives the offset nor lets threads share an archive.

#include "tensor_file_io.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnsteer::detail {

/// One member as the central directory describes it, checked against its local header.
struct ZipMember {
    std::string name;
    std::uint16_t method = 0; ///< 0 stored, 8 deflate (others are refused)
    std::uint32_t crc32 = 0;
    std::uint64_t compressedSize = 0;
    std::uint64_t size = 0;       ///< uncompressed
    std::uint64_t dataOffset = 0; ///< where the member's bytes start in the archive
};

/// The members of the zip archive FILE in directory order. Every size and offset is checked
/// against the file size before anything is allocated. Throws fileError(FILE's path, problem):
/// no end of central directory record (not a zip archive, or cut off), several disks, a
/// malformed directory or ZIP64 record, an encrypted member, a method other than stored and
/// deflate, a member whose bytes reach beyond the file, a name given twice.
std::vector<ZipMember> readZipDirectory(const PosixFile& file);

/// Whether the first bytes of a file (at least 4) are a zip archive's: a local file header, or
/// the end record of an empty archive.
bool looksLikeZip(const unsigned char* bytes);

} // namespace attnsteer::detail
