#include "progress_indicator.h"

#include "widget_helpers.h"
#include "window_controls.h"

#include <QLabel>
#include <QProgressBar>
#include <QStatusBar>
#include <QToolButton>

#include <algorithm>

namespace attnsteer {

ProgressIndicator::ProgressIndicator(WindowControls& controls, QStatusBar* statusBar,
                                     QObject* parent)
    : QObject(parent), c_(controls) {
    c_.progress = named(new QProgressBar, "progress", tr("Progress of the running computation"));
    c_.progress->setRange(0, 100);
    c_.progress->setMaximumWidth(220);
    c_.progress->setTextVisible(true);
    c_.progress->hide();
    c_.cancel = named(new QToolButton, "cancel", tr("Stop the running computation"));
    c_.cancel->setText(tr("Cancel"));
    c_.cancel->hide();
    connect(c_.cancel, &QToolButton::clicked, this, &ProgressIndicator::cancelRequested);
    c_.computeTime = named(new QLabel, "computeTime", tr("Time of the last computations"));
    c_.computeTime->setTextInteractionFlags(Qt::TextSelectableByMouse);
    statusBar->addPermanentWidget(c_.progress);
    statusBar->addPermanentWidget(c_.cancel);
    statusBar->addPermanentWidget(c_.computeTime);
}

QString ProgressIndicator::taskName(Task task) {
    switch (task) {
    case Task::Evaluation:
        return tr("evaluating");
    case Task::Sweep:
        break;
    case Task::Grounding:
        return tr("grounding");
    case Task::Profile:
        return tr("head profile");
    case Task::ComparisonSweep:
        return tr("top-k sweep");
    }
    return tr("sweep");
}

void ProgressIndicator::setProgress(Task task, double fraction) {
    auto it = std::find_if(progress_.begin(), progress_.end(),
                           [&](const auto& entry) { return entry.first == task; });
    if (it == progress_.end())
        // The evaluation first: its numbers are what the user waits for.
        it = progress_.insert(task == Task::Evaluation ? progress_.begin() : progress_.end(),
                              {task, fraction});
    it->second = fraction;
    updateBar();
}

void ProgressIndicator::finish(Task task) {
    std::erase_if(progress_, [&](const auto& entry) { return entry.first == task; });
    updateBar();
}

void ProgressIndicator::setBusy(bool busy) {
    c_.progress->setVisible(busy);
    c_.cancel->setVisible(busy);
    if (!busy)
        progress_.clear();
    updateBar();
}

void ProgressIndicator::clear() {
    progress_.clear();
}

void ProgressIndicator::updateBar() {
    QProgressBar* bar = c_.progress;
    if (progress_.empty()) {
        bar->setRange(0, 0); // busy until a job reports how far it is
        bar->setFormat(tr("working..."));
        bar->setToolTip(tr("Progress of the running computation"));
        return;
    }
    const auto& [task, fraction] = progress_.front();
    bar->setRange(0, 100);
    bar->setValue(int(fraction * 100));
    bar->setFormat(tr("%1 %p%").arg(taskName(task)));
    QStringList parts;
    for (const auto& [running, done] : progress_)
        parts << tr("%1 %2 %").arg(taskName(running)).arg(int(done * 100));
    bar->setToolTip(parts.join(QStringLiteral(", ")));
}

void ProgressIndicator::showComputeTimes(const EvaluationResult* evaluation, const RowsResult* rows,
                                         const SweepOutcome* sweep) {
    QStringList parts;
    if (evaluation)
        parts << tr("evaluation %1 ms (%2)")
                     .arg(evaluation->metrics.elapsedMs, 0, 'f', 1)
                     .arg(QString::fromStdString(evaluation->metrics.backend));
    if (rows)
        parts << tr("rows %1 ms").arg(rows->elapsedMs, 0, 'f', 1);
    if (sweep)
        parts << tr("sweep %1 s").arg(sweep->elapsedMs / 1000, 0, 'f', 2);
    c_.computeTime->setText(tr("Last compute: %1").arg(parts.join(QStringLiteral(" · "))));
}

} // namespace attnsteer
