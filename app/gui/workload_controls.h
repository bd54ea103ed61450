#pragma once
// The workload box of the control dock ("random | transformer") and the transformer's own
// controls: head dim, target strength, and the simulated vision model's saliency (quality, blur).
// They add rows to the workload group's form: the transformer's rows are shown only while it is
// chosen, the random workload's σ only while that is. Also: the view that tells the transformer
// workload's story without tuning.

#include "scenario.h"

#include "attnsteer/workload.h"

#include <QObject>

#include <vector>

class QFormLayout;
class QGroupBox;
class QWidget;

namespace attnsteer {

struct WindowControls;

class WorkloadControls : public QObject {
    Q_OBJECT
  public:
    /// Creates workload, headDim, targetStrength, saliencyQualitySlider, saliencyQuality and
    /// saliencyBlur in CONTROLS.
    explicit WorkloadControls(WindowControls& controls, QObject* parent = nullptr);

    /// Adds the workload box as a row of FORM; GROUP's title follows the kind chosen.
    void addKindRow(QFormLayout* form, QGroupBox* group);
    /// Adds the transformer's rows to FORM. RANDOM_ONLY (a field of FORM: σ) is shown only while
    /// the random workload is chosen, the transformer's rows only while it is.
    void addTransformerRows(QFormLayout* form, QWidget* randomOnly);

    WorkloadKind kind() const;
    /// SCENARIO with the kind, the transformer's settings and the simulated saliency's.
    void apply(Scenario& scenario) const;
    /// A dump is the workload (FROM_FILE): the box and the transformer's controls are disabled
    /// until File > Use random workload.
    void showFileWorkload(bool fromFile);

  signals:
    /// The workload box changed (by the user, or restored from the settings).
    void kindChanged(attnsteer::WorkloadKind kind);
    /// A transformer setting changed.
    void edited();

  private:
    void showKind();

    WindowControls& c_;
    QFormLayout* form_ = nullptr;
    QGroupBox* group_ = nullptr;
    QWidget* randomOnly_ = nullptr;
    std::vector<QWidget*> transformerRows_; ///< the labels of the transformer's rows
};

/// The view of the transformer workload that shows steering's effect on the planted object
/// without tuning: an image-focused head, a text query after the image (the last one), a
/// lambda at which the pointing gain is plain, a lambda range that holds the whole curve.
struct TransformerStoryView {
    int head = 0;
    int query = 0;
    double lambda = 2.0;
    double lambdaMax = 8.0;
};

/// That view for SPEC (sizes and layout; generatedSpec()). Throws the InputErrors of
/// transformerLayout for a spec the transformer refuses.
TransformerStoryView transformerStoryView(const WorkloadSpec& spec);

} // namespace attnsteer
