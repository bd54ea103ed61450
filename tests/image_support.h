#pragma once
// Helpers for tests that check pictures the app writes.

#include <QImage>
#include <QSet>

namespace testsupport {

/// How many different colours IMAGE has on every second pixel of every second row: a blank or
/// flat picture has one or two, a plot with lines, text and a colour scale has dozens.
inline int distinctColours(const QImage& image) {
    QSet<QRgb> colours;
    for (int y = 0; y < image.height(); y += 2)
        for (int x = 0; x < image.width(); x += 2)
            colours.insert(image.pixel(x, y));
    return int(colours.size());
}

} // namespace testsupport
