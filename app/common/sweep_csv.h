#pragma once
// The sweep as CSV, shared by the command line and the window (written with atomic_file.h).

#include "attnsteer/sweep.h"

#include <QByteArray>
#include <QString>

#include <span>
#include <vector>

namespace attnsteer {

/// The shortest text that reads back as the same double ("0.1", "1e-09", "inf", "nan").
QString exactNumber(double value);

/// A column of the sweep's CSV and JSON.
struct SweepColumn {
    const char* name;
    double SweepRow::*value;
};

/// lambda, entropy_reduction_pct_mean, entropy_reduction_pct_std, kl_mean, kl_std,
/// saliency_expectation_gain_mean, _std, target_mass_gain_mean, _std, pointing_gain_mean, _std,
/// target_mass_mean, _std, pointing_mean, _std (the steered values at each lambda; these last
/// eight NaN without a target).
std::span<const SweepColumn> sweepColumns();

/// The sweep as CSV: a header line of the sweepColumns() names, then one line per row with the
/// numbers at full precision (exactNumber; "nan" where a column is not available), every line
/// ended by '\n'.
QByteArray sweepCsv(const std::vector<SweepRow>& rows);

} // namespace attnsteer
