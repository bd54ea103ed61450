#include "export_plots.h"

#include "heads_plot.h"
#include "matrix_plot.h"
#include "per_token_plot.h"
#include "saliency_grid_plot.h"
#include "tradeoff_plot.h"

#include "atomic_file.h"

#include <QDir>
#include <QFileInfo>

#include <memory>
#include <utility>
#include <vector>

namespace attnsteer {

QStringList exportAllPlotsFileNames(FigureFormat format, bool withHeads) {
    const QString extension = QLatin1Char('.') + figureExtension(format);
    QStringList names;
    for (const char* stem : {"per_token", "tradeoff", "saliency", "matrix"})
        names << QLatin1String(stem) + extension;
    if (withHeads)
        names << QStringLiteral("heads") + extension;
    return names;
}

ExportResult exportAllPlots(const PlotData& data, const QString& dir, QSize pixels,
                            bool overwrite) {
    if (pixels.width() < 16 || pixels.height() < 16 || pixels.width() > 20000 ||
        pixels.height() > 20000) {
        ExportResult result;
        result.error = QStringLiteral("%1: picture size %2 x %3 is outside 16..20000 pixels")
                           .arg(QDir::toNativeSeparators(dir))
                           .arg(pixels.width())
                           .arg(pixels.height());
        return result;
    }
    FigureSpec spec;
    spec.format = FigureFormat::Png;
    spec.inches = QSizeF(pixels.width() / 96.0, pixels.height() / 96.0);
    spec.dpi = 96;
    return exportAllPlots(data, dir, spec, overwrite);
}

ExportResult exportAllPlots(const PlotData& data, const QString& dir, const FigureSpec& spec,
                            bool overwrite) {
    ExportResult result;
    const QString shownDir = QDir::toNativeSeparators(dir);
    const QString problem = figureSpecProblem(spec);
    if (!problem.isEmpty()) {
        result.error = shownDir + QStringLiteral(": ") + problem;
        return result;
    }
    const QFileInfo dirInfo(dir);
    if (dir.isEmpty() || !dirInfo.isDir()) {
        result.error = QStringLiteral("%1: folder does not exist").arg(shownDir);
        return result;
    }
    const QDir target(dirInfo.absoluteFilePath());
    const QStringList names = exportAllPlotsFileNames(spec.format, data.profile != nullptr);
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
    std::vector<PlotView*> views = {perToken.get(), tradeoff.get(), grid.get(), matrix.get()};
    std::unique_ptr<HeadsPlot> heads;
    if (data.profile) {
        heads = std::make_unique<HeadsPlot>();
        heads->setData(data);
        views.push_back(heads.get());
    }
    for (PlotView* view : views)
        view->resize(spec.points());

    // All drawn first, then written all or none: a run never leaves a folder mixing its
    // pictures with another run's.
    std::vector<std::pair<QString, QByteArray>> files;
    for (std::size_t i = 0; i < views.size(); ++i) {
        const QString path = target.filePath(names[qsizetype(i)]);
        QByteArray bytes;
        QString error;
        if (!views[i]->figureBytes(spec, &bytes, &error)) {
            result.error = QDir::toNativeSeparators(path) + QStringLiteral(": ") + error;
            return result;
        }
        files.emplace_back(path, std::move(bytes));
    }
    result.error = writeFilesAtomically(files, overwrite);
    if (!result.error.isEmpty())
        return result;
    for (const auto& file : files)
        result.files << file.first;
    result.ok = true;
    return result;
}

} // namespace attnsteer
