#pragma once
// The main window: a shell that wires its parts together. The controls in a dock (ControlPanel),
// the four views in splitters (PlotPanel), the metrics readout (MetricsReadout), progress in the
// status bar (ProgressIndicator), files (FileLoader), export (ExportActions) and settings
// (window_settings.h). The work itself runs in an Engine, off the GUI thread, which holds the
// results: the window reads them from there.

#include "engine.h"
#include "export_plots.h"
#include "file_loader.h"
#include "grounding_jobs.h"
#include "plot_data.h"
#include "window_controls.h"

#include <QMainWindow>
#include <QPointer>
#include <QSize>

class QMessageBox;

class QDockWidget;

namespace attnsteer {

class ControlPanel;
class ExportActions;
class HeadsPanel;
class HeadsPlot;
class MatrixPlot;
class MetricsReadout;
class PerTokenPlot;
class PlotPanel;
class PlotView;
class ProgressIndicator;
class SaliencyGridPlot;
class TradeoffPlot;

class MainWindow : public QMainWindow {
    Q_OBJECT
    /// True: errors are only emitted (errorShown) and written to the status bar, no message box.
    Q_PROPERTY(bool suppressMessageBoxes READ suppressMessageBoxes WRITE setSuppressMessageBoxes)

  public:
    /// Every control, for tests and for main.cpp. Each has an objectName equal to its member.
    using Controls = WindowControls;
    using NpyKind = FileLoader::NpyKind;

    /// Where File > Open sample finds the bundled saliency maps (FileLoader::samplesFolder).
    static QString samplesFolder();
    /// The sample images' paths, sorted by name.
    static QStringList sampleImages();

    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    const Controls& controls() const { return controls_; }
    Engine* engine() const { return engine_; }
    /// The grounding metrics, the heads profile and the top-k sweep.
    GroundingJobs* groundingJobs() const { return jobs_; }
    PerTokenPlot* perTokenPlot() const;
    TradeoffPlot* tradeoffPlot() const;
    SaliencyGridPlot* saliencyGridPlot() const;
    MatrixPlot* matrixPlot() const;
    HeadsPlot* headsPlot() const;

    // --- settings, as the controls would set them ---
    void setWorkloadSize(int heads, int queries, int keys);
    /// Chooses KIND in the workload box, as the user does: the transformer comes with its view
    /// (showTransformerView).
    void setWorkloadKind(WorkloadKind kind);
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
    /// Everything the views draw now (what "Export all plots" writes): the engine's results put
    /// together by assemblePlotData, with the views' settings.
    PlotData plotData() const { return viewData(WithMatrix::Yes); }

    // --- actions without their dialogs: the menu actions ask, then call these ---
    /// Reads the image (errors shown at once), then projects it onto the vision tokens.
    bool loadSaliencyImage(const QString& path);
    /// The image PATH as the target mask (errors shown at once); projected like a saliency image.
    bool loadTargetMask(const QString& path);
    /// The .npy PATH of K values as the target (nonzero = a target token).
    void openTargetNpy(const QString& path);
    void clearTarget();
    /// "Steer top k heads": the k best heads of the heads view into the steered heads, applied.
    /// False (with a status message) when there is no profile yet.
    bool steerTopHeads();
    /// Uses the file PATH as logits, attention (a dump: .npy, .npz, .safetensors) or saliency
    /// (.npy) (errors when it is read).
    void openNpy(const QString& path, NpyKind kind);
    /// The dump PATH as logits or attention with its LAYER chosen (nullopt: all; negative counts
    /// from the end) and its sidecar META_PATH (empty: PATH.json when there is one).
    void openDump(const QString& path, NpyKind kind, std::optional<int> layer,
                  const QString& metaPath = {});
    /// The layer chosen in the layer box (nullopt: all layers); selecting one applies it.
    std::optional<int> layer() const;
    void setLayer(std::optional<int> layer);
    void useRandomWorkload();
    void useRandomSaliency();
    /// Writes VIEW as PNG (SIZE x SCALE pixels) or PDF; refuses an existing PATH unless
    /// OVERWRITE. Errors are shown; returns whether the file was written.
    bool exportView(PlotView* view, const QString& path, QSize size, double scale = 1.0,
                    bool pdf = false, bool overwrite = false);
    /// exportAllPlots(plotData(), DIR, SIZE, OVERWRITE); errors are shown.
    ExportResult exportAll(const QString& dir, QSize size, bool overwrite = false);
    /// VIEW as the figure SPEC (PNG, PDF, SVG; inches; dpi) into PATH. A missing folder is
    /// offered to be created. Errors are shown; returns whether the file was written.
    bool exportFigure(PlotView* view, const QString& path, const FigureSpec& spec,
                      bool overwrite = false);
    /// Every view as the figure SPEC into DIR (per_token.EXT, ...); errors are shown.
    ExportResult exportAll(const QString& dir, const FigureSpec& spec, bool overwrite = false);
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
    /// A narrow window gives the plots the room: the control dock takes at most a third.
    void resizeEvent(QResizeEvent* event) override;
    void showEvent(QShowEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

  private:
    /// No: without the matrix; Yes: in PlotData::matrix; Shared: in PlotData::sharedMatrix.
    enum class WithMatrix { No, Yes, Shared };
    /// plotData(); without the matrix (megabytes) for the views that do not draw it.
    PlotData viewData(WithMatrix withMatrix) const;
    void addDocks();
    void buildMenus();
    void connectParts();
    void connectEngine();
    void showStatus(const QString& message, int timeoutMs);
    /// The control dock at most a third of the window's width (not below its minimum).
    void fitControlDock();

    void applyControls();
    /// The workload box changed: applied; a transformer chosen after the start gets its view.
    void applyWorkloadKind(WorkloadKind kind);
    /// The transformer workload's story without tuning (transformerStoryView): an image-focused
    /// head, a text query after the image, lambda 2 on a slider to 8, pointing on the tradeoff's
    /// y axis.
    void showTransformerView();
    void applyView(int head, int query);
    void applyLayer(std::optional<int> layer);
    /// Key KEY was clicked in a view: its query row becomes the query, or the status bar says it
    /// is not a query row.
    void pickKey(int key);
    void applySweepGrid(double lambdaMax, int seeds);
    void applyBackend(BackendKind kind);
    void showBackendFallback(const QString& reason);

    void onWorkloadReady();
    void onRowsFinished();
    void onEvaluationFinished();
    void onSweepFinished();
    void onBusyChanged();
    void updateMatrixView();
    void updateReadout();
    void updateComputeTimes();
    /// The tradeoff view again: y axis, curves and labels as they are now.
    void updateTradeoff();
    /// The heads view from the last profile; the comparison heads follow its ranking.
    void updateHeadsView();
    /// The top-k sweep's heads: the heads view's best k (the tradeoff view follows).
    void updateComparisonHeads();
    /// The heads view's frame on the layer and head chosen.
    void updateHeadsSelection();
    /// (LAYER, HEAD) was clicked in the heads view: chosen in the layer and head boxes.
    void pickHead(int layer, int head);

    Engine* engine_ = nullptr;
    GroundingJobs* jobs_ = nullptr;
    HeadsPanel* heads_ = nullptr;
    QDockWidget* headsDock_ = nullptr;
    /// The multi-layer dump the heads view was last brought up for (it opens once per dump).
    std::string headsShownFor_;
    Controls controls_;
    PlotPanel* plots_ = nullptr;
    ControlPanel* controlPanel_ = nullptr;
    MetricsReadout* readout_ = nullptr;
    ProgressIndicator* progress_ = nullptr;
    FileLoader* files_ = nullptr;
    ExportActions* exporter_ = nullptr;

    bool suppressMessageBoxes_ = false;
    QPointer<QMessageBox> errorBox_;
    bool cancelled_ = false;   ///< the user cancelled; the readout says so until the next result
    bool constructed_ = false; ///< settings restored: a workload chosen now is the user's
};

} // namespace attnsteer
