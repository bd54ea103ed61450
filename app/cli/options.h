#pragma once
// The command line: subcommand, options, and their values turned into a Scenario.

#include "scenario.h"

#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnsteer::cli {

enum class Command { Metrics, Sweep, Project, Plot };

/// Everything one run needs, parsed and range-checked.
struct CliOptions {
    Command command = Command::Metrics;
    Scenario scenario;
    bool json = false;    ///< --json: one JSON object on stdout
    bool perHead = false; ///< --per-head: metrics adds a table per head
    std::vector<double> lambdas = defaultSweepLambdas(); ///< sweep grid
    std::vector<std::uint64_t> seeds = {0, 1, 2};        ///< sweep seeds
    QString csvPath;                                     ///< sweep: also write this CSV file
    bool force = false;                                  ///< overwrite an existing --csv file
    std::vector<std::string> warnings;                   ///< options given but not used
};

/// Either options to run, or an exit code when parsing already did everything (help, version,
/// no command).
struct ParseOutcome {
    std::optional<CliOptions> options;
    int exitCode = 0;
};

/// Parses ARGUMENTS (the program name first). Prints help and version itself. Throws InputError
/// for every bad input, with a message that names the option first.
ParseOutcome parseCommandLine(const QStringList& arguments);

/// "metrics", "sweep", ...
QString commandName(Command command);

} // namespace attnsteer::cli
