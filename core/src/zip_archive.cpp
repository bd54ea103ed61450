// The central directory of a zip archive (zip_archive.h), after PKWARE's APPNOTE.TXT 6.3:
// end of central directory record (4.3.16), ZIP64 locator and record (4.3.14, 4.3.15), central
// directory headers (4.3.12), local file headers (4.3.7), the ZIP64 extra field (4.5.3).

#include "zip_archive.h"

#include "attnsteer/errors.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

namespace attnsteer::detail {
namespace {

constexpr std::uint32_t kLocalSignature = 0x04034b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::size_t kEndSize = 22, kLocatorSize = 20, kZip64EndSize = 56;
constexpr std::size_t kCentralSize = 46, kLocalSize = 30;
constexpr std::size_t kMaxComment = 0xffff;
/// The largest central directory read: 64 MiB are over a million members.
constexpr std::uint64_t kMaxDirectoryBytes = std::uint64_t(64) << 20;

std::uint64_t le(const unsigned char* bytes, int size) {
    std::uint64_t value = 0;
    for (int i = size - 1; i >= 0; --i)
        value = (value << 8) | bytes[i];
    return value;
}

/// Reads the fields of a ZIP64 extended-information extra field (id 1) for the 32-bit values that
/// are 0xffffffff, in the order the format lists them. Returns false when EXTRA lacks one.
bool readZip64Extra(const unsigned char* extra, std::size_t extraSize,
                    std::initializer_list<std::uint64_t*> fields) {
    bool needed = false;
    for (std::uint64_t* field : fields)
        needed = needed || *field == 0xffffffffu;
    if (!needed)
        return true;
    for (std::size_t pos = 0; pos + 4 <= extraSize;) {
        const std::uint64_t id = le(extra + pos, 2), size = le(extra + pos + 2, 2);
        if (pos + 4 + size > extraSize)
            return false;
        if (id == 1) {
            std::size_t at = pos + 4;
            for (std::uint64_t* field : fields) {
                if (*field != 0xffffffffu)
                    continue;
                if (at + 8 > pos + 4 + size)
                    return false;
                *field = le(extra + at, 8);
                at += 8;
            }
            return true;
        }
        pos += 4 + size;
    }
    return false;
}

} // namespace

bool looksLikeZip(const unsigned char* bytes) {
    const std::uint64_t signature = le(bytes, 4);
    return signature == kLocalSignature || signature == kEndSignature;
}

std::vector<ZipMember> readZipDirectory(const PosixFile& file) {
    const std::string& path = file.path();
    const std::uint64_t fileSize = file.size();
    const auto fail = [&](const std::string& problem) { return fileError(path, problem); };
    const auto readExactly = [&](void* buffer, std::size_t bytes, std::uint64_t offset) {
        return file.readAt(buffer, bytes, offset) == bytes;
    };

    // The end record is the last thing in the file, followed only by its comment: search the
    // tail backwards for a signature whose comment length ends exactly at the end of the file.
    const std::size_t tailSize =
        std::size_t(std::min<std::uint64_t>(fileSize, kEndSize + kMaxComment));
    std::vector<unsigned char> tail(tailSize);
    if (!readExactly(tail.data(), tailSize, fileSize - tailSize))
        throw fail("cannot read file: it changed while being read");
    std::optional<std::size_t> endAt;
    for (std::size_t pos = tailSize >= kEndSize ? tailSize - kEndSize + 1 : 0; pos-- > 0;) {
        if (le(&tail[pos], 4) == kEndSignature &&
            pos + kEndSize + le(&tail[pos + 20], 2) == tailSize) {
            endAt = pos;
            break;
        }
    }
    if (!endAt)
        throw fail("not a zip archive, or cut off: no end of central directory record");
    const unsigned char* end = &tail[*endAt];
    const std::uint64_t endOffset = fileSize - tailSize + *endAt;
    std::uint64_t disk = le(end + 4, 2), directoryDisk = le(end + 6, 2);
    std::uint64_t entries = le(end + 10, 2), diskEntries = le(end + 8, 2);
    std::uint64_t directorySize = le(end + 12, 4), directoryOffset = le(end + 16, 4);
    std::uint64_t directoryEnd = endOffset; // where the central directory must end at the latest

    // ZIP64: a locator just before the end record points to the ZIP64 end record, whose 64-bit
    // fields replace the end record's (numpy's zipfile writes them for large archives).
    if (endOffset >= kLocatorSize) {
        unsigned char locator[kLocatorSize];
        if (!readExactly(locator, kLocatorSize, endOffset - kLocatorSize))
            throw fail("cannot read file: it changed while being read");
        if (le(locator, 4) == kZip64LocatorSignature) {
            const std::uint64_t recordOffset = le(locator + 8, 8);
            const std::uint64_t locatorOffset = endOffset - kLocatorSize;
            unsigned char record[kZip64EndSize];
            if (recordOffset > locatorOffset || locatorOffset - recordOffset < kZip64EndSize ||
                !readExactly(record, kZip64EndSize, recordOffset) ||
                le(record, 4) != kZip64EndSignature)
                throw fail("malformed zip archive: bad ZIP64 end of central directory record");
            if (le(locator + 4, 4) != 0 || le(locator + 16, 4) > 1)
                throw fail("multi-disk zip archives are not supported");
            disk = le(record + 16, 4);
            directoryDisk = le(record + 20, 4);
            diskEntries = le(record + 24, 8);
            entries = le(record + 32, 8);
            directorySize = le(record + 40, 8);
            directoryOffset = le(record + 48, 8);
            directoryEnd = recordOffset;
        }
    }
    if (disk != 0 || directoryDisk != 0 || diskEntries != entries)
        throw fail("multi-disk zip archives are not supported");
    if (directoryOffset > directoryEnd || directorySize > directoryEnd - directoryOffset)
        throw fail("malformed zip archive: the central directory (" +
                   std::to_string(directorySize) + " bytes at offset " +
                   std::to_string(directoryOffset) + ") lies beyond its end record");
    if (directorySize > kMaxDirectoryBytes)
        throw fail("zip central directory of " + std::to_string(directorySize) +
                   " bytes, more than the 64 MiB this reader accepts");
    if (entries > directorySize / kCentralSize)
        throw fail("malformed zip archive: " + std::to_string(entries) +
                   " members cannot fit in a central directory of " +
                   std::to_string(directorySize) + " bytes");

    std::vector<unsigned char> directory(directorySize);
    if (!readExactly(directory.data(), directory.size(), directoryOffset))
        throw fail("cannot read file: it changed while being read");
    std::vector<ZipMember> members;
    members.reserve(entries);
    std::set<std::string> names;
    std::size_t pos = 0;
    for (std::uint64_t i = 0; i < entries; ++i) {
        const std::string entry = "malformed zip archive: central directory entry " +
                                  std::to_string(i + 1) + " of " + std::to_string(entries);
        if (directory.size() - pos < kCentralSize || le(&directory[pos], 4) != kCentralSignature)
            throw fail(entry + " is not where the directory says");
        const unsigned char* header = &directory[pos];
        const std::size_t nameSize = le(header + 28, 2), extraSize = le(header + 30, 2),
                          commentSize = le(header + 32, 2);
        if (directory.size() - pos - kCentralSize < nameSize + extraSize + commentSize)
            throw fail(entry + " is cut off");
        ZipMember member;
        member.name.assign(reinterpret_cast<const char*>(header + kCentralSize), nameSize);
        const std::string name = quotedName(member.name);
        const std::uint64_t flags = le(header + 8, 2);
        member.method = std::uint16_t(le(header + 10, 2));
        member.crc32 = std::uint32_t(le(header + 16, 4));
        member.compressedSize = le(header + 20, 4);
        member.size = le(header + 24, 4);
        std::uint64_t localOffset = le(header + 42, 4);
        std::uint64_t memberDisk = le(header + 34, 2);
        if (!readZip64Extra(header + kCentralSize + nameSize, extraSize,
                            {&member.size, &member.compressedSize, &localOffset}))
            throw fail("malformed zip archive: member " + name +
                       " lacks its ZIP64 sizes or offset");
        if (memberDisk != 0 && memberDisk != 0xffff)
            throw fail("multi-disk zip archives are not supported");
        pos += kCentralSize + nameSize + extraSize + commentSize;
        if (flags & 1u)
            throw fail("member " + name + " is encrypted");
        if (member.method != 0 && member.method != 8)
            throw fail("member " + name + " uses compression method " +
                       std::to_string(member.method) +
                       "; only stored (0) and deflate (8) are "
                       "supported");
        if (!names.insert(member.name).second)
            throw fail("member " + name + " appears twice in the archive");

        // The local header: its name and extra field decide where the data starts; its sizes
        // must agree with the directory's unless they follow the data (flag bit 3).
        unsigned char local[kLocalSize];
        if (localOffset > directoryOffset || directoryOffset - localOffset < kLocalSize ||
            !readExactly(local, kLocalSize, localOffset) || le(local, 4) != kLocalSignature)
            throw fail("malformed zip archive: no local header for member " + name + " at offset " +
                       std::to_string(localOffset));
        const std::size_t localNameSize = le(local + 26, 2), localExtraSize = le(local + 28, 2);
        const std::uint64_t dataOffset = localOffset + kLocalSize + localNameSize + localExtraSize;
        if (dataOffset > directoryOffset)
            throw fail("malformed zip archive: local header of member " + name +
                       " runs into the central directory");
        std::vector<unsigned char> localRest(localNameSize + localExtraSize);
        if (!readExactly(localRest.data(), localRest.size(), localOffset + kLocalSize))
            throw fail("cannot read file: it changed while being read");
        std::uint64_t localCompressed = le(local + 18, 4), localSize = le(local + 22, 4);
        const bool sizesFollow = (le(local + 6, 2) & 8u) != 0;
        if (localNameSize != nameSize ||
            (nameSize > 0 && // an empty name: no memcmp of a null pointer (found by fuzzing)
             std::memcmp(localRest.data(), member.name.data(), nameSize) != 0) ||
            le(local + 8, 2) != member.method ||
            !readZip64Extra(localRest.data() + localNameSize, localExtraSize,
                            {&localSize, &localCompressed}) ||
            (!sizesFollow &&
             (localSize != member.size || localCompressed != member.compressedSize)))
            throw fail("malformed zip archive: the local header of member " + name +
                       " disagrees with the central directory");
        if (member.compressedSize > directoryOffset - dataOffset)
            throw fail("malformed zip archive: the data of member " + name + " (" +
                       std::to_string(member.compressedSize) + " bytes at offset " +
                       std::to_string(dataOffset) + ") runs into the central directory");
        if (member.method == 0 && member.compressedSize != member.size)
            throw fail("malformed zip archive: stored member " + name + " has " +
                       std::to_string(member.compressedSize) + " bytes but a size of " +
                       std::to_string(member.size));
        member.dataOffset = dataOffset;
        members.push_back(std::move(member));
    }
    return members;
}

} // namespace attnsteer::detail
