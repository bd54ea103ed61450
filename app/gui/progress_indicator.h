#pragma once
// The status bar's right side: the progress of the running jobs, their Cancel button and the time
// of the last computations.

#include "engine.h"

#include <QObject>

#include <utility>
#include <vector>

class QStatusBar;

namespace attnsteer {

struct WindowControls;

class ProgressIndicator : public QObject {
    Q_OBJECT
  public:
    using Task = EngineTask;

    /// Creates progress, cancel and computeTime in CONTROLS, in STATUS_BAR.
    ProgressIndicator(WindowControls& controls, QStatusBar* statusBar, QObject* parent = nullptr);

    /// TASK is FRACTION (0..1) done; the bar shows the evaluation first.
    void setProgress(Task task, double fraction);
    /// TASK is done.
    void finish(Task task);
    /// Shows or hides the bar and the Cancel button; forgets the progress when not BUSY.
    void setBusy(bool busy);
    /// Forgets the progress (the jobs were cancelled).
    void clear();
    /// "Last compute: ..." of the results there are.
    void showComputeTimes(const EvaluationResult* evaluation, const RowsResult* rows,
                          const SweepOutcome* sweep);

  signals:
    void cancelRequested();

  private:
    static QString taskName(Task task);
    void updateBar();

    WindowControls& c_;
    std::vector<std::pair<Task, double>> progress_; ///< the running tasks, the first is shown
};

} // namespace attnsteer
