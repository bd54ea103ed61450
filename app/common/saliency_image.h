#pragma once
// Saliency maps stored as images (PNG, JPEG, TIFF, ...): read as luminance in 0..1.

#include <QString>

#include <string>

#include <vector>

class QImage;

namespace attnsteer {

/// A saliency map: HEIGHT rows of WIDTH values, row-major (values[y * width + x]).
/// Every value lies in 0..1: 0 is black (not salient), 1 is white (most salient).
struct SaliencyMap {
    int width = 0;
    int height = 0;
    std::vector<float> values;
};

/// The most pixels an image may have: larger ones are refused before they are decoded.
inline constexpr long long kMaxSaliencyImagePixels = 100'000'000;

/// The luminance of IMAGE, in 0..1 (value / 65535 after QImage::Format_Grayscale16). Grey images
/// keep their values, 16-bit PNGs at full precision; colour images get Qt's grey conversion, a
/// luminance weighting of R, G and B in the image's colour space (sRGB when it names none; pure
/// red gives about 0.51). Alpha is ignored: a transparent white pixel counts as 1. A null image
/// gives an empty map.
SaliencyMap saliencyMapFromImage(const QImage& image);

/// Reads the image file PATH (format from its content, any format Qt's image plugins read) and
/// returns its luminance as saliencyMapFromImage does. Orientation metadata is not applied: the
/// map is the pixel grid as stored. Throws InputError(PATH, problem) for a missing or unreadable
/// file ("cannot open file: ..."), an empty file ("file is empty"), an image over
/// kMaxSaliencyImagePixels ("image is WxH = N pixels, more than the limit of 100000000 (100
/// megapixels)") or over 1024 pixels per byte of file (a decompression bomb), a format other than
/// PNG, JPEG, BMP and TIFF, a FIFO or other file that is not regular, an uncompressed BMP shorter
/// than its pixel rows or a JPEG without its end marker ("truncated ..."): all checked before
/// decoding; and an undecodable one ("cannot decode image: <Qt's reason>").
/// DECODED, when given, receives the decoded image (for drawing it: the file is decoded once).
SaliencyMap loadSaliencyImage(const QString& path, QImage* decoded = nullptr);
/// The same for a path given as bytes (a command-line argument; it need not be UTF-8). Messages
/// name the file by these bytes.
SaliencyMap loadSaliencyImage(const std::string& path, QImage* decoded = nullptr);

/// The checks of loadSaliencyImage that need no decoding (the file is there, not empty, of a
/// format Qt reads, within the pixel limit), with the same errors: the window asks them at once,
/// and decodes off the GUI thread.
void checkSaliencyImage(const QString& path);

} // namespace attnsteer
