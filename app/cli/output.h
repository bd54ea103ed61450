#pragma once
// What the commands print: JSON documents, aligned text tables and CSV.

#include "attnsteer/metrics.h"
#include "attnsteer/projection.h"
#include "attnsteer/sweep.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <span>
#include <string>
#include <vector>

namespace attnsteer::cli {

/// {"entropy_original", "entropy_steered", "entropy_reduction_pct", "kl", "heads": [{the same
/// four}...], "backend", "elapsed_ms"}. Doubles round-trip exactly; NaN and Inf become null.
QByteArray metricsJson(const Metrics& metrics);

/// {"rows": [{"lambda", "entropy_reduction_pct_mean", "entropy_reduction_pct_std", "kl_mean",
/// "kl_std"}...], "backend": BACKEND}.
QByteArray sweepJson(std::span<const SweepRow> rows, const std::string& backend);

/// The sweep as an aligned table: lambda with 2 decimals, reductions with 4, KL with 6.
QString sweepTable(std::span<const SweepRow> rows);

/// {"grid_h", "grid_w", "tokens", "resized_h", "resized_w", "saliency": [per vision token]}.
QByteArray projectionJson(const SaliencyProjection& projection, std::span<const double> saliency);

/// Columns of text, each right-aligned to its widest cell, separated by two spaces.
QString alignedTable(const QStringList& header, const std::vector<QStringList>& rows);

/// "label   value" lines with the values in one column.
QString aligned(const std::vector<std::pair<QString, QString>>& lines);

} // namespace attnsteer::cli
