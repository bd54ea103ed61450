#include "saliency_image.h"

#include "attnsteer/errors.h"

#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QImageReader>
#include <QSize>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

namespace attnsteer {
namespace {

/// Qt refuses to allocate decoded images above a limit (128 MiB in Qt 6.4, 256 MiB later). The
/// largest accepted image, 100 megapixels decoded as 16-bit RGBA (8 bytes a pixel, what Qt uses
/// for 16-bit colour PNGs), needs 800 MB; allow that with some room. Our own pixel check comes
/// first, so this only stops images whose size the reader does not know in advance.
constexpr int kAllocationLimitMiB = 1024;

/// Decoding may expand a file at most this much: 1024 pixels per byte of file, plus 16
/// megapixels that any file may have. A constant-valued 4000 x 4000 PNG (a few KB) is under it; a
/// 154-byte run-length BMP claiming 10000 x 10000 pixels (a decompression bomb) is not.
constexpr long long kPixelsPerFileByte = 1024;
constexpr long long kPixelsOfAnyFile = 16'000'000;

/// The formats the README promises, by QImageReader's names.
const char* const kAcceptedFormats[] = {"png", "jpeg", "jpg", "bmp", "tiff", "tif"};

[[noreturn]] void throwTooLarge(const std::string& source, long long width, long long height) {
    const long long pixels = width * height;
    throw fileError(source, "image is " + std::to_string(width) + "x" + std::to_string(height) +
                                " = " + std::to_string(pixels) +
                                " pixels, more than the limit of " +
                                std::to_string(kMaxSaliencyImagePixels) + " (100 megapixels)");
}

std::uint32_t littleEndian32(const QByteArray& bytes, int at) {
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i)
        value = value << 8 | std::uint8_t(bytes[at + i]);
    return value;
}

/// COUNT bytes of FILE from OFFSET, without moving the position the image reader uses.
QByteArray bytesAt(QFile& file, qint64 offset, qint64 count) {
    if (file.handle() < 0) { // a Qt resource: seek and come back
        const qint64 position = file.pos();
        QByteArray bytes = file.seek(offset) ? file.read(count) : QByteArray();
        file.seek(position);
        return bytes;
    }
    QByteArray bytes(count, '\0');
    const ssize_t got = ::pread(file.handle(), bytes.data(), std::size_t(count), off_t(offset));
    bytes.resize(got > 0 ? qsizetype(got) : 0);
    return bytes;
}

/// Truncation that Qt's readers let pass (they fill the missing pixels): an uncompressed BMP
/// shorter than its pixel rows, a JPEG without its end-of-image marker.
void checkComplete(const std::string& source, QFile& file, const QByteArray& format, QSize size) {
    const qint64 fileSize = file.size();
    if (format == "bmp") {
        const QByteArray header = bytesAt(file, 0, 34);
        if (header.size() < 34)
            throw fileError(source, "truncated BMP header");
        const std::uint32_t dataOffset = littleEndian32(header, 10);
        const std::uint16_t bitsPerPixel =
            std::uint16_t(std::uint8_t(header[28]) | std::uint8_t(header[29]) << 8);
        const std::uint32_t compression = littleEndian32(header, 30);
        if (compression == 0 || compression == 3) { // BI_RGB, BI_BITFIELDS: rows as stored
            const qint64 stride = (qint64(size.width()) * bitsPerPixel + 31) / 32 * 4;
            const qint64 needed = qint64(dataOffset) + stride * size.height();
            if (fileSize < needed)
                throw fileError(source, "truncated BMP: " + std::to_string(fileSize) +
                                            " bytes, its pixel rows need " +
                                            std::to_string(needed));
        }
    } else if (format == "jpeg" || format == "jpg") {
        // The end-of-image marker FF D9, possibly followed by padding some writers append.
        const qint64 tail = std::min<qint64>(fileSize, 4096);
        if (!bytesAt(file, fileSize - tail, tail).contains(QByteArray("\xff\xd9", 2)))
            throw fileError(source, "truncated JPEG: no end-of-image marker");
    }
}

} // namespace

SaliencyMap saliencyMapFromImage(const QImage& image) {
    SaliencyMap map;
    if (image.isNull())
        return map;
    const QImage gray = image.format() == QImage::Format_Grayscale16
                            ? image
                            : image.convertToFormat(QImage::Format_Grayscale16);
    map.width = gray.width();
    map.height = gray.height();
    map.values.resize(std::size_t(map.width) * std::size_t(map.height));
    float* out = map.values.data();
    for (int y = 0; y < map.height; ++y) {
        const auto* line = reinterpret_cast<const quint16*>(gray.constScanLine(y));
        for (int x = 0; x < map.width; ++x)
            *out++ = float(double(line[x]) / 65535.0);
    }
    return map;
}

namespace {

void checkContents(const std::string& source, QFile& file, QImageReader& reader);

/// Opens SOURCE (a path's bytes, which need not be UTF-8) into FILE and makes the checks that
/// need no decoding; leaves READER on FILE, positioned to decode.
void checkHeader(const std::string& source, QFile& file, QImageReader& reader) {
    if (source.starts_with(":/")) { // a sample embedded in the program (Qt resource)
        file.setFileName(QString::fromStdString(source));
        if (!file.open(QIODevice::ReadOnly))
            throw fileError(source, "cannot open file: " + file.errorString().toStdString());
        return checkContents(source, file, reader);
    }
    // O_NONBLOCK: a FIFO must not block the open; only regular files are read.
    const int fd = ::open(source.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        throw fileError(source, "cannot open file: " + std::string(std::strerror(errno)));
    struct stat status {};
    if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        const bool directory = S_ISDIR(status.st_mode);
        ::close(fd);
        throw fileError(source, directory ? "cannot open file: Is a directory"
                                          : "cannot open file: not a regular file");
    }
    if (!file.open(fd, QIODevice::ReadOnly, QFileDevice::AutoCloseHandle)) {
        ::close(fd);
        throw fileError(source, "cannot open file: " + file.errorString().toStdString());
    }
    checkContents(source, file, reader);
}

/// The checks of an open FILE that need no decoding.
void checkContents(const std::string& source, QFile& file, QImageReader& reader) {
    if (file.size() == 0)
        throw fileError(source, "file is empty, expected an image");

    if (QImageReader::allocationLimit() < kAllocationLimitMiB)
        QImageReader::setAllocationLimit(kAllocationLimitMiB);
    // Decide the format from the content: a saliency map saved with the wrong suffix still reads.
    reader.setDevice(&file);
    reader.setDecideFormatFromContent(true);
    reader.setAutoTransform(false); // the saliency map is the pixel grid as stored
    const QByteArray format = reader.format();
    if (format.isEmpty())
        throw fileError(source, "cannot decode image: not an image Qt can read");
    if (std::find(std::begin(kAcceptedFormats), std::end(kAcceptedFormats), format) ==
        std::end(kAcceptedFormats))
        throw fileError(source, "image format " + format.toUpper().toStdString() +
                                    " is not accepted: use PNG, JPEG, BMP or TIFF");
    const QSize size = reader.size(); // from the header, without decoding
    if (!size.isValid())
        throw fileError(source, "cannot decode image: no size in its header");
    const qint64 pixels = qint64(size.width()) * size.height();
    if (pixels > kMaxSaliencyImagePixels)
        throwTooLarge(source, size.width(), size.height());
    if (pixels > kPixelsOfAnyFile + kPixelsPerFileByte * file.size())
        throw fileError(source,
                        "image is " + std::to_string(size.width()) + "x" +
                            std::to_string(size.height()) + " pixels in a file of " +
                            std::to_string(file.size()) +
                            " bytes: more than 1024 pixels per byte (a decompression bomb?)");
    checkComplete(source, file, format, size);
}

} // namespace

void checkSaliencyImage(const QString& path) {
    const std::string source = QFile::encodeName(path).toStdString();
    QFile file;
    QImageReader reader;
    checkHeader(source, file, reader);
    if (!reader.canRead())
        throw fileError(source,
                        "cannot decode image: " + (reader.errorString().isEmpty()
                                                       ? std::string("unknown error")
                                                       : reader.errorString().toStdString()));
}

SaliencyMap loadSaliencyImage(const QString& path, QImage* decoded) {
    return loadSaliencyImage(QFile::encodeName(path).toStdString(), decoded);
}

SaliencyMap loadSaliencyImage(const std::string& source, QImage* decoded) {
    QFile file;
    QImageReader reader;
    checkHeader(source, file, reader);
    QImage image;
    if (!reader.read(&image) || image.isNull()) {
        QString reason = reader.errorString();
        if (reason.isEmpty())
            reason = QStringLiteral("unknown error");
        throw fileError(source, "cannot decode image: " + reason.toStdString());
    }
    if (qint64(image.width()) * image.height() > kMaxSaliencyImagePixels)
        throwTooLarge(source, image.width(), image.height());
    SaliencyMap map = saliencyMapFromImage(image);
    if (decoded)
        *decoded = std::move(image);
    return map;
}

} // namespace attnsteer
