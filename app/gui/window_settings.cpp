#include "window_settings.h"

#include "engine.h"
#include "panels.h"
#include "plot_data.h"
#include "sci_spin_box.h"
#include "window_controls.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QLineEdit>
#include <QMainWindow>
#include <QScreen>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>

#include <algorithm>

namespace attnsteer {

namespace {

QString folderKey(Folder folder) {
    switch (folder) {
    case Folder::Image:
        return QStringLiteral("folders/image");
    case Folder::Npy:
        return QStringLiteral("folders/npy");
    case Folder::Export:
        break;
    }
    return QStringLiteral("folders/export");
}

/// The identifier a backend is stored under.
QString backendId(BackendKind kind) {
    return kind == BackendKind::Cuda ? QStringLiteral("cuda") : QStringLiteral("cpu");
}

/// Calls VISIT with every control whose value() is stored under its objectName, in the order of
/// restoring (lambda max first: it bounds lambda).
template <typename Visit> void visitValueControls(const WindowControls& c, Visit visit) {
    visit(c.lambdaMax), visit(c.lambda), visit(c.eps), visit(c.seed), visit(c.heads);
    visit(c.queries), visit(c.keys), visit(c.sigma), visit(c.head), visit(c.query);
    visit(c.sweepSeeds), visit(c.overlayOpacity), visit(c.visionOffset), visit(c.patchFactor);
    visit(c.minPixels), visit(c.maxPixels), visit(c.textSaliency), visit(c.binaryThreshold);
    visit(c.gateEntropy), visit(c.topK), visit(c.headDim), visit(c.targetStrength);
    visit(c.saliencyQuality), visit(c.saliencyBlur);
}

/// The identifier a workload kind is stored under.
QString workloadId(WorkloadKind kind) {
    return kind == WorkloadKind::Transformer ? QStringLiteral("transformer")
                                             : QStringLiteral("random");
}

} // namespace

QString lastFolder(Folder folder) {
    // At first: pictures go with pictures (the Pictures folder, when there is one), data files
    // start at home.
    QString start = QDir::homePath();
    if (folder != Folder::Npy) {
        const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
        if (!pictures.isEmpty() && QFileInfo(pictures).isDir())
            start = pictures;
    }
    QString path = QSettings().value(folderKey(folder), start).toString();
    // A remembered folder that has gone: the nearest folder above it that is still there.
    for (int up = 0; up < 64 && !path.isEmpty() && !QFileInfo(path).isDir(); ++up) {
        const QString parent = QFileInfo(path).absolutePath();
        if (parent == path)
            break;
        path = parent;
    }
    return QFileInfo(path).isDir() ? path : start;
}

void rememberFolder(Folder folder, const QString& path) {
    const QFileInfo info(path);
    QSettings().setValue(folderKey(folder),
                         info.isDir() ? info.absoluteFilePath() : info.absolutePath());
}

FigureSpec lastExportFigure() {
    QSettings settings;
    settings.beginGroup(QStringLiteral("export"));
    FigureSpec spec; // 6 x 4 in at 200 dpi: 1200 x 800 pixels
    spec.format = parseFigureFormat(settings.value(QStringLiteral("format")).toString())
                      .value_or(FigureFormat::Png);
    const QSizeF inches = settings.value(QStringLiteral("inches"), spec.inches).toSizeF();
    const double dpi = settings.value(QStringLiteral("dpi"), spec.dpi).toDouble();
    FigureSpec stored = spec;
    stored.inches = inches, stored.dpi = dpi;
    if (figureSpecProblem(stored).isEmpty())
        spec = stored;
    spec.overlays = settings.value(QStringLiteral("overlays"), false).toBool();
    return spec;
}

void rememberExportFigure(const FigureSpec& spec) {
    QSettings settings;
    settings.beginGroup(QStringLiteral("export"));
    settings.setValue(QStringLiteral("format"), figureExtension(spec.format));
    settings.setValue(QStringLiteral("inches"), spec.inches);
    settings.setValue(QStringLiteral("dpi"), spec.dpi);
    settings.setValue(QStringLiteral("overlays"), spec.overlays);
}

void restoreControls(const WindowControls& c) {
    QSettings settings;
    settings.beginGroup(QStringLiteral("controls"));
    visitValueControls(c, [&](auto* box) {
        const QVariant value = settings.value(box->objectName());
        if (value.isValid())
            box->setValue(value.value<decltype(box->value())>());
    });
    c.projectionSection->setExpanded(
        settings.value(QStringLiteral("projectionExpanded"), false).toBool());
    const bool transformer = settings.value(c.workload->objectName()).toString() ==
                             workloadId(WorkloadKind::Transformer);
    c.workload->setCurrentIndex(
        c.workload->findData(int(transformer ? WorkloadKind::Transformer : WorkloadKind::Random)));
    // The backend: the one chosen last when it can be used, else CUDA when available (auto).
    if (settings.value(QStringLiteral("backend")).toString() == backendId(BackendKind::Cpu))
        c.backend->setCurrentIndex(c.backend->findData(int(BackendKind::Cpu)));
    const Normalization normalization =
        parseNormalization(settings.value(QStringLiteral("normalization")).toString().toStdString())
            .value_or(Normalization::Max);
    c.normalization->setCurrentIndex(std::max(c.normalization->findData(int(normalization)), 0));
    for (QCheckBox* box : {c.sortBySaliency, c.showDifference, c.matrixLogScale, c.imageQueryMean})
        box->setChecked(settings.value(box->objectName()).toBool());
    c.imageMode->setCurrentIndex(
        std::max(c.imageMode->findData(settings.value(c.imageMode->objectName(), 0).toInt()), 0));
    c.tradeoffY->setCurrentIndex(
        std::max(c.tradeoffY->findData(settings.value(c.tradeoffY->objectName(), 0).toInt()), 0));
    if (const int column = c.headsColumn->findData(settings.value(c.headsColumn->objectName()));
        column >= 0)
        c.headsColumn->setCurrentIndex(column);
    c.perTokenMode->setCurrentIndex(std::max(
        c.perTokenMode->findData(
            settings.value(c.perTokenMode->objectName(), int(PerTokenMode::RatioBySaliency))
                .toInt()),
        0));
    c.steeredHeads->setText(
        settings.value(c.steeredHeads->objectName(), QStringLiteral("all")).toString());
    settings.endGroup();
}

void saveControls(const WindowControls& c, const QString& steeredHeads) {
    QSettings settings;
    settings.beginGroup(QStringLiteral("controls"));
    visitValueControls(c, [&](auto* box) { settings.setValue(box->objectName(), box->value()); });
    const std::string_view normalization =
        normalizationName(Normalization(c.normalization->currentData().toInt()));
    settings.setValue(QStringLiteral("normalization"),
                      QString::fromLatin1(normalization.data(), qsizetype(normalization.size())));
    for (QCheckBox* box : {c.sortBySaliency, c.showDifference, c.matrixLogScale, c.imageQueryMean})
        settings.setValue(box->objectName(), box->isChecked());
    settings.setValue(c.imageMode->objectName(), c.imageMode->currentData().toInt());
    settings.setValue(c.tradeoffY->objectName(), c.tradeoffY->currentData().toInt());
    settings.setValue(c.headsColumn->objectName(), c.headsColumn->currentData().toString());
    settings.setValue(c.perTokenMode->objectName(), c.perTokenMode->currentData().toInt());
    settings.setValue(c.steeredHeads->objectName(), steeredHeads);
    settings.setValue(QStringLiteral("projectionExpanded"), c.projectionSection->isExpanded());
    settings.setValue(c.workload->objectName(),
                      workloadId(WorkloadKind(c.workload->currentData().toInt())));
    settings.setValue(QStringLiteral("backend"),
                      backendId(BackendKind(c.backend->currentData().toInt())));
    settings.endGroup();
}

void restoreWindowLayout(QMainWindow& window, QSplitter& mainSplitter, QSplitter& bottomSplitter) {
    QSettings settings;
    settings.beginGroup(QStringLiteral("window"));
    if (!window.restoreGeometry(settings.value(QStringLiteral("geometry")).toByteArray())) {
        const QRect available = window.screen()->availableGeometry();
        window.resize(std::min(1600, available.width()), std::min(1000, available.height()));
    }
    window.restoreState(settings.value(QStringLiteral("state")).toByteArray());
    if (!mainSplitter.restoreState(settings.value(QStringLiteral("mainSplitter")).toByteArray()))
        mainSplitter.setSizes({380, 470});
    if (!bottomSplitter.restoreState(
            settings.value(QStringLiteral("bottomSplitter")).toByteArray()))
        bottomSplitter.setSizes({400, 430, 380}); // the grid panel about square
    settings.endGroup();
}

void saveWindowLayout(const QMainWindow& window, const QSplitter& mainSplitter,
                      const QSplitter& bottomSplitter) {
    QSettings settings;
    settings.beginGroup(QStringLiteral("window"));
    settings.setValue(QStringLiteral("geometry"), window.saveGeometry());
    settings.setValue(QStringLiteral("state"), window.saveState());
    settings.setValue(QStringLiteral("mainSplitter"), mainSplitter.saveState());
    settings.setValue(QStringLiteral("bottomSplitter"), bottomSplitter.saveState());
    settings.endGroup();
}

} // namespace attnsteer
