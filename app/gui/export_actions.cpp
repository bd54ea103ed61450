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
    exportViewMenu_ = file->addMenu(tr("&Export view as PNG/PDF"));
    const std::array<QString, 4> texts = {tr("&Per-token view..."), tr("&Tradeoff view..."),
                                          tr("&Saliency grid view..."), tr("&Matrix view...")};
    for (std::size_t i = 0; i < views.size(); ++i)
        addView(views[i], texts[i]);
    auto* exportAll =
        file->addAction(tr("Export &all plots..."), this, &ExportActions::exportAllInteractively);
    exportAll->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    exportAll->setToolTip(tr("Write per_token.png, tradeoff.png, saliency.png, matrix.png (and "
                             "heads.png when the heads view has a profile) into a folder "
                             "(Ctrl+Shift+E)"));
    toolbar->addAction(exportAll);
    file->addAction(tr("Export sweep as &CSV..."), this, &ExportActions::exportSweepInteractively)
        ->setToolTip(tr("The tradeoff curve's rows: lambda, reduction and KL mean and sd"));
}

void ExportActions::addView(PlotView* view, const QString& text) {
    exportViewMenu_->addAction(text, this, [this, view] { exportViewInteractively(view); });
    connect(view, &PlotView::exportRequested, this,
            [this, view] { exportViewInteractively(view); });
}

bool ExportActions::exportView(PlotView* view, const QString& path, QSize size, double scale,
                               bool pdf, bool overwrite) {
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

ExportResult ExportActions::exportAll(const QString& dir, QSize size, bool overwrite) {
    const ExportResult result = exportAllPlots(plotData_(), dir, size, overwrite);
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

void ExportActions::exportViewInteractively(PlotView* view) {
    ExportDialog dialog(tr("Export view"), view->size(), true, window_);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const bool pdf = dialog.format() == ExportDialog::Format::Pdf;
    const QString suggested =
        QDir(lastFolder(Folder::Export)).filePath(view->viewName() + (pdf ? ".pdf" : ".png"));
    const QString path = QFileDialog::getSaveFileName(
        window_, tr("Export view"), suggested, pdf ? tr("PDF (*.pdf)") : tr("PNG images (*.png)"));
    if (path.isEmpty())
        return;
    rememberFolder(Folder::Export, path);
    // The file dialog has asked before replacing an existing file.
    exportView(view, path, dialog.pixelSize(), dialog.scale(), pdf, true);
}

void ExportActions::exportAllInteractively() {
    ExportDialog dialog(tr("Export all plots"), lastExportSize(), false, window_);
    if (dialog.exec() != QDialog::Accepted)
        return;
    rememberExportSize(dialog.pixelSize());
    const QString dir = QFileDialog::getExistingDirectory(window_, tr("Export all plots into"),
                                                          lastFolder(Folder::Export));
    if (dir.isEmpty())
        return;
    rememberFolder(Folder::Export, dir);
    QStringList existing;
    for (const QString& name : exportAllPlotsFileNames(plotData_().profile != nullptr))
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
    exportAll(dir, dialog.pixelSize(), overwrite);
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
