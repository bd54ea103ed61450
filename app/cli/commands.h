#pragma once
// The subcommands. Each writes its result to stdout, adds notices and warnings to MESSAGES
// (printed by the caller once the command has succeeded, so that an error stays the only line on
// stderr) and throws InputError for bad input.

#include "options.h"

#include <string>
#include <vector>

namespace attnsteer::cli {

/// What the program is doing right now, for "out of memory for ..." messages.
const std::string& currentActivity();

/// What a command has to say on stderr besides its result.
struct Messages {
    std::vector<std::string> notices;  ///< "attnsteer-cli: notice: ..." (backend fallback)
    std::vector<std::string> warnings; ///< "attnsteer-cli: warning: ..."
};

void runMetrics(const CliOptions& options, Messages& messages);
void runSweep(const CliOptions& options, Messages& messages);
void runProject(const CliOptions& options, Messages& messages);
/// profile: every (layer, head) at --lambda, ranked; text (the top heads), --json, --csv.
void runProfile(const CliOptions& options, Messages& messages);
/// Times the fused attention forward plain and steered, interleaved, and a GEMM of the same
/// FLOP count (attnsteer/attention.h).
void runAttentionBench(const CliOptions& options, Messages& messages);
/// Needs a QApplication (the views are widgets, drawn offscreen).
void runPlot(const CliOptions& options, Messages& messages);

/// "attnsteer-cli: warning: TEXT" on stderr.
void printWarning(const std::string& text);

/// "attnsteer-cli: notice: TEXT" on stderr.
void printNotice(const std::string& text);

} // namespace attnsteer::cli
