#include "file_loader.h"

#include "error_text.h"
#include "saliency_image.h"
#include "window_settings.h"

#include "attnsteer/errors.h"

#include <QAction>
#include <QCollator>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMimeData>
#include <QStandardPaths>
#include <QToolBar>
#include <QToolButton>
#include <QUrl>

#include <algorithm>

namespace attnsteer {

namespace {

const QStringList kImageSuffixes = {"png", "jpg", "jpeg", "bmp", "tif", "tiff"};
/// The sample attention dump's name: NAME.safetensors, NAME.json, NAME.png.
constexpr const char* kSampleDump = "synthetic-dump";

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

    QMenu* npy = file->addMenu(tr("Open dump / .&npy"));
    npy->setObjectName(QStringLiteral("dumpMenu"));
    npy->setToolTipsVisible(true);
    auto* logits = npy->addAction(tr("&Logits dump..."), this,
                                  [this] { openNpyInteractively(NpyKind::Logits); });
    logits->setToolTip(tr("Pre-softmax attention logits, A = softmax of each row: .npy, .npz or "
                          ".safetensors of [Q,K], [H,Q,K] or [L,H,Q,K] (a sidecar DUMP.json "
                          "beside it names the tokens and the image)"));
    auto* attention = npy->addAction(tr("&Attention dump..."), this,
                                     [this] { openNpyInteractively(NpyKind::Attention); });
    attention->setToolTip(tr("Attention probabilities, each row summing to 1: .npy, .npz or "
                             ".safetensors of [Q,K], [H,Q,K] or [L,H,Q,K] (a sidecar DUMP.json "
                             "beside it names the tokens and the image)"));
    auto* saliency = npy->addAction(tr("&Saliency [K]..."), this,
                                    [this] { openNpyInteractively(NpyKind::Saliency); });
    saliency->setToolTip(tr("Raw per-key saliency from a .npy of shape [K], normalized as chosen"));
    auto* npyButton = new QToolButton(window_);
    npyButton->setText(tr("Open dump"));
    npyButton->setMenu(npy);
    npyButton->setPopupMode(QToolButton::InstantPopup);
    npyButton->setToolTip(tr("Open logits or attention dumped from a model (.npy, .npz, "
                             ".safetensors), or a saliency .npy"));
    toolbar->addWidget(npyButton);
    auto* targetMask =
        file->addAction(tr("Open tar&get mask..."), this, &FileLoader::loadTargetMaskInteractively);
    targetMask->setObjectName(QStringLiteral("targetMaskAction"));
    targetMask->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
    targetMask->setToolTip(tr("An image of the object (white on black), projected onto the "
                              "vision tokens like a saliency image; tokens at or above 0.5 are "
                              "the target of the grounding metrics (Ctrl+T)"));
    auto* target = npy->addAction(tr("&Target [K]..."), this, [this] {
        const QString path =
            QFileDialog::getOpenFileName(window_, tr("Open target .npy"), lastFolder(Folder::Npy),
                                         tr("NumPy arrays (*.npy);;All files (*)"));
        if (!path.isEmpty())
            openTargetNpy(path);
    });
    target->setToolTip(tr("The target from a .npy of shape [K]: nonzero marks a target token"));
    file->addAction(tr("Clear &target"), this, &FileLoader::clearTarget)
        ->setToolTip(tr("Forget the target mask or file: no target-mass or pointing metrics"));
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

bool FileLoader::loadTargetMask(const QString& path) {
    try {
        checkSaliencyImage(path); // a missing or broken file is told now
    } catch (const InputError& error) {
        emit errorFound(windowMessage(error));
        return false;
    }
    if (!path.startsWith(QLatin1Char(':')))
        rememberFolder(Folder::Image, path);
    Scenario scenario = controlsScenario_();
    scenario.targetMaskPath = QFileInfo(path).absoluteFilePath().toStdString();
    scenario.targetPath.clear();
    const bool again = scenario.targetMaskPath == engine_->scenario().targetMaskPath;
    engine_->setScenario(scenario);
    if (again) // the same file once more: read it anew
        engine_->reloadSaliency();
    emit statusMessage(tr("Projecting the target mask %1 onto the vision tokens...").arg(path), 0);
    return true;
}

void FileLoader::openTargetNpy(const QString& path) {
    rememberFolder(Folder::Npy, path);
    Scenario scenario = controlsScenario_();
    scenario.targetPath = QFileInfo(path).absoluteFilePath().toStdString();
    scenario.targetMaskPath.clear();
    engine_->setScenario(scenario);
}

void FileLoader::clearTarget() {
    Scenario scenario = controlsScenario_();
    scenario.targetPath.clear(), scenario.targetMaskPath.clear();
    engine_->setScenario(scenario);
}

void FileLoader::loadTargetMaskInteractively() {
    const QString path = QFileDialog::getOpenFileName(
        window_, tr("Open target mask"), lastFolder(Folder::Image),
        tr("Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"));
    if (!path.isEmpty())
        loadTargetMask(path);
}

void FileLoader::openNpy(const QString& path, NpyKind kind, std::optional<int> layer,
                         const QString& metaPath) {
    rememberFolder(Folder::Npy, path);
    Scenario scenario = controlsScenario_();
    const std::string file = QFileInfo(path).absoluteFilePath().toStdString();
    const std::string meta =
        metaPath.isEmpty() ? std::string() : QFileInfo(metaPath).absoluteFilePath().toStdString();
    switch (kind) {
    case NpyKind::Logits:
        scenario.logitsPath = file, scenario.attentionPath.clear();
        scenario.layer = layer, scenario.metaPath = meta;
        break;
    case NpyKind::Attention:
        scenario.attentionPath = file, scenario.logitsPath.clear();
        scenario.layer = layer, scenario.metaPath = meta;
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
    scenario.layer.reset(), scenario.metaPath.clear();
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

QString FileLoader::sampleDump() {
    const QStringList files = {QString::fromLatin1(kSampleDump) + QStringLiteral(".safetensors"),
                               QString::fromLatin1(kSampleDump) + QStringLiteral(".json"),
                               QString::fromLatin1(kSampleDump) + QStringLiteral(".png"),
                               QString::fromLatin1(kSampleDump) + QStringLiteral("-saliency.png"),
                               QString::fromLatin1(kSampleDump) + QStringLiteral("-target.png")};
    // On disk: the build tree's resources, then the source tree (TensorFile reads a real file).
    QStringList candidates = {QDir(QCoreApplication::applicationDirPath())
                                  .filePath(QStringLiteral("../../../resources/samples"))};
#ifdef ATTNSTEER_RESOURCES_DIR
    candidates << QStringLiteral(ATTNSTEER_RESOURCES_DIR "/samples");
#endif
    const auto complete = [&files](const QDir& folder) {
        return std::all_of(files.begin(), files.end(),
                           [&](const QString& name) { return folder.exists(name); });
    };
    for (const QString& folder : candidates)
        if (complete(QDir(folder)))
            return QDir(folder).canonicalPath() + QLatin1Char('/') + files.first();
    // Else the embedded copy, written once into the cache folder.
    const QDir embedded(QStringLiteral(":/sample-dump"));
    if (!complete(embedded))
        return {};
    const QString cache = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
    if (cache.isEmpty() || !QDir().mkpath(cache + QStringLiteral("/samples")))
        return {};
    const QDir target(cache + QStringLiteral("/samples"));
    for (const QString& name : files) {
        const QFileInfo source(embedded.filePath(name)), copy(target.filePath(name));
        if (copy.exists() && copy.size() == source.size())
            continue;
        QFile::remove(copy.filePath());
        if (!QFile::copy(source.filePath(), copy.filePath()))
            return {};
        QFile::setPermissions(copy.filePath(), QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    }
    return target.filePath(files.first());
}

void FileLoader::buildSampleMenu(QMenu* menu) {
    const QStringList paths = sampleImages();
    if (paths.isEmpty())
        menu->addAction(tr("(no sample images found)"))->setEnabled(false);
    for (const QString& path : paths) {
        const QString name = QFileInfo(path).fileName();
        QAction* action = menu->addAction(QFileInfo(path).completeBaseName(), this,
                                          [this, path] { loadSaliencyImage(path); });
        action->setObjectName(QStringLiteral("sample:") + name);
        action->setToolTip(tr("Load the sample saliency map %1").arg(name));
    }
    menu->addSeparator();
    QAction* dump = menu->addAction(tr("Synthetic Qwen2-VL-like dump (4 layers)"), this, [this] {
        const QString path = sampleDump();
        if (path.isEmpty()) {
            emit errorFound(tr("The sample dump %1.safetensors was not found").arg(kSampleDump));
            return;
        }
        openNpy(path, NpyKind::Attention);
        // With the saliency map made for it (a blob on the ball), so that steering has a target.
        const QString saliency = QFileInfo(path).dir().filePath(QString::fromLatin1(kSampleDump) +
                                                                QStringLiteral("-saliency.png"));
        if (QFileInfo(saliency).isFile())
            loadSaliencyImage(saliency);
        // And the ball's mask as the target of the grounding metrics.
        const QString target = QFileInfo(path).dir().filePath(QString::fromLatin1(kSampleDump) +
                                                              QStringLiteral("-target.png"));
        if (QFileInfo(target).isFile())
            loadTargetMask(target);
    });
    dump->setObjectName(QStringLiteral("sample:%1.safetensors").arg(kSampleDump));
    dump->setToolTip(
        tr("Open the sample attention dump %1.safetensors: 4 layers × 8 heads, "
           "bfloat16, 126 causal queries and keys, with its sidecar (tokens, an "
           "8 × 12 image grid) and picture (a red ball on grass), steered with a saliency "
           "map of the ball, the ball's mask as the target")
            .arg(kSampleDump));
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
    QString filter = tr("Attention dumps (*.npy *.npz *.safetensors);;All files (*)");
    switch (kind) {
    case NpyKind::Logits:
        title = tr("Open logits dump");
        break;
    case NpyKind::Attention:
        title = tr("Open attention dump");
        break;
    case NpyKind::Saliency:
        title = tr("Open saliency .npy");
        filter = tr("NumPy arrays (*.npy);;All files (*)");
        break;
    }
    const QString path =
        QFileDialog::getOpenFileName(window_, title, lastFolder(Folder::Npy), filter);
    if (!path.isEmpty())
        openNpy(path, kind);
}

} // namespace attnsteer
