#pragma once
// Where the workload, the saliency and the target come from: File > Load saliency image, Open
// sample (the saliency maps and a synthetic attention dump), Open dump / .npy (logits, attention:
// .npy, .npz, .safetensors; saliency and target: .npy), Open target mask, Use random workload /
// saliency, and images dropped on the window. A saliency image is checked here and decoded by the
// engine, off the GUI thread.

#include "engine.h"

#include <QImage>
#include <QObject>

#include <functional>
#include <map>
#include <optional>
#include <string>

class QMenu;
class QMimeData;
class QToolBar;

namespace attnsteer {

class FileLoader : public QObject {
    Q_OBJECT
  public:
    enum class NpyKind { Logits, Attention, Saliency };

    /// Sets ENGINE's scenario: CONTROLS_SCENARIO gives what the controls describe, with the files
    /// of the engine's. WINDOW is the parent of the file dialogs.
    FileLoader(Engine* engine, std::function<Scenario()> controlsScenario, QWidget* window);

    /// Where Open sample finds the bundled saliency maps: the images embedded in the program
    /// (":/samples"), else resources/samples next to the build or in the source tree.
    static QString samplesFolder();
    /// The sample images' paths, sorted by name.
    static QStringList sampleImages();
    /// The synthetic attention dump (4 layers, with its sidecar and picture) as a file on disk:
    /// resources/samples beside the build or in the source tree, else the embedded copy written
    /// once into the cache folder. Empty when none can be had.
    static QString sampleDump();

    /// Adds the file actions to FILE_MENU and TOOLBAR.
    void addActions(QMenu* fileMenu, QToolBar* toolbar);

    /// Decodes the image PATH (errors shown at once), then has it projected onto the vision
    /// tokens.
    bool loadSaliencyImage(const QString& path);
    /// Uses the file PATH as KIND (errors when it is read). A new logits or attention dump starts
    /// on LAYER (nullopt: all layers) with the sidecar META_PATH (empty: PATH.json if present).
    void openNpy(const QString& path, NpyKind kind, std::optional<int> layer = std::nullopt,
                 const QString& metaPath = {});
    /// Checks the image PATH (errors shown at once), then has it projected onto the vision
    /// tokens as the target of the grounding metrics (tokens >= 0.5).
    bool loadTargetMask(const QString& path);
    /// The target from the .npy PATH of K values, nonzero = a target token (errors when read).
    void openTargetNpy(const QString& path);
    /// No target.
    void clearTarget();
    void useRandomWorkload();
    void useRandomSaliency();
    /// The first local image file of a drag, or empty.
    static QString droppedImage(const QMimeData* mime);

  signals:
    void errorFound(const QString& message);
    void statusMessage(const QString& message, int timeoutMs);

  private:
    void buildSampleMenu(QMenu* menu);
    void loadImageInteractively();
    void loadTargetMaskInteractively();
    void openNpyInteractively(NpyKind kind);

    Engine* engine_;
    std::function<Scenario()> controlsScenario_;
    QWidget* window_;
};

} // namespace attnsteer
