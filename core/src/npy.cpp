#include "attnsteer/npy.h"

#include "attnsteer/errors.h"
#include "npy_header.h"
#include "tensor_file_io.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace attnsteer {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader and writer assume a little-endian host");

using detail::printable;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
/// The largest element count readNpy accepts (it holds them all): 2^34 floats are 64 GiB, far
/// beyond any saliency map.
constexpr std::size_t kMaxElements = std::size_t(1) << 34;
/// Bytes read per step when the file's elements need converting.
constexpr std::size_t kConvertChunkBytes = std::size_t(1) << 22;
const std::string kExpectedDtypes = "expected float16, float32 or float64";

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

/// The parsed header dictionary.
struct Header {
    std::string descr;
    bool fortranOrder = false;
    std::vector<std::size_t> shape;
};

/// A parser for the Python dict literal in a .npy header, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
  public:
    HeaderParser(const std::string& path, const std::string& prefix, std::string_view text)
        : path_(path), prefix_(prefix), text_(text) {}

    Header parse() {
        skipSpace();
        if (atEnd() || text_[pos_] != '{')
            fail("does not start with '{'");
        ++pos_;
        bool haveDescr = false, haveFortran = false, haveShape = false;
        Header header;
        for (;;) {
            skipSpace();
            if (peek() == '}') {
                ++pos_;
                break;
            }
            const std::string key = parseString("a quoted key");
            skipSpace();
            expect(':', "after '" + printable(key) + "'");
            skipSpace();
            if (key == "descr") {
                markSeen(haveDescr, key);
                if (peek() == '[')
                    throw fileError(path_,
                                    prefix_ + "dtype is a structured type, " + kExpectedDtypes);
                header.descr = parseString("descr to be a string");
            } else if (key == "fortran_order") {
                markSeen(haveFortran, key);
                header.fortranOrder = parseBool();
            } else if (key == "shape") {
                markSeen(haveShape, key);
                header.shape = parseShape();
            } else {
                fail("unexpected key '" + printable(key) + "'");
            }
            skipSpace();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') {
                ++pos_;
                break;
            }
            fail("expected ',' or '}' after '" + printable(key) + "'");
        }
        skipSpace();
        if (!atEnd())
            fail("text after the closing '}'");
        if (!haveDescr)
            fail("missing 'descr'");
        if (!haveFortran)
            fail("missing 'fortran_order'");
        if (!haveShape)
            fail("missing 'shape'");
        return header;
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        throw fileError(path_, prefix_ + "malformed .npy header: " + what);
    }

    bool atEnd() const { return pos_ >= text_.size(); }

    /// The next character; fails when the header ends first, since every caller needs one more.
    char peek() const {
        if (atEnd())
            fail("missing closing '}'");
        return text_[pos_];
    }

    void skipSpace() {
        while (!atEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                            text_[pos_] == '\r'))
            ++pos_;
    }

    void expect(char c, const std::string& where) {
        if (peek() != c)
            fail(std::string("expected '") + c + "' " + where);
        ++pos_;
    }

    void markSeen(bool& seen, const std::string& key) const {
        if (seen)
            fail("duplicate key '" + key + "'");
        seen = true;
    }

    /// A Python string literal in single or double quotes; a backslash takes the next character.
    std::string parseString(const std::string& expected) {
        const char quote = peek();
        if (quote != '\'' && quote != '"')
            fail("expected " + expected);
        ++pos_;
        std::string out;
        for (;;) {
            char c = peek();
            ++pos_;
            if (c == quote)
                return out;
            if (c == '\n' || c == '\r')
                fail("unterminated string");
            if (c == '\\')
                c = peek(), ++pos_;
            out += c;
        }
    }

    bool parseBool() {
        for (auto [word, value] : {std::pair{std::string_view("True"), true},
                                   std::pair{std::string_view("False"), false}}) {
            if (text_.substr(pos_, word.size()) == word) {
                pos_ += word.size();
                return value;
            }
        }
        fail("fortran_order is not True or False");
    }

    /// A tuple of non-negative integers: (), (5,), (3, 4) or (3, 4,); Python 2's 3L also passes,
    /// a leading zero (03) does not, as in Python.
    std::vector<std::size_t> parseShape() {
        const std::string bad = "shape is not a tuple of non-negative integers";
        if (peek() != '(')
            fail(bad);
        ++pos_;
        std::vector<std::size_t> shape;
        for (;;) {
            skipSpace();
            if (peek() == ')') {
                ++pos_;
                return shape;
            }
            if (peek() < '0' || peek() > '9')
                fail(bad);
            if (peek() == '0' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' &&
                text_[pos_ + 1] <= '9')
                fail("shape has a number with a leading zero");
            std::size_t dim = 0;
            while (!atEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') {
                const std::size_t digit = std::size_t(text_[pos_] - '0');
                if (dim > (detail::kMaxNpyElements - digit) / 10)
                    throw fileError(path_, prefix_ + "shape too large");
                dim = dim * 10 + digit;
                ++pos_;
            }
            if (!atEnd() && (text_[pos_] == 'L' || text_[pos_] == 'l'))
                ++pos_;
            shape.push_back(dim);
            skipSpace();
            if (peek() == ',') {
                ++pos_;
            } else if (peek() != ')') {
                fail(bad);
            }
        }
    }

    const std::string& path_;
    const std::string& prefix_;
    std::string_view text_;
    std::size_t pos_ = 0;
};

/// The element count of SHAPE, or nullopt when it exceeds MAX_ELEMENTS. A zero dimension makes
/// any shape empty; the parser already caps each dimension at kMaxNpyElements.
std::optional<std::uint64_t> checkedCount(std::span<const std::size_t> shape,
                                          std::uint64_t maxElements) {
    if (std::find(shape.begin(), shape.end(), std::size_t(0)) != shape.end())
        return std::uint64_t(0);
    std::uint64_t count = 1;
    for (std::size_t dim : shape) {
        if (dim > maxElements / count)
            return std::nullopt;
        count *= dim;
    }
    return count;
}

/// The dtype of DESCR when it is a float the readers convert: '<f2' '<f4' '<f8', '>' for
/// big-endian, '=' for native (little-endian here).
std::optional<std::pair<TensorDtype, bool>> floatDtype(std::string_view descr) {
    if (descr.size() != 3 || descr[1] != 'f')
        return std::nullopt;
    const char order = descr[0];
    if (order != '<' && order != '>' && order != '=')
        return std::nullopt;
    const bool bigEndian = order == '>';
    switch (descr[2]) {
    case '2':
        return std::pair{TensorDtype::Float16, bigEndian};
    case '4':
        return std::pair{TensorDtype::Float32, bigEndian};
    case '8':
        return std::pair{TensorDtype::Float64, bigEndian};
    default:
        return std::nullopt;
    }
}

std::uint32_t littleEndian(const unsigned char* bytes, int size) {
    std::uint32_t value = 0;
    for (int i = size - 1; i >= 0; --i)
        value = (value << 8) | bytes[i];
    return value;
}

std::string errnoText(int error) {
    return std::strerror(error);
}

} // namespace

std::size_t NpyArray::elementCount() const {
    std::size_t count = 1;
    for (std::size_t dim : shape)
        count *= dim;
    return count;
}

namespace detail {

NpyHeader readNpyHeader(const std::string& path, const std::string& prefix, std::uint64_t size,
                        const NpyReadAt& read, std::uint64_t maxElements) {
    const auto fail = [&](const std::string& problem) { return fileError(path, prefix + problem); };
    // Preamble: magic, major and minor version, header length (2 bytes in 1.0, 4 in 2.0 and 3.0).
    unsigned char preamble[12] = {};
    if (size < 10 || read(preamble, 10, 0) != 10 || std::memcmp(preamble, kMagic, kMagicSize) != 0)
        throw fail("not a .npy file (missing NUMPY magic)");
    const int major = preamble[6], minor = preamble[7];
    if (major < 1 || major > 3 || minor != 0)
        throw fail("unsupported .npy version " + std::to_string(major) + "." +
                   std::to_string(minor));
    const int lengthBytes = major == 1 ? 2 : 4;
    const std::uint64_t preambleSize = 8 + std::uint64_t(lengthBytes);
    const std::string cut = "malformed .npy header: file ends inside the header";
    if (size < preambleSize || (lengthBytes == 4 && read(preamble + 10, 2, 10) != 2))
        throw fail(cut);
    const std::uint64_t headerSize = littleEndian(preamble + 8, lengthBytes);
    if (size - preambleSize < headerSize)
        throw fail(cut);
    std::string headerText(std::size_t(headerSize), '\0');
    if (read(headerText.data(), headerText.size(), preambleSize) != headerText.size())
        throw fail(cut);

    const Header dict = HeaderParser(path, prefix, headerText).parse();
    const auto dtype = floatDtype(dict.descr);
    if (!dtype)
        throw fail("dtype is " + printable(dict.descr) + ", " + kExpectedDtypes);
    if (dict.fortranOrder)
        throw fail("Fortran order is not supported; save with numpy.ascontiguousarray");
    const std::optional<std::uint64_t> count = checkedCount(dict.shape, maxElements);
    if (!count)
        throw fail("shape too large");

    NpyHeader header;
    header.shape = dict.shape;
    header.dtype = dtype->first;
    header.bigEndian = dtype->second;
    header.elements = *count;
    header.dataOffset = preambleSize + headerSize;
    const std::uint64_t needed = *count * dtypeBytes(header.dtype);
    const std::uint64_t found = size - header.dataOffset;
    if (found < needed)
        throw fail("truncated: expected " + std::to_string(needed) + " bytes of data, found " +
                   std::to_string(found));
    if (found > needed)
        throw fail(std::to_string(found - needed) + " extra bytes after the data");
    return header;
}

} // namespace detail

NpyArray readNpy(const std::string& path) {
    const detail::PosixFile file = detail::PosixFile::open(path);
    const detail::NpyHeader header = detail::readNpyHeader(
        path, {}, file.size(),
        [&](void* buffer, std::size_t bytes, std::uint64_t offset) {
            return file.readAt(buffer, bytes, offset);
        },
        kMaxElements);

    // Sizes first (readNpyHeader checked them against the file), allocation second.
    const std::size_t count = std::size_t(header.elements);
    const std::size_t elementBytes = dtypeBytes(header.dtype);
    const std::uint64_t needed = header.elements * elementBytes;
    NpyArray array;
    array.shape = header.shape;
    array.sourceBytesPerElement = int(elementBytes);
    array.data.resize(count);
    const auto truncatedWhileReading = [&](std::uint64_t got) {
        return fileError(path, "truncated: expected " + std::to_string(needed) +
                                   " bytes of data, found " + std::to_string(got));
    };
    if (count == 0)
        return array;
    if (header.dtype == TensorDtype::Float32 && !header.bigEndian) {
        const std::size_t got = file.readAt(array.data.data(), needed, header.dataOffset);
        if (got != needed)
            throw truncatedWhileReading(got);
        return array;
    }
    const std::size_t chunkElements = kConvertChunkBytes / elementBytes;
    std::vector<unsigned char> chunk(std::min(count, chunkElements) * elementBytes);
    for (std::size_t done = 0; done < count;) {
        const std::size_t n = std::min(chunkElements, count - done);
        const std::size_t got =
            file.readAt(chunk.data(), n * elementBytes, header.dataOffset + done * elementBytes);
        if (got != n * elementBytes)
            throw truncatedWhileReading(done * elementBytes + got);
        detail::convertToFloat(header.dtype, header.bigEndian, chunk.data(), n,
                               array.data.data() + done);
        done += n;
    }
    return array;
}

void writeNpy(const std::string& path, std::span<const std::size_t> shape,
              std::span<const float> data) {
    std::size_t count = 1;
    for (std::size_t dim : shape)
        count *= dim;
    if (count != data.size())
        throw std::invalid_argument("writeNpy: shape holds " + std::to_string(count) +
                                    " elements but data has " + std::to_string(data.size()));

    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0)
            dict += ", ";
        dict += std::to_string(shape[i]);
    }
    dict += shape.size() == 1 ? ",), }" : "), }";

    // Pad with spaces and end in '\n' so the data starts at a multiple of 64 bytes. Version 1.0
    // stores the header length in 2 bytes; only a shape with thousands of dimensions needs 2.0.
    const auto paddedHeaderSize = [&](std::size_t preambleSize) {
        return (preambleSize + dict.size() + 1 + 63) / 64 * 64 - preambleSize;
    };
    const bool v1 = paddedHeaderSize(10) <= 0xffff;
    const std::size_t lengthBytes = v1 ? 2 : 4;
    const std::size_t headerSize = paddedHeaderSize(8 + lengthBytes);
    std::string out(kMagic, kMagicSize);
    out += char(v1 ? 1 : 2);
    out += char(0);
    for (std::size_t i = 0; i < lengthBytes; ++i)
        out += char((headerSize >> (8 * i)) & 0xff);
    out += dict;
    out.append(headerSize - dict.size() - 1, ' ');
    out += '\n';

    // Write beside the target and rename, so a failed write never leaves half a file at PATH.
    const std::string tmp = path + ".tmp";
    const auto fail = [&](int error, const std::string& why) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw fileError(path, "cannot write file: " + (why.empty() ? errnoText(error) : why));
    };
    errno = 0;
    FilePtr file(std::fopen(tmp.c_str(), "wb"));
    if (!file)
        fail(errno ? errno : EIO, {});
    errno = 0;
    if (std::fwrite(out.data(), 1, out.size(), file.get()) != out.size() ||
        (!data.empty() &&
         std::fwrite(data.data(), sizeof(float), data.size(), file.get()) != data.size()) ||
        std::fflush(file.get()) != 0) {
        const int error = errno ? errno : EIO;
        file.reset();
        fail(error, {});
    }
    errno = 0;
    if (std::fclose(file.release()) != 0)
        fail(errno ? errno : EIO, {});
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec)
        fail(0, ec.message());
}

} // namespace attnsteer
