#pragma once
// What the commands print: JSON documents, aligned text tables and CSV.

#include "attnsteer/grounding.h"
#include "attnsteer/metrics.h"
#include "attnsteer/profile.h"
#include "attnsteer/projection.h"
#include "attnsteer/sweep.h"
#include "attnsteer/workload.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <algorithm>
#include <span>
#include <string>
#include <vector>

namespace attnsteer::cli {

/// {"entropy_original", "entropy_steered", "entropy_reduction_pct", "kl", "heads": [{the same
/// four}...], "backend", "elapsed_ms"}. Doubles round-trip exactly; NaN and Inf become null.
/// METRICS are of WORKLOAD: the top level is the aggregate over its rows, "heads" one per head of
/// a layer (the mean over the layers chosen); when its source has more than one layer, "layers"
/// adds one object per chosen layer: {"layer": index in the file, the same keys but "backend"
/// and "elapsed_ms"}.
/// With GROUNDING (evaluateGrounding of the same lambda) every summary also has "vision_mass",
/// "target_mass_original", "target_mass_steered", "pointing_original", "pointing_steered",
/// "saliency_correlation" and "spatial_entropy" (null where not available). Every summary has
/// "saliency_expectation_original", "saliency_expectation_steered" and "rows_steered_fraction".
QByteArray metricsJson(const Metrics& metrics, const Workload& workload,
                       const Grounding* grounding = nullptr);

/// {"rows": [{one key per sweepColumns()}...], "backend": BACKEND}.
QByteArray sweepJson(std::span<const SweepRow> rows, const std::string& backend);

/// The sweep as an aligned table: lambda with 2 decimals, reductions with 4, KL with 6.
QString sweepTable(std::span<const SweepRow> rows);

/// {"lambda", "ranked_by", "heads": [{"layer", "head", one key per profileColumns()}...],
/// "ranking": [{"rank", "layer", "head", "value"}...] best first, "backend"}.
QByteArray profileJson(const Profile& profile, const std::string& backend);

/// The TOP best heads of PROFILE's ranking as an aligned table: rank, layer, head, the ranking's
/// column, then the grounding columns that are available.
QString profileTable(const Profile& profile, std::size_t top);

/// {"grid_h", "grid_w", "tokens", "resized_h", "resized_w", "saliency": [per vision token]}.
QByteArray projectionJson(const SaliencyProjection& projection, std::span<const double> saliency);

/// What attention-bench measured: medians over the repetitions.
struct AttentionBenchResult {
    int heads = 0, queries = 0, keys = 0, headDim = 0;
    bool causal = false;
    std::string dtype;    ///< "float32" or "bf16"
    double lambda = 0;    ///< of the steered run
    int repetitions = 0;  ///< timed runs of each variant
    int threads = 0;      ///< OpenMP threads used
    std::string backend;  ///< "cpu"
    double flops = 0;     ///< 4 H Q K d, halved when causal
    double plainMs = 0;   ///< median of the plain forward
    double steeredMs = 0; ///< median of the forward with the bias
    double gemmMs = 0;    ///< median of the GEMM of the same FLOP count
    std::vector<double> plainRunsMs, steeredRunsMs, gemmRunsMs; ///< every timed run, in order
    double overheadPct() const { return (steeredMs - plainMs) / plainMs * 100; }
    double attentionGflops() const { return flops / plainMs / 1e6; }
    double steeredGflops() const { return flops / steeredMs / 1e6; }
    double gemmGflops() const { return flops / gemmMs / 1e6; }
    /// The fastest run of each variant and their overhead: on a shared machine the run least
    /// disturbed by others, steadier than the medians when the load varies.
    double plainMinMs() const { return *std::min_element(plainRunsMs.begin(), plainRunsMs.end()); }
    double steeredMinMs() const {
        return *std::min_element(steeredRunsMs.begin(), steeredRunsMs.end());
    }
    double overheadMinPct() const { return (steeredMinMs() - plainMinMs()) / plainMinMs() * 100; }
};

/// {"plain_ms", "steered_ms", "overhead_pct", "attention_gflops", "gemm_gflops",
/// "steered_gflops", "gemm_ms", "attention_vs_gemm_pct", "flops", the sizes and options, and the
/// runs ("plain_runs_ms", ...), and "plain_min_ms", "steered_min_ms", "overhead_min_pct" from the
/// fastest runs}. On the device the GEMM keys are null (not measured).
QByteArray attentionBenchJson(const AttentionBenchResult& result);
/// The same as "label   value" lines.
QString attentionBenchText(const AttentionBenchResult& result);

/// Columns of text, each right-aligned to its widest cell, separated by two spaces.
QString alignedTable(const QStringList& header, const std::vector<QStringList>& rows);

/// "label   value" lines with the values in one column.
QString aligned(const std::vector<std::pair<QString, QString>>& lines);

} // namespace attnsteer::cli
