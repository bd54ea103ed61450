#include "metrics_readout.h"

#include "grounding_jobs.h"
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
#include <cmath>

namespace attnsteer {

namespace {

QString number(double value, int digits = 6) {
    return QString::number(value, 'g', digits);
}

QString fileName(const std::string& path) {
    return QFileInfo(QString::fromStdString(path)).fileName();
}

/// "n/a" for a value the inputs do not define (NaN).
QString maybe(double value, int digits = 5) {
    return std::isnan(value) ? QObject::tr("n/a") : number(value, digits);
}

/// What each line means, in a few words.
QString legend(bool grounding, bool target) {
    // Short lines: the readout is a narrow dock.
    QString text = QObject::tr("Σ A·s: saliency expectation, mean s under A\n"
                               "rows steered: got the bias, H(A)/log K ≥ τ");
    if (grounding)
        text += QObject::tr("\nvision mass: attention on the vision tokens\n"
                            "saliency r: Pearson r of mean image attn, s\n"
                            "spatial entropy: of above-mean regions' sizes");
    if (target)
        text += QObject::tr("\ntarget mass: share of image attention on T\n"
                            "pointing: rows whose image maximum is on T\n"
                            "A→A′: before → after steering");
    return text;
}

/// Says when HEAD is not steered in the layers evaluated, or only in some.
QString steeringNote(const Workload& workload, const SteeringParams& params, int head) {
    int steered = 0;
    for (int layer = 0; layer < workload.layers(); ++layer)
        steered += isUnitSteered(workload, params, workload.unitOf(layer, head)) ? 1 : 0;
    if (steered == workload.layers())
        return {};
    if (steered == 0)
        return QObject::tr("head %1: unsteered (A′ = A)").arg(head);
    return QObject::tr("head %1: steered in %2 of %3 layers")
        .arg(head)
        .arg(steered)
        .arg(workload.layers());
}

} // namespace

template <typename Line>
QString MetricsReadout::groundingLines(const DataSet& data, const EvaluationResult& evaluation,
                                       const GroundingResult* result, int head, Line line) {
    const Workload& workload = *data.workload;
    const GroundingKeys& keys = data.grounding;
    QString text;
    if (keys.hasVisionSpan())
        text += tr("vision tokens: %1 from key %2").arg(keys.visionCount).arg(keys.visionStart);
    else
        text += tr("vision tokens: all keys (no image grid)");
    if (keys.hasTarget()) {
        const auto targets = std::count(keys.target.begin(), keys.target.end(), 1);
        text += tr(", target: %1 tokens").arg(targets);
    }
    text += QLatin1Char('\n');
    const bool current = result && result->epoch == data.epoch &&
                         sameSteering(result->params, evaluation.request.params);
    GroundingSummary all, one;
    if (current) {
        const Grounding& g = result->grounding;
        all = g.total;
        const std::vector<GroundingSummary> heads =
            workload.layers() > 1
                ? splitLayers(g, workload.layers(), workload.headsPerLayer()).aggregate.heads
                : g.heads;
        one = heads[std::size_t(std::clamp(head, 0, int(heads.size()) - 1))];
    }
    const auto add = [&](const QString& label, double GroundingSummary::*field, double scale,
                         bool shown) {
        if (shown)
            text += line(label, current ? maybe(scale * (all.*field)) : tr("…"),
                         current ? maybe(scale * (one.*field)) : tr("…"));
    };
    const bool target = keys.hasTarget();
    // The task's figures first, before -> after steering: what the pointing game and the share
    // of image attention on the object do at this lambda.
    const auto change = [&](const QString& label, double GroundingSummary::*before,
                            double GroundingSummary::*after, double scale, int decimals) {
        const auto arrow = [&](const GroundingSummary& g) {
            if (!current)
                return tr("…");
            if (std::isnan(g.*before) || std::isnan(g.*after))
                return tr("n/a");
            return QStringLiteral("%1 → %2")
                .arg(scale * (g.*before), 0, 'f', decimals)
                .arg(scale * (g.*after), 0, 'f', decimals);
        };
        text += line(label, arrow(all), arrow(one));
    };
    if (target) {
        change(tr("pointing [%] A→A′"), &GroundingSummary::pointingOriginal,
               &GroundingSummary::pointingSteered, 100, 1);
        change(tr("target mass A→A′"), &GroundingSummary::targetMassOriginal,
               &GroundingSummary::targetMassSteered, 1, 3);
    }
    add(tr("vision mass Σ_V A"), &GroundingSummary::visionMass, 1, keys.hasVisionSpan());
    add(tr("target mass A"), &GroundingSummary::targetMassOriginal, 1, target);
    add(tr("target mass A′"), &GroundingSummary::targetMassSteered, 1, target);
    add(tr("pointing A [%]"), &GroundingSummary::pointingOriginal, 100, target);
    add(tr("pointing A′ [%]"), &GroundingSummary::pointingSteered, 100, target);
    add(tr("saliency r"), &GroundingSummary::saliencyCorrelation, 1, true);
    add(tr("spatial entropy"), &GroundingSummary::spatialEntropy, 1, keys.hasVisionSpan());
    return text;
}

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
                                    const GroundingResult* grounding, int head,
                                    const QString& steeredHeads, bool cancelled) {
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
    text += tr("λ = %1   ε = %2   gate τ: %3\nsteered heads: %4\n")
                .arg(p.lambda, 0, 'f', 3)
                .arg(number(p.eps))
                .arg(p.gateEntropy > 0 ? QString::number(p.gateEntropy, 'g', 3) : tr("off"))
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
    text += line(tr("Σ A·s (sal. exp.)"), number(m.total.saliencyExpectationOriginal, 6),
                 number(h.saliencyExpectationOriginal, 6));
    text += line(tr("Σ A′·s"), number(m.total.saliencyExpectationSteered, 6),
                 number(h.saliencyExpectationSteered, 6));
    text += line(tr("rows steered [%]"), number(100 * m.total.rowsSteeredFraction, 5),
                 number(100 * h.rowsSteeredFraction, 5));
    const bool groundingShown = GroundingJobs::hasGrounding(*data);
    if (groundingShown)
        text += groundingLines(*data, *evaluation, grounding, head, line);
    if (const QString note = steeringNote(workload, p, head); !note.isEmpty())
        text += note + QLatin1Char('\n');
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
    QString normalizationText =
        QString::fromLatin1(normalization.data(), qsizetype(normalization.size()));
    if (data->scenario.normalization == Normalization::Binary)
        normalizationText += QStringLiteral(" T = %1").arg(data->scenario.binaryThreshold);
    text += tr("saliency: %1 (%2)").arg(saliencyLabel, normalizationText);
    text += QLatin1Char('\n') + legend(groundingShown, data->grounding.hasTarget());
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
