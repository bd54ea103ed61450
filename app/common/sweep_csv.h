#pragma once
// Writing results to files, shared by the command line and the window: the sweep as CSV, and
// files written under a temporary name and renamed into place.

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

/// Writes BYTES to PATH so that PATH is either complete or untouched: the bytes go to a temporary
/// file in PATH's folder (".NAME.XXXXXX"), which is then renamed to PATH (mode 0644). Unless
/// OVERWRITE, an existing PATH is left alone, also one that appears while the bytes are written
/// (the final step is a hard link, which fails on an existing name, where the file system has
/// them). Returns an empty string on success, else one line "PATH: problem": "exists and was not
/// overwritten", "is a folder", "cannot write file: folder DIR does not exist", "cannot write
/// file: <reason>". The temporary file never stays behind.
QString writeFileAtomically(const QString& path, const QByteArray& bytes, bool overwrite);

} // namespace attnsteer
