#pragma once
// Headless export of the four views (and the heads view when there is a profile): the same
// pictures as in the window, for the window's "Export all plots..." and for `attnsteer-cli plot
// --out DIR`.

#include "figure.h"
#include "plot_data.h"

#include <QSize>
#include <QString>
#include <QStringList>

namespace attnsteer {

/// The files exportAllPlots writes, in this order: per_token, tradeoff, saliency and matrix with
/// FORMAT's extension; WITH_HEADS: heads too (a PlotData with a profile).
QStringList exportAllPlotsFileNames(FigureFormat format = FigureFormat::Png,
                                    bool withHeads = false);

struct ExportResult {
    bool ok = false;
    QString error;     ///< one line naming the file or folder, empty when ok
    QStringList files; ///< absolute paths of the files written (all of them when ok)
};

/// Draws DATA with PerTokenPlot, TradeoffPlot, SaliencyGridPlot and MatrixPlot and writes
/// DIR/per_token.EXT, DIR/tradeoff.EXT, DIR/saliency.EXT and DIR/matrix.EXT (and DIR/heads.EXT
/// with HeadsPlot when DATA has a profile) as the figures SPEC describes (PNG, PDF or SVG; size in
/// inches; dpi), each into a temporary file in DIR that is then renamed into place: a file is
/// either complete or absent.
///
/// - DIR must exist (it is not created) and be writable.
/// - Unless OVERWRITE, nothing is written when any of the files exists already; the error
///   names the first of them ("DIR/per_token.png: exists and was not overwritten").
/// - SPEC must be drawable (figureSpecProblem).
/// - Needs a QApplication (the views are widgets; they are never shown). A command line tool can
///   run it without a display with QT_QPA_PLATFORM=offscreen (or `-platform offscreen`).
/// - Works on an empty PlotData too (empty plots with their axes).
/// On failure, files already written by this call are left in place and listed in FILES.
ExportResult exportAllPlots(const PlotData& data, const QString& dir, const FigureSpec& spec,
                            bool overwrite = false);

/// The same as PNG pictures of PIXELS (width x height): figures of PIXELS / 96 inches at 96 dpi.
/// PIXELS must be 16..20000 on both sides.
ExportResult exportAllPlots(const PlotData& data, const QString& dir, QSize pixels = {1200, 800},
                            bool overwrite = false);

} // namespace attnsteer
