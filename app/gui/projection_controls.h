#pragma once
// The "Saliency image" box of the control dock: how a saliency image becomes per-key saliency
// (Scenario::projection), in a section that folds away.

#include "attnsteer/projection.h"

#include <QGroupBox>

namespace attnsteer {

struct WindowControls;

class ProjectionControls : public QGroupBox {
    Q_OBJECT
  public:
    /// Creates visionOffset, patchFactor, minPixels, maxPixels, textSaliency and
    /// projectionSection in CONTROLS. The folded section's summary comes with the first
    /// showOptions().
    explicit ProjectionControls(WindowControls& controls, QWidget* parent = nullptr);

    ProjectionOptions options() const;
    /// Shows OPTIONS without emitting edited().
    void showOptions(const ProjectionOptions& options);

  signals:
    /// The user changed an option.
    void edited();

  private:
    void setPixelSteps(int factor);
    void updateSummary();

    WindowControls& c_;
};

} // namespace attnsteer
