#include "output.h"

#include "sweep_csv.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonValue>

#include <algorithm>
#include <cmath>
#include <optional>

namespace attnsteer::cli {
namespace {

/// QJsonDocument writes doubles in their shortest round-trip form; it cannot write NaN or Inf.
QJsonValue jsonNumber(double value) {
    return std::isfinite(value) ? QJsonValue(value) : QJsonValue(QJsonValue::Null);
}

QJsonObject summaryObject(const MetricSummary& summary) {
    QJsonObject object;
    object.insert(QStringLiteral("entropy_original"), jsonNumber(summary.entropyOriginal));
    object.insert(QStringLiteral("entropy_steered"), jsonNumber(summary.entropySteered));
    object.insert(QStringLiteral("entropy_reduction_pct"), jsonNumber(summary.entropyReductionPct));
    object.insert(QStringLiteral("kl"), jsonNumber(summary.kl));
    object.insert(QStringLiteral("saliency_expectation_original"),
                  jsonNumber(summary.saliencyExpectationOriginal));
    object.insert(QStringLiteral("saliency_expectation_steered"),
                  jsonNumber(summary.saliencyExpectationSteered));
    object.insert(QStringLiteral("rows_steered_fraction"), jsonNumber(summary.rowsSteeredFraction));
    return object;
}

/// The grounding fields into OBJECT (null where not available).
void insertGrounding(QJsonObject& object, const GroundingSummary& g) {
    object.insert(QStringLiteral("vision_mass"), jsonNumber(g.visionMass));
    object.insert(QStringLiteral("target_mass_original"), jsonNumber(g.targetMassOriginal));
    object.insert(QStringLiteral("target_mass_steered"), jsonNumber(g.targetMassSteered));
    object.insert(QStringLiteral("pointing_original"), jsonNumber(g.pointingOriginal));
    object.insert(QStringLiteral("pointing_steered"), jsonNumber(g.pointingSteered));
    object.insert(QStringLiteral("saliency_correlation"), jsonNumber(g.saliencyCorrelation));
    object.insert(QStringLiteral("spatial_entropy"), jsonNumber(g.spatialEntropy));
}

/// The summary of METRICS with "heads", and GROUNDING's fields where given.
QJsonObject metricsObject(const Metrics& metrics, const LayeredGrounding::Part* grounding) {
    QJsonObject object = summaryObject(metrics.total);
    if (grounding)
        insertGrounding(object, grounding->total);
    QJsonArray heads;
    for (std::size_t h = 0; h < metrics.heads.size(); ++h) {
        QJsonObject head = summaryObject(metrics.heads[h]);
        if (grounding)
            insertGrounding(head, grounding->heads[h]);
        heads.append(head);
    }
    object.insert(QStringLiteral("heads"), heads);
    return object;
}

QByteArray jsonText(const QJsonObject& object) {
    return QJsonDocument(object).toJson(QJsonDocument::Indented);
}

QString fixed(double value, int decimals) {
    return QString::number(value, 'f', decimals);
}

} // namespace

QByteArray metricsJson(const Metrics& metrics, const Workload& workload,
                       const Grounding* grounding) {
    const LayeredMetrics layered =
        splitLayers(metrics, workload.layers(), workload.headsPerLayer());
    const std::optional<LayeredGrounding> layeredGrounding =
        grounding
            ? std::optional(splitLayers(*grounding, workload.layers(), workload.headsPerLayer()))
            : std::nullopt;
    QJsonObject object =
        metricsObject(layered.aggregate, grounding ? &layeredGrounding->aggregate : nullptr);
    if (workload.sourceLayers() > 1) {
        QJsonArray layers;
        for (std::size_t i = 0; i < layered.layers.size(); ++i) {
            QJsonObject layer = metricsObject(layered.layers[i],
                                              grounding ? &layeredGrounding->layers[i] : nullptr);
            layer.insert(QStringLiteral("layer"), workload.sourceLayer(int(i)));
            layers.append(layer);
        }
        object.insert(QStringLiteral("layers"), layers);
    }
    object.insert(QStringLiteral("backend"), QString::fromStdString(metrics.backend));
    object.insert(QStringLiteral("elapsed_ms"), jsonNumber(metrics.elapsedMs));
    return jsonText(object);
}

QByteArray sweepJson(std::span<const SweepRow> rows, const std::string& backend) {
    QJsonArray array;
    for (const SweepRow& row : rows) {
        QJsonObject object;
        for (const SweepColumn& column : sweepColumns())
            object.insert(QString::fromLatin1(column.name), jsonNumber(row.*column.value));
        array.append(object);
    }
    QJsonObject object;
    object.insert(QStringLiteral("rows"), array);
    object.insert(QStringLiteral("backend"), QString::fromStdString(backend));
    return jsonText(object);
}

QString sweepTable(std::span<const SweepRow> rows) {
    QStringList header = {QStringLiteral("lambda"), QStringLiteral("reduction % mean"),
                          QStringLiteral("std"),    QStringLiteral("KL mean"),
                          QStringLiteral("std"),    QStringLiteral("sum A's gain"),
                          QStringLiteral("std")};
    const bool target = !rows.empty() && !std::isnan(rows.front().targetMassGainMean);
    if (target)
        header << QStringLiteral("target mass") << QStringLiteral("gain") << QStringLiteral("std")
               << QStringLiteral("pointing") << QStringLiteral("gain") << QStringLiteral("std");
    std::vector<QStringList> cells;
    for (const SweepRow& row : rows) {
        QStringList line = {fixed(row.lambda, 2),
                            fixed(row.reductionMean, 4),
                            fixed(row.reductionStd, 4),
                            fixed(row.klMean, 6),
                            fixed(row.klStd, 6),
                            fixed(row.expectationGainMean, 6),
                            fixed(row.expectationGainStd, 6)};
        if (target)
            line << fixed(row.targetMassMean, 4) << fixed(row.targetMassGainMean, 4)
                 << fixed(row.targetMassGainStd, 4) << fixed(row.pointingMean, 4)
                 << fixed(row.pointingGainMean, 4) << fixed(row.pointingGainStd, 4);
        cells.push_back(line);
    }
    return alignedTable(header, cells);
}

QByteArray profileJson(const Profile& profile, const std::string& backend) {
    QJsonArray heads;
    for (const HeadProfile& head : profile.heads) {
        QJsonObject object;
        object.insert(QStringLiteral("layer"), head.layer);
        object.insert(QStringLiteral("head"), head.head);
        for (const ProfileColumn& column : profileColumns())
            object.insert(QString::fromLatin1(column.name.data(), qsizetype(column.name.size())),
                          jsonNumber(column.value(head)));
        heads.append(object);
    }
    const ProfileColumn& rankedBy = *findProfileColumn(profile.rankedBy);
    QJsonArray ranking;
    for (std::size_t i = 0; i < profile.ranking.size(); ++i) {
        const HeadProfile& head = profile.heads[profile.ranking[i]];
        QJsonObject object;
        object.insert(QStringLiteral("rank"), int(i + 1));
        object.insert(QStringLiteral("layer"), head.layer);
        object.insert(QStringLiteral("head"), head.head);
        object.insert(QStringLiteral("value"), jsonNumber(rankedBy.value(head)));
        ranking.append(object);
    }
    QJsonObject object;
    object.insert(QStringLiteral("lambda"), jsonNumber(profile.lambda));
    object.insert(QStringLiteral("ranked_by"),
                  QString::fromLatin1(rankedBy.name.data(), qsizetype(rankedBy.name.size())));
    object.insert(QStringLiteral("heads"), heads);
    object.insert(QStringLiteral("ranking"), ranking);
    object.insert(QStringLiteral("backend"), QString::fromStdString(backend));
    return jsonText(object);
}

QString profileTable(const Profile& profile, std::size_t top) {
    const ProfileColumn& rankedBy = *findProfileColumn(profile.rankedBy);
    const QString rankName =
        QString::fromLatin1(rankedBy.name.data(), qsizetype(rankedBy.name.size()));
    QStringList header = {QStringLiteral("rank"), QStringLiteral("layer"), QStringLiteral("head"),
                          rankName};
    const char* shownColumns[] = {"vision_mass",      "saliency_correlation", "spatial_entropy",
                                  "target_mass_gain", "pointing_gain",        "kl",
                                  "steerability"};
    std::vector<const ProfileColumn*> columns;
    for (const char* name : shownColumns)
        if (const ProfileColumn* column = findProfileColumn(name);
            column->name != rankedBy.name &&
            std::any_of(profile.heads.begin(), profile.heads.end(),
                        [&](const HeadProfile& h) { return !std::isnan(column->value(h)); })) {
            columns.push_back(column);
            header << QString::fromLatin1(column->name.data(), qsizetype(column->name.size()));
        }
    std::vector<QStringList> rows;
    for (std::size_t i = 0; i < std::min(top, profile.ranking.size()); ++i) {
        const HeadProfile& head = profile.heads[profile.ranking[i]];
        QStringList line = {QString::number(i + 1), QString::number(head.layer),
                            QString::number(head.head),
                            QString::number(rankedBy.value(head), 'g', 4)};
        for (const ProfileColumn* column : columns)
            line << QString::number(column->value(head), 'g', 4);
        rows.push_back(line);
    }
    return alignedTable(header, rows);
}

QByteArray projectionJson(const SaliencyProjection& projection, std::span<const double> saliency) {
    QJsonObject object;
    object.insert(QStringLiteral("grid_h"), projection.gridHeight);
    object.insert(QStringLiteral("grid_w"), projection.gridWidth);
    object.insert(QStringLiteral("tokens"), projection.tokenCount());
    if (projection.frames > 1)
        object.insert(QStringLiteral("frames"), projection.frames);
    object.insert(QStringLiteral("resized_h"), projection.resizedHeight);
    object.insert(QStringLiteral("resized_w"), projection.resizedWidth);
    QJsonArray values;
    for (double value : saliency)
        values.append(jsonNumber(value));
    object.insert(QStringLiteral("saliency"), values);
    return jsonText(object);
}

QString alignedTable(const QStringList& header, const std::vector<QStringList>& rows) {
    std::vector<qsizetype> widths(std::size_t(header.size()), 0);
    auto measure = [&](const QStringList& cells) {
        for (qsizetype i = 0; i < cells.size() && i < header.size(); ++i)
            widths[std::size_t(i)] = std::max(widths[std::size_t(i)], cells[i].size());
    };
    measure(header);
    for (const QStringList& row : rows)
        measure(row);
    auto line = [&](const QStringList& cells) {
        QString text;
        for (qsizetype i = 0; i < cells.size() && i < header.size(); ++i) {
            if (i)
                text += QStringLiteral("  ");
            text += cells[i].rightJustified(widths[std::size_t(i)]);
        }
        return text + QLatin1Char('\n');
    };
    QString text = line(header);
    for (const QStringList& row : rows)
        text += line(row);
    return text;
}

QString aligned(const std::vector<std::pair<QString, QString>>& lines) {
    qsizetype width = 0;
    for (const auto& [label, value] : lines)
        width = std::max(width, label.size());
    QString text;
    for (const auto& [label, value] : lines)
        text += label.leftJustified(width + 2) + value + QLatin1Char('\n');
    return text;
}

QByteArray attentionBenchJson(const AttentionBenchResult& r) {
    const auto runs = [](const std::vector<double>& values) {
        QJsonArray array;
        for (double value : values)
            array.append(jsonNumber(value));
        return array;
    };
    QJsonObject object;
    object.insert(QStringLiteral("plain_ms"), jsonNumber(r.plainMs));
    object.insert(QStringLiteral("steered_ms"), jsonNumber(r.steeredMs));
    object.insert(QStringLiteral("overhead_pct"), jsonNumber(r.overheadPct()));
    object.insert(QStringLiteral("attention_gflops"), jsonNumber(r.attentionGflops()));
    object.insert(QStringLiteral("steered_gflops"), jsonNumber(r.steeredGflops()));
    const bool gemm = r.gemmMs > 0;
    const QJsonValue null(QJsonValue::Null);
    object.insert(QStringLiteral("gemm_gflops"), gemm ? jsonNumber(r.gemmGflops()) : null);
    object.insert(QStringLiteral("gemm_ms"), gemm ? jsonNumber(r.gemmMs) : null);
    object.insert(QStringLiteral("attention_vs_gemm_pct"),
                  gemm ? jsonNumber(r.attentionGflops() / r.gemmGflops() * 100) : null);
    object.insert(QStringLiteral("flops"), jsonNumber(r.flops));
    object.insert(QStringLiteral("heads"), r.heads);
    object.insert(QStringLiteral("queries"), r.queries);
    object.insert(QStringLiteral("keys"), r.keys);
    object.insert(QStringLiteral("head_dim"), r.headDim);
    object.insert(QStringLiteral("causal"), r.causal);
    object.insert(QStringLiteral("dtype"), QString::fromStdString(r.dtype));
    object.insert(QStringLiteral("lambda"), jsonNumber(r.lambda));
    object.insert(QStringLiteral("repetitions"), r.repetitions);
    object.insert(QStringLiteral("threads"), r.threads);
    object.insert(QStringLiteral("backend"), QString::fromStdString(r.backend));
    object.insert(QStringLiteral("plain_min_ms"), jsonNumber(r.plainMinMs()));
    object.insert(QStringLiteral("steered_min_ms"), jsonNumber(r.steeredMinMs()));
    object.insert(QStringLiteral("overhead_min_pct"), jsonNumber(r.overheadMinPct()));
    object.insert(QStringLiteral("plain_runs_ms"), runs(r.plainRunsMs));
    object.insert(QStringLiteral("steered_runs_ms"), runs(r.steeredRunsMs));
    object.insert(QStringLiteral("gemm_runs_ms"), runs(r.gemmRunsMs));
    return jsonText(object);
}

QString attentionBenchText(const AttentionBenchResult& r) {
    const QString sizes = QStringLiteral("%1 heads x %2 queries x %3 keys, head dim %4%5, %6")
                              .arg(r.heads)
                              .arg(r.queries)
                              .arg(r.keys)
                              .arg(r.headDim)
                              .arg(r.causal ? QStringLiteral(", causal") : QString())
                              .arg(QString::fromStdString(r.dtype));
    std::vector<std::pair<QString, QString>> lines = {
        {QStringLiteral("workload"), sizes},
        {QStringLiteral("plain"), fixed(r.plainMs, 2) + QStringLiteral(" ms")},
        {QStringLiteral("steered"), fixed(r.steeredMs, 2) + QStringLiteral(" ms (lambda ") +
                                        QString::number(r.lambda) + QLatin1Char(')')},
        {QStringLiteral("overhead"), fixed(r.overheadPct(), 2) +
                                         QStringLiteral(" % (fastest runs: ") +
                                         fixed(r.overheadMinPct(), 2) + QStringLiteral(" %)")},
        {QStringLiteral("attention"), fixed(r.attentionGflops(), 1) + QStringLiteral(" GFLOP/s")},
    };
    if (r.gemmMs > 0)
        lines.push_back(
            {QStringLiteral("GEMM"), fixed(r.gemmGflops(), 1) + QStringLiteral(" GFLOP/s (") +
                                         fixed(r.attentionGflops() / r.gemmGflops() * 100, 1) +
                                         QStringLiteral(" % of it)")});
    lines.push_back({QStringLiteral("runs"),
                     r.backend == "cuda"
                         ? QStringLiteral("median of %1, kernel time by CUDA events, cuda backend")
                               .arg(r.repetitions)
                         : QStringLiteral("median of %1, %2 threads, %3 backend")
                               .arg(r.repetitions)
                               .arg(r.threads)
                               .arg(QString::fromStdString(r.backend))});
    return aligned(lines);
}

} // namespace attnsteer::cli
