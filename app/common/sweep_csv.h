#pragma once
// The sweep as CSV, shared by the command line and the window (written with atomic_file.h).

#include "attnsteer/sweep.h"

#include <QByteArray>
#include <QString>

#include <vector>

namespace attnsteer {

/// The shortest text that reads back as the same double ("0.1", "1e-09", "inf", "nan").
QString exactNumber(double value);

/// The sweep as CSV: the header line
/// "lambda,entropy_reduction_pct_mean,entropy_reduction_pct_std,kl_mean,kl_std", then one line per
/// row with the numbers at full precision (exactNumber), every line ended by '\n'.
QByteArray sweepCsv(const std::vector<SweepRow>& rows);

} // namespace attnsteer
