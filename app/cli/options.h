#pragma once
// The command line: subcommand, options, and their values turned into a Scenario.

#include "figure.h"
#include "scenario.h"

#include "attnsteer/gpu.h"

#include <QSize>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnsteer::cli {

enum class Command { Metrics, Sweep, Project, Plot, Profile, AttentionBench };

/// attention-bench: the sizes of the fused attention forward and how it is timed.
struct AttentionBenchOptions {
    int heads = 28;         ///< --heads (Qwen2-VL-7B: 28 query heads)
    int queries = 2048;     ///< --queries
    int keys = 2048;        ///< --keys
    int headDim = 128;      ///< --head-dim
    bool causal = false;    ///< --causal
    bool bfloat16 = false;  ///< --dtype bf16 (else float32)
    int repetitions = 5;    ///< --repetitions: timed runs of each variant, after one warm-up
    double lambda = 0.25;   ///< --lambda: the bias is lambda * s
    std::uint64_t seed = 0; ///< --seed: the random Q, K, V and saliency
};

/// Everything one run needs, parsed and range-checked.
struct CliOptions {
    Command command = Command::Metrics;
    Scenario scenario;
    bool json = false;    ///< --json: one JSON object on stdout
    bool perHead = false; ///< --per-head: metrics adds a table per head
    std::vector<double> lambdas = defaultSweepLambdas(); ///< sweep grid (plot: 64 over 0..1)
    std::vector<std::uint64_t> seeds = {0, 1, 2}; ///< sweep seeds (plot: SEED, SEED+1, SEED+2)
    QString csvPath;                              ///< sweep, profile: also write this CSV file
    std::string rankBy = "grounding_score";       ///< profile: --rank-by
    int top = 10;                                 ///< profile: --top, heads printed
    bool force = false; ///< overwrite an existing --csv file or plot files
    gpu::BackendChoice backend = gpu::BackendChoice::Auto; ///< --backend
    // plot
    QString outDir; ///< --out: the folder of the four pictures
    /// --format, --figure-size, --dpi (or --width, --height in pixels at the dpi): 6 x 4 in at
    /// 200 dpi (1200 x 800 pixels) unless given.
    FigureSpec figure;
    int head = 0;                      ///< --head: the per-token row and the matrix
    int query = 0;                     ///< --query: the per-token row
    bool sortBySaliency = false;       ///< --sort-by-saliency
    bool perTokenRatio = false;        ///< --per-token ratio: A'/A in the order of s
    bool difference = false;           ///< --difference: the matrix shows A' - A
    std::vector<std::string> warnings; ///< options given but not used
    AttentionBenchOptions attention;   ///< attention-bench
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

/// ARGUMENT (a command-line argument's bytes) as a QString, losslessly: valid UTF-8 as such, any
/// other byte b as the lone surrogate U+DC00 + b (Python's "surrogateescape"), so that a file name
/// that is not UTF-8 still names its file.
QString argumentFromBytes(const char* argument);
/// The bytes of a QString made by argumentFromBytes (UTF-8, escaped bytes restored).
std::string argumentToBytes(const QString& argument);

} // namespace attnsteer::cli
