#pragma once
// A figure for a file: its format, its size in inches and its resolution. One description for
// every export path (a view's context menu, "Export all plots", `attnsteer-cli plot`).

#include <QSize>
#include <QSizeF>
#include <QString>

#include <optional>

namespace attnsteer {

enum class FigureFormat { Png, Pdf, Svg };

struct FigureSpec {
    FigureFormat format = FigureFormat::Png;
    QSizeF inches{6.0, 4.0}; ///< width x height in inches
    double dpi = 200;        ///< PNG: pixels per inch (PDF and SVG are vector: it does not apply)
    /// Draw the interactive overlays (hover mark, selected row, live readout) too.
    bool overlays = false;

    /// A PNG's size: inches x dpi, rounded.
    QSize pixels() const;
    /// The page in points (1/72 inch), rounded: the layout size of every format.
    QSize points() const;
};

/// The smallest and largest figure: 0.05 to 250 inches a side, 10 to 2400 dpi, at most
/// 25 megapixels for a PNG.
constexpr double kMinFigureInches = 0.05, kMaxFigureInches = 250;
constexpr double kMinFigureDpi = 10, kMaxFigureDpi = 2400;
constexpr long long kMaxFigurePixels = 25'000'000;

/// Why SPEC cannot be drawn (one line, without a subject), or empty.
QString figureSpecProblem(const FigureSpec& spec);

/// "png", "pdf", "svg".
QString figureExtension(FigureFormat format);
/// The format named NAME ("png", "PDF", ...), or nullopt.
std::optional<FigureFormat> parseFigureFormat(const QString& name);
/// "WxH" in inches ("3.5x2.5"), both positive finite numbers; nullopt otherwise.
std::optional<QSizeF> parseFigureSize(const QString& text);

} // namespace attnsteer
