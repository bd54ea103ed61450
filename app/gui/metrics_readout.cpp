#include "metrics_readout.h"

#include "widget_helpers.h"
#include "window_controls.h"

#include <QApplication>
#include <QClipboard>
#include <QFileInfo>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>

namespace attnsteer {

namespace {

QString number(double value, int digits = 6) {
    return QString::number(value, 'g', digits);
}

QString fileName(const std::string& path) {
    return QFileInfo(QString::fromStdString(path)).fileName();
}

} // namespace

MetricsReadout::MetricsReadout(WindowControls& controls, QWidget* parent)
    : QWidget(parent), c_(controls) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 2, 6, 6);
    c_.metrics = named(new QPlainTextEdit, "metrics",
                       tr("Entropies, reduction, KL, compute time and backend (select and copy)"));
    c_.metrics->setReadOnly(true);
    c_.metrics->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    c_.metrics->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    c_.metrics->setLineWrapMode(QPlainTextEdit::NoWrap);
    c_.metrics->setPlainText(tr("Computing..."));
    layout->addWidget(c_.metrics);
    auto* copyButton = named(new QPushButton(tr("Copy")), "copyMetrics",
                             tr("Copy the readout to the clipboard (Ctrl+C)"));
    connect(copyButton, &QPushButton::clicked, this, &MetricsReadout::copy);
    auto* copyRow = new QHBoxLayout;
    copyRow->addStretch(1);
    copyRow->addWidget(copyButton);
    layout->addLayout(copyRow);
}

void MetricsReadout::showEvaluation(const DataSet* data, const EvaluationResult* evaluation,
                                    int head, const QString& steeredHeads, bool cancelled) {
    if (!data || !evaluation || evaluation->epoch != data->epoch) {
        c_.metrics->setPlainText(
            cancelled ? tr("Cancelled.\nChange a setting or press F5 (View > Recompute) to "
                           "compute again.")
                      : tr("Computing..."));
        return;
    }
    const Metrics& m = evaluation->metrics;
    const SteeringParams& p = evaluation->request.params;
    const Workload& workload = *data->workload;
    // The totals cover every row of the layers selected; the head's column is that head in each
    // of them (several layers: its mean over the layers).
    const int layers = workload.layers(), perLayer = workload.headsPerLayer();
    const std::vector<MetricSummary> heads =
        layers > 1 ? splitLayers(m, layers, perLayer).aggregate.heads : m.heads;
    head = std::clamp(head, 0, int(heads.size()) - 1);
    const MetricSummary& h = heads[std::size_t(head)];
    auto line = [](const QString& label, const QString& all, const QString& one) {
        return QStringLiteral("%1%2  %3\n").arg(label, -17).arg(all, 13).arg(one, 13);
    };
    QString text;
    text += tr("λ = %1   ε = %2   steered heads: %3\n")
                .arg(p.lambda, 0, 'f', 3)
                .arg(number(p.eps))
                .arg(steeredHeads);
    if (workload.sourceLayers() > 1) {
        if (layers > 1)
            text += tr("layers: all %1 (head column: mean over the %1 layers)\n").arg(layers);
        else
            text += tr("layer: %1 of %2 (0–%3)\n")
                        .arg(workload.sourceLayer(0))
                        .arg(workload.sourceLayers())
                        .arg(workload.sourceLayers() - 1);
    }
    text += line(QString(), layers > 1 ? tr("%1 layers").arg(layers) : tr("all heads"),
                 tr("head %1").arg(head));
    text +=
        line(tr("H(A) [nats]"), number(m.total.entropyOriginal, 8), number(h.entropyOriginal, 8));
    text +=
        line(tr("H(A′) [nats]"), number(m.total.entropySteered, 8), number(h.entropySteered, 8));
    text += line(tr("reduction [%]"), number(m.total.entropyReductionPct, 5),
                 number(h.entropyReductionPct, 5));
    text += line(tr("KL(A‖A′) [nats]"), number(m.total.kl, 5), number(h.kl, 5));
    text += tr("compute: %1 ms on %2\n")
                .arg(m.elapsedMs, 0, 'f', 1)
                .arg(QString::fromStdString(m.backend));
    const QString sizes =
        workload.sourceLayers() > 1
            ? tr("%1 layers × %2").arg(workload.sourceLayers()).arg(workload.headsPerLayer())
            : QString::number(workload.heads());
    text += tr("workload: %1 × %2 × %3, %4\n")
                .arg(sizes)
                .arg(workload.queries())
                .arg(workload.keys())
                .arg(data->scenario.hasWorkloadFile() ? fileName(workload.label())
                                                      : QString::fromStdString(workload.label()));
    const QString saliencyLabel = data->scenario.hasFixedSaliency()
                                      ? fileName(data->raw.label)
                                      : QString::fromStdString(data->raw.label);
    const std::string_view normalization = normalizationName(data->scenario.normalization);
    text += tr("saliency: %1 (%2)")
                .arg(saliencyLabel)
                .arg(QString::fromLatin1(normalization.data(), qsizetype(normalization.size())));
    c_.metrics->setPlainText(text);
}

QString MetricsReadout::text() const {
    return c_.metrics->toPlainText();
}

void MetricsReadout::copy() {
    // Ctrl+C in the readout with text selected copies the selection, as its tooltip promises (a
    // read-only text view does not claim the keys, so they arrive here).
    QPlainTextEdit* readout = c_.metrics;
    if (readout->hasFocus() && readout->textCursor().hasSelection()) {
        readout->copy();
        emit statusMessage(tr("Selection copied"), 3000);
        return;
    }
    QApplication::clipboard()->setText(readout->toPlainText());
    emit statusMessage(tr("Metrics copied"), 3000);
}

} // namespace attnsteer
