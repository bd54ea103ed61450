#include "figure.h"

#include <QStringList>

#include <cmath>

namespace attnsteer {

QSize FigureSpec::pixels() const {
    return {int(std::lround(inches.width() * dpi)), int(std::lround(inches.height() * dpi))};
}

QSize FigureSpec::points() const {
    return {int(std::lround(inches.width() * 72)), int(std::lround(inches.height() * 72))};
}

QString figureSpecProblem(const FigureSpec& spec) {
    const auto inRange = [](double value, double low, double high) {
        return std::isfinite(value) && value >= low && value <= high;
    };
    if (!inRange(spec.inches.width(), kMinFigureInches, kMaxFigureInches) ||
        !inRange(spec.inches.height(), kMinFigureInches, kMaxFigureInches))
        return QStringLiteral("figure size %1 x %2 in is outside %3..%4 inches")
            .arg(spec.inches.width())
            .arg(spec.inches.height())
            .arg(kMinFigureInches)
            .arg(kMaxFigureInches);
    if (spec.format == FigureFormat::Png) {
        if (!inRange(spec.dpi, kMinFigureDpi, kMaxFigureDpi))
            return QStringLiteral("%1 dpi is outside %2..%3")
                .arg(spec.dpi)
                .arg(kMinFigureDpi)
                .arg(kMaxFigureDpi);
        const QSize pixels = spec.pixels();
        if (pixels.width() < 16 || pixels.height() < 16)
            return QStringLiteral("%1 x %2 pixels is smaller than 16 x 16")
                .arg(pixels.width())
                .arg(pixels.height());
        if ((long long)pixels.width() * pixels.height() > kMaxFigurePixels)
            return QStringLiteral("%1 x %2 = %3 pixels, more than the limit of %4")
                .arg(pixels.width())
                .arg(pixels.height())
                .arg((long long)pixels.width() * pixels.height())
                .arg(kMaxFigurePixels);
    }
    return {};
}

QString figureExtension(FigureFormat format) {
    switch (format) {
    case FigureFormat::Png:
        return QStringLiteral("png");
    case FigureFormat::Pdf:
        return QStringLiteral("pdf");
    case FigureFormat::Svg:
        break;
    }
    return QStringLiteral("svg");
}

std::optional<FigureFormat> parseFigureFormat(const QString& name) {
    for (FigureFormat format : {FigureFormat::Png, FigureFormat::Pdf, FigureFormat::Svg})
        if (name.compare(figureExtension(format), Qt::CaseInsensitive) == 0)
            return format;
    return std::nullopt;
}

std::optional<QSizeF> parseFigureSize(const QString& text) {
    const QStringList parts =
        text.trimmed().split(QLatin1Char('x'), Qt::KeepEmptyParts, Qt::CaseInsensitive);
    if (parts.size() != 2)
        return std::nullopt;
    bool okWidth = false, okHeight = false;
    const double width = parts[0].trimmed().toDouble(&okWidth);
    const double height = parts[1].trimmed().toDouble(&okHeight);
    if (!okWidth || !okHeight || !std::isfinite(width) || !std::isfinite(height) || width <= 0 ||
        height <= 0)
        return std::nullopt;
    return QSizeF(width, height);
}

} // namespace attnsteer
