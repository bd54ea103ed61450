#pragma once
// Headless export of the four views (and the heads view when there is a profile): the same
// pictures as in the window, for the window's "Export all plots..." and for `attnsteer-cli plot
// --out DIR`.

#include "plot_data.h"

#include <QSize>
#include <QString>
#include <QStringList>

namespace attnsteer {

/// The files exportAllPlots writes, in this order; WITH_HEADS: heads.png too (a PlotData with a
/// profile).
inline QStringList exportAllPlotsFileNames(bool withHeads = false) {
    QStringList names = {QStringLiteral("per_token.png"), QStringLiteral("tradeoff.png"),
                         QStringLiteral("saliency.png"), QStringLiteral("matrix.png")};
    if (withHeads)
        names << QStringLiteral("heads.png");
    return names;
}

struct ExportResult {
    bool ok = false;
    QString error;     ///< one line naming the file or folder, empty when ok
    QStringList files; ///< absolute paths of the files written (all of them when ok)
};

/// Draws DATA with PerTokenPlot, TradeoffPlot, SaliencyGridPlot and MatrixPlot and writes
/// DIR/per_token.png, DIR/tradeoff.png, DIR/saliency.png and DIR/matrix.png (and DIR/heads.png
/// with HeadsPlot when DATA has a profile), each PIXELS in
/// size (width x height), through QCustomPlot::savePng (after a replot) into a temporary file in
/// DIR that is then renamed into place: a file is either complete or absent.
///
/// - DIR must exist (it is not created) and be writable.
/// - Unless OVERWRITE, nothing is written when any of the files exists already; the error
///   names the first of them ("DIR/per_token.png: exists and was not overwritten").
/// - PIXELS must be 16..20000 on both sides.
/// - Needs a QApplication (the views are widgets; they are never shown). A command line tool can
///   run it without a display with QT_QPA_PLATFORM=offscreen (or `-platform offscreen`).
/// - Works on an empty PlotData too (empty plots with their axes).
/// On failure, files already written by this call are left in place and listed in FILES.
ExportResult exportAllPlots(const PlotData& data, const QString& dir, QSize pixels = {1200, 800},
                            bool overwrite = false);

} // namespace attnsteer
