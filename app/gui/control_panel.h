#pragma once
// The control dock's content: steering (lambda, eps, normalization, steered heads, backend), the
// random workload (seed, sizes, sigma, where the data come from), the projection of a saliency
// image and the views' row and options. Builds the Scenario that the controls describe; says
// what changed through its signals.

#include "engine.h"
#include "plot_data.h"

#include <QScrollArea>

#include <optional>
#include <vector>

class QFormLayout;

namespace attnsteer {

class ProjectionControls;
struct WindowControls;

class ControlPanel : public QScrollArea {
    Q_OBJECT
  public:
    /// Creates the controls of the steering, workload, projection and views groups in CONTROLS.
    explicit ControlPanel(WindowControls& controls, QWidget* parent = nullptr);

    /// The width of the dock that shows the panel.
    int dockWidth() const { return dockWidth_; }
    /// The narrowest the dock may be (a small screen).
    int minimumDockWidth() const { return minimumDockWidth_; }

    /// BASE (the files it names are kept) with everything the controls set.
    Scenario scenario(Scenario base) const;
    ProjectionOptions projection() const;
    /// Shows OPTIONS without emitting scenarioEdited().
    void showProjection(const ProjectionOptions& options);
    double lambda() const;
    /// Sets lambda (negative allowed, |lambda| up to the window's limit of 1000), raising lambda
    /// max when it is above, with a notice.
    void setLambda(double lambda);
    /// Sets the sizes of the random workload and emits scenarioEdited() once.
    void setWorkloadSize(int heads, int queries, int keys);
    /// The head (within a layer) of the per-token row and of the matrix.
    int head() const;
    void setQuery(int query);
    /// The layer chosen in the layer box: nullopt for all layers.
    std::optional<int> layer() const;
    /// Fills the layer box for a source of SOURCE_LAYERS layers ("All layers", "Layer 0", ...)
    /// and selects CHOSEN (nullopt: all), without emitting layerChosen. Hidden, with its label,
    /// for a source of one layer.
    void showLayers(int sourceLayers, std::optional<int> chosen);
    /// Gives the layer box the keyboard focus (Ctrl+L); false when it is hidden.
    bool focusLayer();
    /// The accepted steered heads as the user wrote them ("all" for every head).
    const QString& steeredHeadsText() const { return steeredHeadsText_; }
    /// Parses the steered heads field: accepted, or refused: the text stays, marked (a red frame
    /// and the reason as its tooltip) with a notice; the heads last accepted stay in effect.
    void applySteeredHeads();
    /// Whether the steered heads field is marked as refused.
    bool steeredHeadsMarked() const;

    /// The backend selected in the backend box.
    BackendKind backend() const;
    /// Selects KIND in the backend box; backendChosen follows (also when it was selected).
    void chooseBackend(BackendKind kind);
    /// Shows KIND in the backend box without emitting backendChosen.
    void showBackend(BackendKind kind);

    /// After a data set is ready: a file workload's sizes (the random sizes cannot be edited
    /// then), the row's ranges and the row the engine shows, steered heads that no longer exist.
    void showWorkload(const Workload& workload, bool fromFile, int head, int query);
    /// "Workload: ... Saliency: ..." of SCENARIO.
    void showSources(const Scenario& scenario);

  signals:
    /// A control of the scenario changed: scenario() differs.
    void scenarioEdited();
    /// Lambda changed (before scenarioEdited), for views that follow it at once.
    void lambdaChanged(double lambda);
    void viewChanged(int head, int query);
    /// The user chose a layer in the layer box (nullopt: all layers).
    void layerChosen(std::optional<int> layer);
    /// The sweep's grid: lambdas 0 .. LAMBDA_MAX over SEEDS seeds.
    void sweepGridChanged(double lambdaMax, int seeds);
    void backendChosen(BackendKind kind);
    /// Something the user should know that needs no dialog (one line, for the status bar): a
    /// raised lambda max, a refused steered-heads entry.
    void notice(const QString& message);

  private:
    QWidget* buildSteering();
    QWidget* buildWorkload();
    QWidget* buildViews();
    void connectControls();
    void lambdaSpinChanged(double lambda);
    void lambdaMaxChanged(double maximum);
    void syncLambdaSlider();
    void refuseSteeredHeads(const QString& message);
    /// Marks the steered heads field as refused for PROBLEM, or clears the mark (empty).
    void markSteeredHeads(const QString& problem);

    WindowControls& c_;
    ProjectionControls* projection_ = nullptr;
    std::vector<int> steeredHeads_; ///< parsed from the steered heads field; empty = all
    QString steeredHeadsText_ = QStringLiteral("all");
    int dockWidth_ = 0, minimumDockWidth_ = 0;
    int workloadHeads_ = 0; ///< heads per layer of the data set shown, 0 before the first
    QFormLayout* viewsForm_ = nullptr;
};

} // namespace attnsteer
