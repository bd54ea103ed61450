#pragma once
// The subcommands. Each writes its result to stdout, adds warnings to WARNINGS (printed by the
// caller once the command has succeeded, so that an error stays the only line on stderr) and
// throws InputError for bad input.

#include "options.h"

#include <string>
#include <vector>

namespace attnsteer::cli {

/// What the program is doing right now, for "out of memory for ..." messages.
const std::string& currentActivity();

using Warnings = std::vector<std::string>;

void runMetrics(const CliOptions& options, Warnings& warnings);
void runSweep(const CliOptions& options, Warnings& warnings);
void runProject(const CliOptions& options, Warnings& warnings);

/// "attnsteer-cli: warning: TEXT" on stderr.
void printWarning(const std::string& text);

} // namespace attnsteer::cli
