#include "saliency_image.h"

#include "attnsteer/errors.h"

#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QImageReader>
#include <QSize>

#include <cstdio>

namespace attnsteer {
namespace {

/// Qt refuses to allocate decoded images above a limit (128 MiB in Qt 6.4, 256 MiB later). The
/// largest accepted image, 100 megapixels decoded as 16-bit RGBA (8 bytes a pixel, what Qt uses
/// for 16-bit colour PNGs), needs 800 MB; allow that with some room. Our own pixel check comes
/// first, so this only stops images whose size the reader does not know in advance.
constexpr int kAllocationLimitMiB = 1024;

std::string megapixelText(long long pixels) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", double(pixels) / 1e6);
    return text;
}

[[noreturn]] void throwTooLarge(const std::string& source, long long width, long long height) {
    const long long pixels = width * height;
    throw fileError(source, "image is " + std::to_string(width) + "x" + std::to_string(height) +
                                " = " + megapixelText(pixels) +
                                " megapixels, more than the 100 megapixel limit");
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

/// The checks that need no decoding; leaves READER on FILE, positioned to decode.
void checkHeader(const QString& path, QFile& file, QImageReader& reader) {
    const std::string source = path.toStdString();
    const QFileInfo info(path);
    if (!info.exists())
        throw fileError(source, "cannot open file: No such file or directory");
    if (info.isDir())
        throw fileError(source, "cannot open file: Is a directory");
    if (!file.open(QIODevice::ReadOnly))
        throw fileError(source, "cannot open file: " + file.errorString().toStdString());
    if (file.size() == 0)
        throw fileError(source, "file is empty, expected an image");

    if (QImageReader::allocationLimit() < kAllocationLimitMiB)
        QImageReader::setAllocationLimit(kAllocationLimitMiB);
    // Decide the format from the content: a saliency map saved with the wrong suffix still reads.
    reader.setDevice(&file);
    reader.setDecideFormatFromContent(true);
    reader.setAutoTransform(false);   // the saliency map is the pixel grid as stored
    const QSize size = reader.size(); // from the header, without decoding
    if (size.isValid() && qint64(size.width()) * size.height() > kMaxSaliencyImagePixels)
        throwTooLarge(source, size.width(), size.height());
}

} // namespace

void checkSaliencyImage(const QString& path) {
    QFile file(path);
    QImageReader reader;
    checkHeader(path, file, reader);
    if (!reader.canRead())
        throw fileError(path.toStdString(),
                        "cannot decode image: " + (reader.errorString().isEmpty()
                                                       ? std::string("unknown error")
                                                       : reader.errorString().toStdString()));
}

SaliencyMap loadSaliencyImage(const QString& path, QImage* decoded) {
    const std::string source = path.toStdString();
    QFile file(path);
    QImageReader reader;
    checkHeader(path, file, reader);
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
