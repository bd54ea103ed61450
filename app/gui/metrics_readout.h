#pragma once
// The metrics dock: entropies, reduction, KL, compute time and backend of the evaluation shown,
// read-only and selectable, with a Copy button.

#include "engine.h"

#include <QWidget>

namespace attnsteer {

struct WindowControls;

class MetricsReadout : public QWidget {
    Q_OBJECT
  public:
    /// Creates the metrics field in CONTROLS.
    explicit MetricsReadout(WindowControls& controls, QWidget* parent = nullptr);

    /// The numbers of EVALUATION over DATA, with the column of HEAD, when both are there and of
    /// the same data set; else "Computing...", or "Cancelled." when CANCELLED.
    void showEvaluation(const DataSet* data, const EvaluationResult* evaluation, int head,
                        const QString& steeredHeads, bool cancelled);
    QString text() const;
    /// Puts the readout on the clipboard, or the selection when it has the focus and one.
    void copy();

  signals:
    /// What was done, for the status bar.
    void statusMessage(const QString& message, int timeoutMs);

  private:
    WindowControls& c_;
};

} // namespace attnsteer
