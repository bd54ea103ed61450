// Positioned reads, unlinked temporary files, element conversions and message helpers shared by
// readNpy and the tensor-file reader (tensor_file_io.h).

#include "tensor_file_io.h"

#ifdef __F16C__
#include <immintrin.h>
#endif

#include "attnsteer/errors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attnsteer {

static_assert(std::endian::native == std::endian::little,
              "the tensor readers assume a little-endian host");

const char* dtypeName(TensorDtype dtype) {
    switch (dtype) {
    case TensorDtype::Float16:
        return "float16";
    case TensorDtype::BFloat16:
        return "bfloat16";
    case TensorDtype::Float32:
        return "float32";
    case TensorDtype::Float64:
        return "float64";
    }
    return "?";
}

std::size_t dtypeBytes(TensorDtype dtype) {
    switch (dtype) {
    case TensorDtype::Float16:
    case TensorDtype::BFloat16:
        return 2;
    case TensorDtype::Float32:
        return 4;
    case TensorDtype::Float64:
        return 8;
    }
    return 4;
}

namespace {

/// binary16 to binary32 with masks instead of branches, so that loops over it vectorize: normal
/// numbers rebias the exponent; subnormals are (2^-14 + m 2^-24) - 2^-14, exact (Sterbenz) and
/// computed on normal floats only, so no flush-to-zero mode can touch them; infinities and NaN
/// keep their payload, as numpy's conversion does.
inline float halfBitsToFloat(std::uint16_t half) {
    const std::uint32_t sign = std::uint32_t(half & 0x8000u) << 16;
    const std::uint32_t magnitude = half & 0x7fffu;
    const std::uint32_t shifted = magnitude << 13;
    const std::uint32_t isSpecial = 0u - std::uint32_t(magnitude >= 0x7c00u);
    const std::uint32_t isSubnormal = 0u - std::uint32_t(magnitude < 0x400u);
    const std::uint32_t normal = shifted + (std::uint32_t(127 - 15) << 23);
    const std::uint32_t special = shifted | 0x7f800000u;
    constexpr std::uint32_t kTwoToMinus14 = std::uint32_t(127 - 14) << 23;
    const std::uint32_t subnormal = std::bit_cast<std::uint32_t>(
        std::bit_cast<float>(shifted + kTwoToMinus14) - std::bit_cast<float>(kTwoToMinus14));
    std::uint32_t bits = (normal & ~isSpecial) | (special & isSpecial);
    bits = (bits & ~isSubnormal) | (subnormal & isSubnormal);
    return std::bit_cast<float>(bits | sign);
}

std::string errnoText(int error) {
    return std::strerror(error);
}

/// Source bytes converted per step in readElements: small enough to stay in the L2 cache.
constexpr std::size_t kConvertChunkBytes = std::size_t(256) << 10;

} // namespace

float halfToFloat(unsigned short bits) {
    return halfBitsToFloat(bits);
}

float bfloat16ToFloat(unsigned short bits) {
    return std::bit_cast<float>(std::uint32_t(bits) << 16);
}

unsigned short floatToBfloat16(float value) {
    // As PyTorch's round_to_nearest_even (c10/util/BFloat16.h): any NaN becomes the quiet 0x7fc0.
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    if (value != value)
        return 0x7fc0;
    const std::uint32_t roundingBias = ((bits >> 16) & 1u) + 0x7fffu;
    return static_cast<unsigned short>((bits + roundingBias) >> 16);
}

namespace detail {

PosixFile PosixFile::open(const std::string& path) {
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        throw fileError(path, "cannot open file: " + errnoText(errno));
    PosixFile file;
    file.fd_ = fd;
    file.path_ = path;
    struct stat info {};
    if (::fstat(fd, &info) != 0)
        throw fileError(path, "cannot open file: " + errnoText(errno));
    if (S_ISDIR(info.st_mode))
        throw fileError(path, "cannot open file: " + errnoText(EISDIR));
    if (!S_ISREG(info.st_mode))
        throw fileError(path, "cannot open file: not a regular file");
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags != -1)
        ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    file.size_ = std::uint64_t(info.st_size);
    return file;
}

PosixFile PosixFile::temporary(const std::string& about) {
    const char* env = std::getenv("TMPDIR");
    const std::string dir = env && *env ? env : "/tmp";
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        // No O_TMPFILE on this file system: a named file, unlinked at once.
        std::string name = dir + "/attnsteer-XXXXXX";
        fd = ::mkostemp(name.data(), O_CLOEXEC);
        if (fd >= 0)
            ::unlink(name.c_str());
    }
    if (fd < 0)
        throw fileError(about, "cannot create a temporary file in " + printable(dir, 200) + ": " +
                                   errnoText(errno));
    PosixFile file;
    file.fd_ = fd;
    file.path_ = about;
    return file;
}

PosixFile::PosixFile(PosixFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_), path_(std::move(other.path_)) {}

PosixFile& PosixFile::operator=(PosixFile&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        size_ = other.size_;
        path_ = std::move(other.path_);
    }
    return *this;
}

PosixFile::~PosixFile() {
    if (fd_ >= 0)
        ::close(fd_);
}

std::size_t PosixFile::readAt(void* buffer, std::size_t bytes, std::uint64_t offset) const {
    auto* out = static_cast<unsigned char*>(buffer);
    std::size_t done = 0;
    while (done < bytes) {
        const ssize_t got = ::pread(fd_, out + done, bytes - done, off_t(offset + done));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            throw fileError(path_, "cannot read file: " + errnoText(errno));
        }
        if (got == 0)
            break;
        done += std::size_t(got);
    }
    return done;
}

void PosixFile::append(const void* data, std::size_t bytes, const std::string& about) {
    const auto* in = static_cast<const unsigned char*>(data);
    std::size_t done = 0;
    while (done < bytes) {
        const ssize_t put = ::pwrite(fd_, in + done, bytes - done, off_t(size_ + done));
        if (put < 0) {
            if (errno == EINTR)
                continue;
            throw fileError(about, "cannot write the temporary file: " + errnoText(errno));
        }
        done += std::size_t(put);
    }
    size_ += bytes;
}

void convertToFloat(TensorDtype dtype, bool bigEndian, unsigned char* source, std::size_t count,
                    float* out) {
    switch (dtype) {
    case TensorDtype::Float16:
    case TensorDtype::BFloat16: {
        auto* in = reinterpret_cast<std::uint16_t*>(source);
        if (bigEndian)
            for (std::size_t i = 0; i < count; ++i)
                in[i] = __builtin_bswap16(in[i]);
        if (dtype == TensorDtype::Float16) {
            std::size_t i = 0;
#ifdef __F16C__
            // The CPU's own conversion (-march=native on x86 with F16C): exact, like the bits
            // below, at a fraction of their cost; it quiets signaling NaNs (still NaN).
            for (; i + 8 <= count; i += 8)
                _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                              reinterpret_cast<const __m128i*>(in + i))));
#endif
            for (; i < count; ++i)
                out[i] = halfBitsToFloat(in[i]);
        } else {
            for (std::size_t i = 0; i < count; ++i)
                out[i] = std::bit_cast<float>(std::uint32_t(in[i]) << 16);
        }
        return;
    }
    case TensorDtype::Float32: {
        auto* in = reinterpret_cast<std::uint32_t*>(source);
        if (bigEndian)
            for (std::size_t i = 0; i < count; ++i)
                in[i] = __builtin_bswap32(in[i]);
        std::memcpy(out, source, count * sizeof(float));
        return;
    }
    case TensorDtype::Float64: {
        auto* in = reinterpret_cast<std::uint64_t*>(source);
        for (std::size_t i = 0; i < count; ++i) {
            const std::uint64_t bits = bigEndian ? __builtin_bswap64(in[i]) : in[i];
            out[i] = static_cast<float>(std::bit_cast<double>(bits));
        }
        return;
    }
    }
}

void readElements(const StoredArray& array, const std::string& about, std::uint64_t first,
                  std::size_t count, float* out) {
    const std::size_t elementBytes = dtypeBytes(array.dtype);
    const std::uint64_t offset = array.offset + first * elementBytes;
    const auto truncated = [&](std::size_t expected, std::uint64_t at, std::size_t got) {
        return fileError(about, "truncated: expected " + std::to_string(expected) +
                                    " bytes at offset " + std::to_string(at) + ", found " +
                                    std::to_string(got));
    };
    if (array.dtype == TensorDtype::Float32 && !array.bigEndian) {
        const std::size_t bytes = count * sizeof(float);
        const std::size_t got = array.file->readAt(out, bytes, offset);
        if (got != bytes)
            throw truncated(bytes, offset, got);
        return;
    }
    // One buffer per thread, reused by every call: readRows stays allocation-free.
    thread_local std::vector<unsigned char> buffer;
    const std::size_t chunkElements = kConvertChunkBytes / elementBytes;
    const std::size_t bufferBytes = std::min(count, chunkElements) * elementBytes;
    if (buffer.size() < bufferBytes)
        buffer.resize(bufferBytes);
    for (std::size_t done = 0; done < count;) {
        const std::size_t n = std::min(chunkElements, count - done);
        const std::uint64_t at = offset + done * elementBytes;
        const std::size_t got = array.file->readAt(buffer.data(), n * elementBytes, at);
        if (got != n * elementBytes)
            throw truncated(n * elementBytes, at, got);
        convertToFloat(array.dtype, array.bigEndian, buffer.data(), n, out + done);
        done += n;
    }
}

std::string printable(std::string_view text, std::size_t maxShown) {
    std::string out;
    for (char c : text.substr(0, maxShown))
        out += (c >= 0x20 && c <= 0x7e) ? c : '?';
    if (text.size() > maxShown)
        out += "...";
    return out;
}

std::string quotedName(std::string_view name) {
    std::string out(1, '\'');
    out += printable(name, 64);
    out += '\'';
    return out;
}

std::string shapeText(std::span<const std::size_t> shape) {
    constexpr std::size_t kMaxShown = 8;
    std::string text = "(";
    for (std::size_t i = 0; i < std::min(shape.size(), kMaxShown); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() > kMaxShown)
        return text + ", ... " + std::to_string(shape.size()) + " dimensions)";
    return text + (shape.size() == 1 ? ",)" : ")");
}

} // namespace detail
} // namespace attnsteer
