#pragma once
// The metrics dock: entropies, reduction, KL, saliency expectation, rows steered, the grounding
// metrics (with a vision span or a target), compute time and backend of the evaluation shown,
// read-only and selectable, with a Copy button; a short legend says what each line is.

#include "engine.h"

#include <QString>

#include <QWidget>

namespace attnsteer {

struct GroundingResult;
struct WindowControls;

class MetricsReadout : public QWidget {
    Q_OBJECT
  public:
    /// Creates the metrics field in CONTROLS.
    explicit MetricsReadout(WindowControls& controls, QWidget* parent = nullptr);

    /// The numbers of EVALUATION over DATA, with the column of HEAD, when both are there and of
    /// the same data set; else "Computing...", or "Cancelled." when CANCELLED. With a vision span
    /// or a target, the grounding metrics of GROUNDING when it is of the same data set and
    /// steering ("…" until then).
    void showEvaluation(const DataSet* data, const EvaluationResult* evaluation,
                        const GroundingResult* grounding, int head, const QString& steeredHeads,
                        bool cancelled);
    QString text() const;
    /// Puts the readout on the clipboard, or the selection when it has the focus and one.
    void copy();

  signals:
    /// What was done, for the status bar.
    void statusMessage(const QString& message, int timeoutMs);

  private:
    /// The grounding metrics' lines, laid out by LINE(label, all, one).
    template <typename Line>
    static QString groundingLines(const DataSet& data, const EvaluationResult& evaluation,
                                  const GroundingResult* result, int head, Line line);

    WindowControls& c_;
};

} // namespace attnsteer
