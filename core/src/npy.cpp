#include "attnsteer/npy.h"

#include "attnsteer/errors.h"

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

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
/// The largest element count we accept: 2^34 floats are 64 GiB, far beyond any saliency map.
constexpr std::size_t kMaxElements = std::size_t(1) << 34;
/// Elements converted per read when the file holds float64.
constexpr std::size_t kF8Chunk = std::size_t(1) << 20;

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

/// Makes header text safe to quote in a one-line message: printable ASCII only, short.
std::string printable(std::string_view text) {
    constexpr std::size_t kMaxShown = 32;
    std::string out;
    for (char c : text.substr(0, kMaxShown))
        out += (c >= 0x20 && c <= 0x7e) ? c : '?';
    if (text.size() > kMaxShown)
        out += "...";
    return out;
}

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
    HeaderParser(const std::string& path, std::string_view text) : path_(path), text_(text) {}

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
                    throw fileError(path_, "dtype is a structured type, expected float32 or "
                                           "float64 (little-endian)");
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
        throw fileError(path_, "malformed .npy header: " + what);
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

    /// A tuple of non-negative integers: (), (5,), (3, 4) or (3, 4,); Python 2's 3L also passes.
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
            std::size_t dim = 0;
            while (!atEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') {
                const std::size_t digit = std::size_t(text_[pos_] - '0');
                if (dim > (kMaxElements - digit) / 10)
                    throw fileError(path_, "shape too large");
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
    std::string_view text_;
    std::size_t pos_ = 0;
};

/// The element count of SHAPE, or nullopt when it exceeds kMaxElements. A zero dimension makes
/// any shape empty; the parser already caps each dimension at kMaxElements.
std::optional<std::size_t> checkedCount(std::span<const std::size_t> shape) {
    if (std::find(shape.begin(), shape.end(), std::size_t(0)) != shape.end())
        return std::size_t(0);
    std::size_t count = 1;
    for (std::size_t dim : shape) {
        if (dim > kMaxElements / count)
            return std::nullopt;
        count *= dim;
    }
    return count;
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

NpyArray readNpy(const std::string& path) {
    errno = 0;
    FilePtr file(std::fopen(path.c_str(), "rb"));
    if (!file)
        throw fileError(path, "cannot open file: " + errnoText(errno ? errno : ENOENT));
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw fileError(path, "cannot open file: " + errnoText(EISDIR));
    const std::uintmax_t fileSize = std::filesystem::file_size(path, ec);
    if (ec)
        throw fileError(path, "cannot open file: " + ec.message());

    auto readExactly = [&](void* buffer, std::size_t bytes) {
        const std::size_t got = std::fread(buffer, 1, bytes, file.get());
        if (got != bytes && std::ferror(file.get()))
            throw fileError(path, "cannot read file: " + errnoText(errno ? errno : EIO));
        return got;
    };

    // Preamble: magic, major and minor version, header length (2 bytes in 1.0, 4 in 2.0 and 3.0).
    unsigned char preamble[12] = {};
    const std::string notNpy = "not a .npy file (missing NUMPY magic)";
    if (fileSize < 10 || readExactly(preamble, 10) != 10 ||
        std::memcmp(preamble, kMagic, kMagicSize) != 0)
        throw fileError(path, notNpy);
    const int major = preamble[6], minor = preamble[7];
    if (major < 1 || major > 3 || minor != 0)
        throw fileError(path, "unsupported .npy version " + std::to_string(major) + "." +
                                  std::to_string(minor));
    const int lengthBytes = major == 1 ? 2 : 4;
    const std::uintmax_t preambleSize = 8 + std::uintmax_t(lengthBytes);
    if (fileSize < preambleSize || (lengthBytes == 4 && readExactly(preamble + 10, 2) != 2))
        throw fileError(path, "malformed .npy header: file ends inside the header");
    const std::uintmax_t headerSize = littleEndian(preamble + 8, lengthBytes);
    if (fileSize - preambleSize < headerSize)
        throw fileError(path, "malformed .npy header: file ends inside the header");
    std::string headerText(std::size_t(headerSize), '\0');
    if (readExactly(headerText.data(), headerText.size()) != headerText.size())
        throw fileError(path, "malformed .npy header: file ends inside the header");

    const Header header = HeaderParser(path, headerText).parse();

    NpyArray array;
    const std::string_view descr = header.descr;
    if (descr == "<f4" || descr == "=f4")
        array.sourceBytesPerElement = 4;
    else if (descr == "<f8" || descr == "=f8")
        array.sourceBytesPerElement = 8;
    else
        throw fileError(path, "dtype is " + printable(descr) +
                                  ", expected float32 or float64 (little-endian)");
    if (header.fortranOrder)
        throw fileError(path, "Fortran order is not supported; save with numpy.ascontiguousarray");
    const std::optional<std::size_t> count = checkedCount(header.shape);
    if (!count)
        throw fileError(path, "shape too large");

    // Sizes first, allocation second: a wrong shape must not cost gigabytes of memory.
    const std::uintmax_t needed =
        std::uintmax_t(*count) * std::uintmax_t(array.sourceBytesPerElement);
    const std::uintmax_t found = fileSize - preambleSize - headerSize;
    if (found < needed)
        throw fileError(path, "truncated: expected " + std::to_string(needed) +
                                  " bytes of data, found " + std::to_string(found));
    if (found > needed)
        throw fileError(path, std::to_string(found - needed) + " extra bytes after the data");

    array.shape = header.shape;
    array.data.resize(*count);
    const auto truncatedWhileReading = [&](std::uintmax_t got) {
        return fileError(path, "truncated: expected " + std::to_string(needed) +
                                   " bytes of data, found " + std::to_string(got));
    };
    if (*count == 0) {
        // Nothing to read; the sizes above already matched.
    } else if (array.sourceBytesPerElement == 4) {
        const std::size_t bytes = *count * sizeof(float);
        const std::size_t got = readExactly(array.data.data(), bytes);
        if (got != bytes)
            throw truncatedWhileReading(got);
    } else {
        std::vector<double> chunk(std::min(*count, kF8Chunk));
        for (std::size_t done = 0; done < *count;) {
            const std::size_t n = std::min(chunk.size(), *count - done);
            const std::size_t got = readExactly(chunk.data(), n * sizeof(double));
            if (got != n * sizeof(double))
                throw truncatedWhileReading(done * sizeof(double) + got);
            std::transform(chunk.begin(), chunk.begin() + std::ptrdiff_t(n),
                           array.data.begin() + std::ptrdiff_t(done),
                           [](double v) { return static_cast<float>(v); });
            done += n;
        }
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
