#include "export_actions.h"

#include "atomic_file.h"
#include "export_dialog.h"
#include "plot_view.h"
#include "sweep_csv.h"
#include "window_settings.h"

#include <QAction>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMessageBox>
#include <QToolBar>

namespace attnsteer {

ExportActions::ExportActions(const Engine* engine, std::function<PlotData()> plotData,
                             QWidget* window)
    : QObject(window), engine_(engine), plotData_(std::move(plotData)), window_(window) {}

void ExportActions::addActions(QMenu* file, QToolBar* toolbar,
                               const std::array<PlotView*, 4>& views) {
    exportViewMenu_ = file->addMenu(tr("&Export view as PNG/PDF/SVG"));
    const std::array<QString, 4> texts = {tr("&Per-token view..."), tr("&Tradeoff view..."),
                                          tr("&Saliency grid view..."), tr("&Matrix view...")};
    for (std::size_t i = 0; i < views.size(); ++i)
        addView(views[i], texts[i]);
    auto* exportAll =
        file->addAction(tr("Export &all plots..."), this, &ExportActions::exportAllInteractively);
    exportAll->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    exportAll->setToolTip(tr("Write the views as figures (PNG, PDF or SVG) into a folder: "
                             "per_token, tradeoff, saliency and matrix, and heads when the heads "
                             "view has a profile (Ctrl+Shift+E)"));
    toolbar->addAction(exportAll);
    file->addAction(tr("Export sweep as &CSV..."), this, &ExportActions::exportSweepInteractively)
        ->setToolTip(tr("The tradeoff curve's rows: lambda, reduction and KL mean and sd"));
}

void ExportActions::addView(PlotView* view, const QString& text) {
    exportViewMenu_->addAction(text, this, [this, view] { exportViewInteractively(view); });
    connect(view, &PlotView::exportRequested, this,
            [this, view] { exportViewInteractively(view); });
}

bool ExportActions::ensureFolder(const QString& dir) {
    const QFileInfo info(dir);
    if (info.isDir())
        return true;
    const QString shown = QDir::toNativeSeparators(info.absoluteFilePath());
    if (info.exists()) {
        emit errorFound(tr("%1: exists and is not a folder").arg(shown));
        return false;
    }
    if (QMessageBox::question(window_, tr("Create folder?"),
                              tr("The folder %1 does not exist.\nCreate it?").arg(shown),
                              QMessageBox::Yes | QMessageBox::Cancel,
                              QMessageBox::Yes) != QMessageBox::Yes) {
        emit statusMessage(tr("Not exported: %1 does not exist").arg(shown), 5000);
        return false;
    }
    if (!QDir().mkpath(info.absoluteFilePath())) {
        emit errorFound(tr("%1: cannot create the folder").arg(shown));
        return false;
    }
    return true;
}

bool ExportActions::exportFigure(PlotView* view, const QString& path, const FigureSpec& spec,
                                 bool overwrite) {
    if (!ensureFolder(QFileInfo(path).absolutePath()))
        return false;
    QString error;
    if (!view->saveFigure(path, spec, overwrite, &error)) {
        emit errorFound(error);
        return false;
    }
    emit statusMessage(tr("Wrote %1").arg(QDir::toNativeSeparators(path)), 5000);
    return true;
}

bool ExportActions::exportView(PlotView* view, const QString& path, QSize size, double scale,
                               bool pdf, bool overwrite) {
    if (!ensureFolder(QFileInfo(path).absolutePath()))
        return false;
    QString error;
    const bool ok =
        pdf ? view->savePdf(path, size.width(), size.height(), overwrite, &error)
            : view->savePng(path, size.width(), size.height(), scale, overwrite, &error);
    if (!ok)
        emit errorFound(error);
    else
        emit statusMessage(tr("Wrote %1").arg(QDir::toNativeSeparators(path)), 5000);
    return ok;
}

ExportResult ExportActions::exportAll(const QString& dir, const FigureSpec& spec, bool overwrite) {
    if (!dir.isEmpty() && !ensureFolder(dir)) {
        ExportResult refused;
        refused.error = tr("%1: folder does not exist").arg(QDir::toNativeSeparators(dir));
        return refused;
    }
    return reportExport(exportAllPlots(plotData_(), dir, spec, overwrite), dir);
}

ExportResult ExportActions::exportAll(const QString& dir, QSize size, bool overwrite) {
    if (!dir.isEmpty() && !ensureFolder(dir)) {
        ExportResult refused;
        refused.error = tr("%1: folder does not exist").arg(QDir::toNativeSeparators(dir));
        return refused;
    }
    return reportExport(exportAllPlots(plotData_(), dir, size, overwrite), dir);
}

ExportResult ExportActions::reportExport(const ExportResult& result, const QString& dir) {
    if (!result.ok)
        emit errorFound(result.error);
    else
        emit statusMessage(tr("Wrote %1 plots into %2")
                               .arg(result.files.size())
                               .arg(QDir::toNativeSeparators(dir)),
                           5000);
    return result;
}

bool ExportActions::exportSweepCsv(const QString& path, bool overwrite) {
    const SweepOutcome* sweep = engine_->lastSweep();
    if (!sweep) {
        emit errorFound(tr("%1: no sweep computed yet").arg(QDir::toNativeSeparators(path)));
        return false;
    }
    // The command line's CSV format and atomic write (app/common): never half a file.
    const QString error = writeFileAtomically(path, sweepCsv(sweep->rows), overwrite);
    if (!error.isEmpty()) {
        emit errorFound(error);
        return false;
    }
    emit statusMessage(tr("Wrote %1").arg(QDir::toNativeSeparators(path)), 5000);
    return true;
}

namespace {

QString fileFilter(FigureFormat format) {
    switch (format) {
    case FigureFormat::Png:
        return QObject::tr("PNG images (*.png)");
    case FigureFormat::Pdf:
        return QObject::tr("PDF (*.pdf)");
    case FigureFormat::Svg:
        break;
    }
    return QObject::tr("SVG images (*.svg)");
}

} // namespace

void ExportActions::exportViewInteractively(PlotView* view) {
    ExportDialog dialog(tr("Export view"), lastExportFigure(), window_);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const FigureSpec spec = dialog.spec();
    rememberExportFigure(spec);
    const QString suggested =
        QDir(lastFolder(Folder::Export))
            .filePath(view->viewName() + QLatin1Char('.') + figureExtension(spec.format));
    const QString path = QFileDialog::getSaveFileName(window_, tr("Export view"), suggested,
                                                      fileFilter(spec.format));
    if (path.isEmpty())
        return;
    rememberFolder(Folder::Export, path);
    // The file dialog has asked before replacing an existing file.
    exportFigure(view, path, spec, true);
}

void ExportActions::exportAllInteractively() {
    ExportDialog dialog(tr("Export all plots"), lastExportFigure(), window_);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const FigureSpec spec = dialog.spec();
    rememberExportFigure(spec);
    const QString dir = QFileDialog::getExistingDirectory(window_, tr("Export all plots into"),
                                                          lastFolder(Folder::Export));
    if (dir.isEmpty())
        return;
    rememberFolder(Folder::Export, dir);
    QStringList existing;
    for (const QString& name : exportAllPlotsFileNames(spec.format, plotData_().profile != nullptr))
        if (QFileInfo::exists(QDir(dir).filePath(name)))
            existing << name;
    bool overwrite = false;
    if (!existing.isEmpty()) {
        if (QMessageBox::question(window_, tr("Replace files?"),
                                  (existing.size() == 1 ? tr("%1 already holds %2.\nReplace it?")
                                                        : tr("%1 already holds %2.\nReplace them?"))
                                      .arg(QDir::toNativeSeparators(dir), existing.join(", ")),
                                  QMessageBox::Yes | QMessageBox::Cancel,
                                  QMessageBox::Cancel) != QMessageBox::Yes)
            return;
        overwrite = true;
    }
    exportAll(dir, spec, overwrite);
}

void ExportActions::exportSweepInteractively() {
    const QString path = QFileDialog::getSaveFileName(
        window_, tr("Export sweep as CSV"),
        QDir(lastFolder(Folder::Export)).filePath(QStringLiteral("sweep.csv")), tr("CSV (*.csv)"));
    if (path.isEmpty())
        return;
    rememberFolder(Folder::Export, path);
    exportSweepCsv(path, true); // the file dialog has asked
}

} // namespace attnsteer
