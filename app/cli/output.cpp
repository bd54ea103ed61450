#include "output.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonValue>

#include <algorithm>
#include <cmath>

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
    return object;
}

QByteArray jsonText(const QJsonObject& object) {
    return QJsonDocument(object).toJson(QJsonDocument::Indented);
}

QString fixed(double value, int decimals) {
    return QString::number(value, 'f', decimals);
}

} // namespace

QByteArray metricsJson(const Metrics& metrics) {
    QJsonObject object = summaryObject(metrics.total);
    QJsonArray heads;
    for (const MetricSummary& head : metrics.heads)
        heads.append(summaryObject(head));
    object.insert(QStringLiteral("heads"), heads);
    object.insert(QStringLiteral("backend"), QString::fromStdString(metrics.backend));
    object.insert(QStringLiteral("elapsed_ms"), jsonNumber(metrics.elapsedMs));
    return jsonText(object);
}

QByteArray sweepJson(std::span<const SweepRow> rows, const std::string& backend) {
    QJsonArray array;
    for (const SweepRow& row : rows) {
        QJsonObject object;
        object.insert(QStringLiteral("lambda"), jsonNumber(row.lambda));
        object.insert(QStringLiteral("entropy_reduction_pct_mean"), jsonNumber(row.reductionMean));
        object.insert(QStringLiteral("entropy_reduction_pct_std"), jsonNumber(row.reductionStd));
        object.insert(QStringLiteral("kl_mean"), jsonNumber(row.klMean));
        object.insert(QStringLiteral("kl_std"), jsonNumber(row.klStd));
        array.append(object);
    }
    QJsonObject object;
    object.insert(QStringLiteral("rows"), array);
    object.insert(QStringLiteral("backend"), QString::fromStdString(backend));
    return jsonText(object);
}

QString sweepTable(std::span<const SweepRow> rows) {
    const QStringList header = {QStringLiteral("lambda"), QStringLiteral("reduction % mean"),
                                QStringLiteral("std"), QStringLiteral("KL mean"),
                                QStringLiteral("std")};
    std::vector<QStringList> cells;
    for (const SweepRow& row : rows)
        cells.push_back({fixed(row.lambda, 2), fixed(row.reductionMean, 4),
                         fixed(row.reductionStd, 4), fixed(row.klMean, 6), fixed(row.klStd, 6)});
    return alignedTable(header, cells);
}

QByteArray projectionJson(const SaliencyProjection& projection, std::span<const double> saliency) {
    QJsonObject object;
    object.insert(QStringLiteral("grid_h"), projection.gridHeight);
    object.insert(QStringLiteral("grid_w"), projection.gridWidth);
    object.insert(QStringLiteral("tokens"), projection.tokenCount());
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

} // namespace attnsteer::cli
