#pragma once
// How the command line and the window word an input error: each names the subject its own way.

#include "attnsteer/errors.h"

#include <QString>

#include <string>

namespace attnsteer {

/// An input error as a command line shows it: a setting as its option ("--eps: must be a finite
/// number >= 0"), a file by its path, anything else as its problem alone.
std::string commandLineMessage(const InputError& error);

/// An input error as the window shows it: "Vision offset: must be at least 0" for a setting (the
/// control's label; a setting without a control keeps its identifier), "/data/sal.npy: dtype is
/// <i4,
/// ..." for a file (its path), the problem alone otherwise.
QString windowMessage(const InputError& error);

/// The words the window shows for the setting NAME (the command line's option without dashes);
/// NAME itself for one it has no control for.
QString settingLabel(const std::string& name);

} // namespace attnsteer
