#pragma once
// The main window: controls in a dock, the four views in splitters, the metrics readout, menus,
// export, settings. The work itself runs in an Engine, off the GUI thread.

#include "engine.h"
#include "export_plots.h"
#include "plot_data.h"

#include <QImage>
#include <QMainWindow>
#include <QPointer>
#include <QSize>

class QAction;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QMenu;
class QMessageBox;
class QPlainTextEdit;
class QProgressBar;
class QSlider;
class QSpinBox;
class QSplitter;
class QToolButton;

namespace attnsteer {

class CollapsibleSection;
class MatrixPlot;
class PerTokenPlot;
class PlotView;
class SaliencyGridPlot;
class SaliencyPanel;
class SciSpinBox;
class TradeoffPlot;

class MainWindow : public QMainWindow {
    Q_OBJECT
    /// True: errors are only emitted (errorShown) and written to the status bar, no message box.
    Q_PROPERTY(bool suppressMessageBoxes READ suppressMessageBoxes WRITE setSuppressMessageBoxes)

  public:
    /// Every control, for tests and for main.cpp. Each has an objectName equal to its member.
    struct Controls {
        QSlider* lambdaSlider = nullptr;  ///< 0..1000 steps over 0..lambdaMax
        QDoubleSpinBox* lambda = nullptr; ///< 3 decimals, in sync with the slider
        QDoubleSpinBox* lambdaMax = nullptr;
        SciSpinBox* eps = nullptr;
        QComboBox* normalization = nullptr; ///< max, minmax, zscore, none
        QLineEdit* steeredHeads = nullptr;  ///< "all" or "0,3,5" or "0:7"
        QComboBox* backend = nullptr;       ///< CPU; CUDA (disabled without a usable CUDA device)
        QSlider* seedSlider = nullptr;
        QSpinBox* seed = nullptr;
        QSpinBox* heads = nullptr;
        QSpinBox* queries = nullptr;
        QSpinBox* keys = nullptr;
        QDoubleSpinBox* sigma = nullptr;
        QLabel* source = nullptr; ///< where the workload and the saliency come from
        // How a saliency image becomes per-key saliency (Scenario::projection).
        CollapsibleSection* projectionSection = nullptr; ///< folds the five below away
        QSpinBox* visionOffset = nullptr;                ///< first key index of the vision tokens
        QSpinBox* patchFactor = nullptr;                 ///< 28 (patch 14 x merge 2); 32
        QSpinBox* minPixels = nullptr;                   ///< smallest resized area
        QSpinBox* maxPixels = nullptr;          ///< largest resized area; 0 = "auto" (K x factor²)
        QDoubleSpinBox* textSaliency = nullptr; ///< raw saliency of the other key tokens
        QSpinBox* head = nullptr;               ///< row of the per-token view, head of the matrix
        QSpinBox* query = nullptr;              ///< row of the per-token view
        QSpinBox* sweepSeeds = nullptr;
        QCheckBox* sortBySaliency = nullptr;
        QSlider* overlayOpacity = nullptr; ///< 0..100 %
        QCheckBox* showDifference = nullptr;
        QPlainTextEdit* metrics = nullptr; ///< the read-only readout
        QLabel* imageCaption = nullptr;
        QLabel* computeTime = nullptr; ///< in the status bar
        QProgressBar* progress = nullptr;
        QToolButton* cancel = nullptr;
    };

    enum class NpyKind { Logits, Attention, Saliency };

    /// Where File > Open sample finds the bundled saliency maps: the images embedded in the
    /// program (":/samples"), else resources/samples next to the build or in the source tree.
    static QString samplesFolder();
    /// The sample images' paths, sorted by name.
    static QStringList sampleImages();

    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    const Controls& controls() const { return controls_; }
    Engine* engine() const { return engine_; }
    PerTokenPlot* perTokenPlot() const { return perToken_; }
    TradeoffPlot* tradeoffPlot() const { return tradeoff_; }
    SaliencyGridPlot* saliencyGridPlot() const { return grid_; }
    MatrixPlot* matrixPlot() const { return matrix_; }

    // --- settings, as the controls would set them ---
    void setWorkloadSize(int heads, int queries, int keys);
    void setSeed(int seed);
    void setLambda(double lambda);
    double lambda() const;
    void setSweepSeeds(int seeds);
    void setProjection(const ProjectionOptions& options);
    ProjectionOptions projection() const;
    /// Selects KIND in the backend box and in the engine; CUDA that cannot be used falls back to
    /// the CPU with an error shown. Returns the backend in use afterwards.
    BackendKind setBackend(BackendKind kind);

    // --- what is shown ---
    QString metricsText() const;
    QString imageCaption() const;
    /// Everything the views draw now (what "Export all plots" writes).
    PlotData plotData() const;

    // --- actions without their dialogs: the menu actions ask, then call these ---
    /// Reads the image (errors shown at once), then projects it onto the vision tokens.
    bool loadSaliencyImage(const QString& path);
    /// Uses the .npy file PATH as logits, attention or saliency (errors when it is read).
    void openNpy(const QString& path, NpyKind kind);
    void useRandomWorkload();
    void useRandomSaliency();
    /// Writes VIEW as PNG (SIZE x SCALE pixels) or PDF; refuses an existing PATH unless
    /// OVERWRITE. Errors are shown; returns whether the file was written.
    bool exportView(PlotView* view, const QString& path, QSize size, double scale = 1.0,
                    bool pdf = false, bool overwrite = false);
    /// exportAllPlots(plotData(), DIR, SIZE, OVERWRITE); errors are shown.
    ExportResult exportAll(const QString& dir, QSize size, bool overwrite = false);
    /// The last sweep as CSV (the columns of attnsteer-cli sweep --csv).
    bool exportSweepCsv(const QString& path, bool overwrite = false);
    void copyMetrics();
    /// F5: everything again from scratch (files re-read).
    void recompute();
    /// The Cancel button: stops what runs; the window keeps what it shows and the next change
    /// (or F5) computes again.
    void cancelComputation();

    bool suppressMessageBoxes() const { return suppressMessageBoxes_; }
    void setSuppressMessageBoxes(bool suppress) { suppressMessageBoxes_ = suppress; }

  signals:
    /// An error was shown to the user (one line).
    void errorShown(const QString& message);

  protected:
    /// Shows MESSAGE: status bar, errorShown, and a non-blocking warning box unless suppressed.
    virtual void showError(const QString& message);
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

  private:
    void buildViews();
    void buildControls();
    void buildActions();
    void buildStatusBar();
    void restoreSettings();
    void saveSettings() const;

    Scenario scenarioFromControls() const;
    void applyControls();
    void applySteeredHeads();
    void applyView();
    void applySweepGrid();
    void applyBackendBox();
    void showBackendFallback(const QString& reason);
    void syncProjectionControls(const ProjectionOptions& options);
    void updateProjectionSummary();
    void lambdaSpinChanged(double lambda);
    void lambdaMaxChanged(double maximum);
    void syncLambdaSlider();

    void onWorkloadReady();
    void onRowsFinished(const RowsResult& result);
    void onEvaluationFinished(const EvaluationResult& result);
    void onSweepFinished(const SweepOutcome& result);
    void onProgress(const QString& task, double fraction);
    void onBusyChanged(bool busy);
    void updateMatrixView();
    void updateReadout();
    void updateSourceLabel();
    void updateComputeTime();
    void updateProgressBar();
    void buildSampleMenu(QMenu* menu);

    void exportViewInteractively(PlotView* view);
    void exportAllInteractively();
    void exportSweepInteractively();
    void loadImageInteractively();
    void openNpyInteractively(NpyKind kind);

    Engine* engine_ = nullptr;
    Controls controls_;
    PerTokenPlot* perToken_ = nullptr;
    TradeoffPlot* tradeoff_ = nullptr;
    SaliencyGridPlot* grid_ = nullptr;
    MatrixPlot* matrix_ = nullptr;
    SaliencyPanel* saliencyPanel_ = nullptr;
    QSplitter* mainSplitter_ = nullptr;
    QSplitter* bottomSplitter_ = nullptr;
    QAction* copyAction_ = nullptr;

    std::vector<int> steeredHeads_; ///< parsed from controls_.steeredHeads; empty = all
    QString steeredHeadsText_ = QStringLiteral("all");
    bool suppressMessageBoxes_ = false;
    QPointer<QMessageBox> errorBox_;

    // What the views show, kept for the matrix toggle, the readout and export.
    std::optional<RowsResult> rows_;
    std::optional<EvaluationResult> evaluation_;
    QImage image_;      ///< the saliency image shown, or null
    QString imagePath_; ///< its file
    double sweepMs_ = 0;
    bool cancelled_ = false; ///< the user cancelled; the readout says so until the next result
    /// Progress of the running jobs by task ("evaluating", "sweep"): the bar shows the first.
    std::vector<std::pair<QString, double>> progress_;
    QString lastFolder(const QString& kind) const;
    void rememberFolder(const QString& kind, const QString& path);
};

} // namespace attnsteer
