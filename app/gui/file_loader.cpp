#include "file_loader.h"

#include "error_text.h"
#include "saliency_image.h"
#include "window_settings.h"

#include "attnsteer/errors.h"

#include <QAction>
#include <QCollator>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMimeData>
#include <QToolBar>
#include <QToolButton>
#include <QUrl>

#include <algorithm>

namespace attnsteer {

namespace {

const QStringList kImageSuffixes = {"png", "jpg", "jpeg", "bmp", "tif", "tiff"};

} // namespace

FileLoader::FileLoader(Engine* engine, std::function<Scenario()> controlsScenario, QWidget* window)
    : QObject(window), engine_(engine), controlsScenario_(std::move(controlsScenario)),
      window_(window) {}

void FileLoader::addActions(QMenu* file, QToolBar* toolbar) {
    auto* loadImage =
        file->addAction(tr("&Load saliency image..."), this, &FileLoader::loadImageInteractively);
    loadImage->setShortcut(QKeySequence::Open);
    loadImage->setToolTip(tr("Project a saliency image (PNG, JPEG, BMP, TIFF) onto the vision "
                             "tokens, Qwen2-VL style (Ctrl+O, or drop a file on the window)"));
    loadImage->setObjectName(QStringLiteral("loadImageAction"));
    toolbar->addAction(loadImage);

    QMenu* samples = file->addMenu(tr("Open &sample"));
    samples->setObjectName(QStringLiteral("sampleMenu"));
    samples->setToolTipsVisible(true);
    buildSampleMenu(samples);
    auto* samplesButton = new QToolButton(window_);
    samplesButton->setObjectName(QStringLiteral("sampleButton"));
    samplesButton->setText(tr("Open sample"));
    samplesButton->setMenu(samples);
    samplesButton->setPopupMode(QToolButton::InstantPopup);
    samplesButton->setToolTip(tr("Load one of the bundled saliency maps"));
    toolbar->addWidget(samplesButton);

    QMenu* npy = file->addMenu(tr("Open .&npy"));
    npy->setToolTipsVisible(true);
    auto* logits = npy->addAction(tr("&Logits [Q,K], [H,Q,K] or [1,H,Q,K]..."), this,
                                  [this] { openNpyInteractively(NpyKind::Logits); });
    logits->setToolTip(tr("Pre-softmax attention logits; A = softmax of each row"));
    auto* attention = npy->addAction(tr("&Attention probabilities..."), this,
                                     [this] { openNpyInteractively(NpyKind::Attention); });
    attention->setToolTip(tr("Attention probabilities; each row sums to 1"));
    auto* saliency = npy->addAction(tr("&Saliency [K]..."), this,
                                    [this] { openNpyInteractively(NpyKind::Saliency); });
    saliency->setToolTip(tr("Raw per-key saliency, normalized as chosen"));
    auto* npyButton = new QToolButton(window_);
    npyButton->setText(tr("Open .npy"));
    npyButton->setMenu(npy);
    npyButton->setPopupMode(QToolButton::InstantPopup);
    npyButton->setToolTip(tr("Open logits, attention or saliency from a NumPy .npy file"));
    toolbar->addWidget(npyButton);
    file->addAction(tr("Use &random workload"), this, &FileLoader::useRandomWorkload)
        ->setToolTip(tr("Forget the logits or attention file; generate the rows from the seed"));
    file->addAction(tr("Use random sal&iency"), this, &FileLoader::useRandomSaliency)
        ->setToolTip(tr("Forget the saliency image or file; draw s from the seed"));
}

bool FileLoader::loadSaliencyImage(const QString& path) {
    try {
        checkSaliencyImage(path); // a missing or broken file is told now; decoded by the engine
    } catch (const InputError& error) {
        emit errorFound(windowMessage(error));
        return false;
    }
    const bool embedded = path.startsWith(QLatin1Char(':'));
    if (!embedded) // the file dialog should not open inside the program's resources
        rememberFolder(Folder::Image, path);
    Scenario scenario = controlsScenario_();
    scenario.saliencyImagePath =
        (embedded ? path : QFileInfo(path).absoluteFilePath()).toStdString();
    scenario.saliencyPath.clear();
    const bool again = scenario.saliencyImagePath == engine_->scenario().saliencyImagePath;
    engine_->setScenario(scenario);
    if (again) // the same file once more: read it anew, as the user expects of a load
        engine_->reloadSaliency();
    emit statusMessage(tr("Projecting %1 onto the vision tokens...").arg(path), 0);
    return true;
}

void FileLoader::openNpy(const QString& path, NpyKind kind) {
    rememberFolder(Folder::Npy, path);
    Scenario scenario = controlsScenario_();
    const std::string file = QFileInfo(path).absoluteFilePath().toStdString();
    switch (kind) {
    case NpyKind::Logits:
        scenario.logitsPath = file, scenario.attentionPath.clear();
        break;
    case NpyKind::Attention:
        scenario.attentionPath = file, scenario.logitsPath.clear();
        break;
    case NpyKind::Saliency:
        scenario.saliencyPath = file, scenario.saliencyImagePath.clear();
        break;
    }
    engine_->setScenario(scenario);
}

void FileLoader::useRandomWorkload() {
    Scenario scenario = controlsScenario_();
    scenario.logitsPath.clear(), scenario.attentionPath.clear();
    engine_->setScenario(scenario);
}

void FileLoader::useRandomSaliency() {
    Scenario scenario = controlsScenario_();
    scenario.saliencyPath.clear(), scenario.saliencyImagePath.clear();
    engine_->setScenario(scenario);
}

QString FileLoader::droppedImage(const QMimeData* mime) {
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile() &&
            kImageSuffixes.contains(QFileInfo(url.toLocalFile()).suffix().toLower()))
            return url.toLocalFile();
    return {};
}

QString FileLoader::samplesFolder() {
    // Embedded (app/gui/CMakeLists.txt, qt_add_resources): works from anywhere.
    const QString embedded = QStringLiteral(":/samples");
    if (!QDir(embedded).entryList({QStringLiteral("*.png")}, QDir::Files).isEmpty())
        return embedded;
    // A build tree (build/app/gui/attnsteer -> resources/samples), then the source tree.
    QStringList candidates = {QDir(QCoreApplication::applicationDirPath())
                                  .filePath(QStringLiteral("../../../resources/samples"))};
#ifdef ATTNSTEER_RESOURCES_DIR
    candidates << QStringLiteral(ATTNSTEER_RESOURCES_DIR "/samples");
#endif
    for (const QString& folder : candidates)
        if (!QDir(folder).entryList({QStringLiteral("*.png")}, QDir::Files).isEmpty())
            return QDir(folder).canonicalPath();
    return {};
}

QStringList FileLoader::sampleImages() {
    const QString folder = samplesFolder();
    if (folder.isEmpty())
        return {};
    QStringList names = QDir(folder).entryList({QStringLiteral("*.png")}, QDir::Files);
    QCollator collator;
    collator.setNumericMode(true);
    std::sort(names.begin(), names.end(), collator);
    QStringList paths;
    for (const QString& name : names)
        paths << QDir(folder).filePath(name);
    return paths;
}

void FileLoader::buildSampleMenu(QMenu* menu) {
    const QStringList paths = sampleImages();
    if (paths.isEmpty()) {
        menu->addAction(tr("(no samples found)"))->setEnabled(false);
        return;
    }
    for (const QString& path : paths) {
        const QString name = QFileInfo(path).fileName();
        QAction* action = menu->addAction(QFileInfo(path).completeBaseName(), this,
                                          [this, path] { loadSaliencyImage(path); });
        action->setObjectName(QStringLiteral("sample:") + name);
        action->setToolTip(tr("Load the sample saliency map %1").arg(name));
    }
}

void FileLoader::loadImageInteractively() {
    const QString path = QFileDialog::getOpenFileName(
        window_, tr("Load saliency image"), lastFolder(Folder::Image),
        tr("Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"));
    if (!path.isEmpty())
        loadSaliencyImage(path);
}

void FileLoader::openNpyInteractively(NpyKind kind) {
    QString title;
    switch (kind) {
    case NpyKind::Logits:
        title = tr("Open logits .npy");
        break;
    case NpyKind::Attention:
        title = tr("Open attention .npy");
        break;
    case NpyKind::Saliency:
        title = tr("Open saliency .npy");
        break;
    }
    const QString path = QFileDialog::getOpenFileName(window_, title, lastFolder(Folder::Npy),
                                                      tr("NumPy arrays (*.npy);;All files (*)"));
    if (!path.isEmpty())
        openNpy(path, kind);
}

} // namespace attnsteer
