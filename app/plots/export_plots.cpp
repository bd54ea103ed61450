#include "export_plots.h"

#include "matrix_plot.h"
#include "per_token_plot.h"
#include "saliency_grid_plot.h"
#include "tradeoff_plot.h"

#include <QDir>
#include <QFileInfo>

#include <memory>

namespace attnsteer {

ExportResult exportAllPlots(const PlotData& data, const QString& dir, QSize pixels,
                            bool overwrite) {
    ExportResult result;
    const QString shownDir = QDir::toNativeSeparators(dir);
    if (pixels.width() < 16 || pixels.height() < 16 || pixels.width() > 20000 ||
        pixels.height() > 20000) {
        result.error = QStringLiteral("%1: picture size %2 x %3 is outside 16..20000 pixels")
                           .arg(shownDir)
                           .arg(pixels.width())
                           .arg(pixels.height());
        return result;
    }
    const QFileInfo dirInfo(dir);
    if (dir.isEmpty() || !dirInfo.isDir()) {
        result.error = QStringLiteral("%1: folder does not exist").arg(shownDir);
        return result;
    }
    const QDir target(dirInfo.absoluteFilePath());
    const QStringList names = exportAllPlotsFileNames();
    if (!overwrite)
        for (const QString& name : names)
            if (QFileInfo::exists(target.filePath(name))) {
                result.error = QStringLiteral("%1: exists and was not overwritten")
                                   .arg(QDir::toNativeSeparators(target.filePath(name)));
                return result;
            }

    auto perToken = std::make_unique<PerTokenPlot>();
    perToken->setData(data);
    auto tradeoff = std::make_unique<TradeoffPlot>();
    tradeoff->setData(data);
    auto grid = std::make_unique<SaliencyGridPlot>();
    grid->setData(data);
    auto matrix = std::make_unique<MatrixPlot>();
    matrix->setData(data);
    PlotView* views[] = {perToken.get(), tradeoff.get(), grid.get(), matrix.get()};
    for (PlotView* view : views)
        view->resize(pixels);

    for (int i = 0; i < 4; ++i) {
        const QString path = target.filePath(names[i]);
        QString error;
        if (!views[i]->savePng(path, pixels.width(), pixels.height(), 1.0, overwrite, &error)) {
            result.error = error;
            return result;
        }
        result.files << path;
    }
    result.ok = true;
    return result;
}

} // namespace attnsteer
