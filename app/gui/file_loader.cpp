#include "file_loader.h"

#include "saliency_image.h"
#include "window_settings.h"

#include "attnsteer/errors.h"

#include <QAction>
#include <QCollator>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QImageReader>
#include <QMenu>
#include <QMimeData>
#include <QToolBar>
#include <QToolButton>
#include <QUrl>

#include <algorithm>

namespace attnsteer {

namespace {

const QStringList kImageSuffixes = {"png", "jpg", "jpeg", "bmp", "tif", "tiff"};

/// The saliency image PATH as stored (orientation metadata not applied), decoded once. Its checks
/// and one-line errors are loadSaliencyImage's (app/common), asked when this decode fails or the
/// header is over the pixel limit.
QImage decodeSaliencyImage(const QString& path) {
    auto read = [&path] {
        QImageReader reader(path);
        reader.setDecideFormatFromContent(true);
        reader.setAutoTransform(false);   // the saliency map is the pixel grid as stored
        const QSize size = reader.size(); // from the header, without decoding
        if (size.isValid() && qint64(size.width()) * size.height() > kMaxSaliencyImagePixels)
            return QImage();
        return reader.read();
    };
    QImage image = read();
    if (image.isNull() || qint64(image.width()) * image.height() > kMaxSaliencyImagePixels) {
        (void)loadSaliencyImage(path); // throws the InputError that says why
        // It read the picture after all: Qt's allocation limit, which it raises, stopped ours.
        image = read();
    }
    return image;
}

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
    QImage image;
    try {
        image = decodeSaliencyImage(path); // the one-line error of a broken file, now
    } catch (const InputError& error) {
        emit errorFound(QString::fromStdString(error.what()));
        return false;
    }
    const bool embedded = path.startsWith(QLatin1Char(':'));
    if (!embedded) // the file dialog should not open inside the program's resources
        rememberFolder(Folder::Image, path);
    Scenario scenario = controlsScenario_();
    scenario.saliencyImagePath =
        (embedded ? path : QFileInfo(path).absoluteFilePath()).toStdString();
    scenario.saliencyPath.clear();
    images_[scenario.saliencyImagePath] = image;
    engine_->setScenario(scenario);
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

void FileLoader::reloadImage() {
    const std::string path = engine_->scenario().saliencyImagePath;
    if (path.empty())
        return;
    try {
        images_[path] = decodeSaliencyImage(QString::fromStdString(path));
    } catch (const InputError&) {
        images_.erase(path); // the engine reads it too and says what is wrong
    }
}

QImage FileLoader::image(const std::string& path) const {
    const auto it = images_.find(path);
    return it != images_.end() ? it->second : QImage();
}

void FileLoader::keepImages(const std::string& shown, const std::string& wanted) {
    std::erase_if(images_,
                  [&](const auto& entry) { return entry.first != shown && entry.first != wanted; });
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
