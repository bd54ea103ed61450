#pragma once
// A head profile as CSV, shared by the command line and the window (written with atomic_file.h).

#include "attnsteer/profile.h"

#include <QByteArray>

namespace attnsteer {

/// The header "layer,head," then the profileColumns() names; one line per (layer, head) in
/// PROFILE's order, numbers at full precision (exactNumber; "nan" where not available), every
/// line ended by '\n'.
QByteArray profileCsv(const Profile& profile);

} // namespace attnsteer
