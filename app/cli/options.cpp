#include "options.h"

#include "scenario_plot_data.h"

#include "attnsteer/errors.h"
#include "attnsteer/option_values.h"
#include "attnsteer/profile.h"

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QCoreApplication>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

namespace attnsteer::cli {
namespace {

/// The commands an option belongs to, as bits.
enum : unsigned {
    kMetrics = 1,
    kSweep = 2,
    kProject = 4,
    kPlot = 8,
    kAttention = 16,
    kProfile = 32
};
/// The commands about steering's effect on attention rows (the workload and saliency options).
constexpr unsigned kAllCommands = kMetrics | kSweep | kProject | kPlot | kProfile;
/// The commands that steer a workload.
constexpr unsigned kSteering = kMetrics | kSweep | kPlot | kProfile;
constexpr unsigned kEveryCommand = kAllCommands | kAttention;

constexpr int kIntMax = std::numeric_limits<int>::max();
/// OpenMP starts each thread with its own stack: 100000 of them overflowed libgomp's. 256 is
/// far more than any machine this runs on has cores.
constexpr int kMaxThreads = 256;

struct OptionSpec {
    const char* name;
    const char* valueName; ///< nullptr for a flag
    const char* description;
    unsigned commands;
};

// Defaults are stated in the descriptions and not given to QCommandLineParser, so that isSet()
// tells what the user typed. An option may have several entries with different descriptions for
// different commands; the first entry of a name that belongs to the command is shown.
const OptionSpec kOptions[] = {
    // The workload.
    {"heads", "H", "Attention heads (default 32).", kSteering},
    {"queries", "Q", "Query tokens per head (default 1024).", kSteering},
    {"keys", "K", "Key tokens (default 1024).", kAllCommands},
    {"logit-std", "SIGMA", "Standard deviation of the random logits (default 0.1).", kSteering},
    {"seed", "N", "Seed of the random logits and saliency (default 0).",
     kMetrics | kPlot | kProfile},
    {"logits", "FILE",
     "Logits dump (.npy, .npz or .safetensors; [Q,K], [H,Q,K], [L,H,Q,K] or one array per "
     "layer; float16, bfloat16, float32, float64; -inf = masked) instead of random logits.",
     kAllCommands},
    {"attention", "FILE",
     "Attention probabilities dump (the same containers and shapes) instead of random logits.",
     kAllCommands},
    {"layer", "N",
     "Layer of the dump: 0-based, negative counts from the end (-1 = last), or all (default "
     "all).",
     kSteering},
    {"meta", "FILE",
     "The dump's sidecar JSON (tokens, vision_start, image_grid_thw; default DUMP.json beside "
     "the dump, when present).",
     kAllCommands},
    // The transformer workload (issue 13; transformer_block.h, README "The transformer workload").
    {"workload", "KIND",
     "random (the write-up's random logits; default) or transformer (a simulated attention "
     "block with a planted target object; --image-grid and --vision-offset place its image).",
     kMetrics | kSweep | kPlot},
    {"head-dim", "D", "Transformer: head dimension, even, 8..1024 (default 128).",
     kMetrics | kSweep | kPlot},
    {"target-strength", "TAU",
     "Transformer: what the target adds to the logits of image-focused heads' text queries, in "
     "nats, 0..100 (default 1.25).",
     kMetrics | kSweep | kPlot},
    {"saliency-quality", "Q",
     "Transformer: quality of the simulated vision saliency, 0 (unrelated noise) to 1 (the "
     "exact object) (default 0.8).",
     kMetrics | kSweep | kPlot},
    {"saliency-blur", "SIGMA",
     "Transformer: Gaussian blur of the simulated saliency in grid tokens, 0..100 (default 0).",
     kMetrics | kSweep | kPlot},
    // The saliency.
    {"saliency", "FILE", "Raw saliency .npy of shape [K] instead of the random one.", kSteering},
    {"saliency-image", "FILE",
     "Saliency map image (PNG, JPEG, TIFF...; luminance 0..1), projected onto the vision tokens.",
     kAllCommands},
    {"normalize", "MODE",
     "Saliency normalization: max, minmax, zscore, none, or binary:T (s = 1 where the min-max "
     "normalized saliency is >= T, else 0; PASTA's emphasis) (default max).",
     kAllCommands},
    {"vision-offset", "N",
     "Key index of the first vision token (default the sidecar's vision_start, else 0).",
     kSteering},
    {"image-grid", "ROWSxCOLS",
     "The model's vision-token grid, e.g. 24x24: the saliency map is averaged over its boxes "
     "(default the sidecar's grid, else one derived from the image's size).",
     kAllCommands},
    {"patch-factor", "F", "Patch size x spatial merge, pixels per token side (default 28).",
     kAllCommands},
    {"min-pixels", "P", "Smallest resized image area (default 3136).", kAllCommands},
    {"max-pixels", "P", "Largest resized image area (default keys x patch-factor^2).",
     kAllCommands},
    {"text-saliency", "V", "Raw saliency of the keys that are not vision tokens (default 0).",
     kSteering},
    // Steering.
    {"lambda", "L", "Steering strength (default 0.25).", kMetrics | kPlot | kProfile},
    {"eps", "E", "Added to the attention before the log (default 1e-9).", kSteering},
    {"steer-heads", "LIST",
     "Heads to steer: \"0,3,5\", \"FIRST:LAST\" (in every layer) or \"L5H3\" (head 3 of layer 5), "
     "comma-separated (default all).",
     kSteering},
    {"gate-entropy", "TAU",
     "Uncertainty gating: steer only rows whose normalized entropy H(A)/log K is >= TAU, 0..1 "
     "(default 0: every row).",
     kSteering},
    {"gate", "FILE",
     "Your own uncertainty per query, a [Q] .npy: steer only queries whose value is >= "
     "--gate-threshold.",
     kSteering},
    {"gate-threshold", "T", "The threshold of --gate (required with it).", kSteering},
    // The grounding target.
    {"target", "FILE", "Target tokens, a [K] .npy: nonzero = a token of the object.", kSteering},
    {"target-mask", "FILE",
     "Target mask image, projected like --saliency-image; tokens whose mean is >= 0.5 are the "
     "object.",
     kSteering},
    // The profile.
    {"rank-by", "COLUMN",
     "Profile column that ranks the heads (default grounding_score; see README for the columns).",
     kProfile},
    {"top", "N", "Heads of the ranking to print (default 10; --json and --csv have all).",
     kProfile},
    // The sweep (plot: the tradeoff curve).
    {"lambdas", "LIST", "Lambdas: \"0,0.1,0.5\" or START:STOP:STEP (default the write-up's grid).",
     kSweep},
    {"lambdas", "LIST",
     "Lambdas of the tradeoff curve: \"0,0.1,0.5\" or START:STOP:STEP (default 64 evenly spaced "
     "from 0 to 1).",
     kPlot},
    {"seeds", "LIST", "Seeds: \"0,1,2\" or FIRST:LAST (default 0,1,2).", kSweep},
    {"seeds", "LIST",
     "Seeds of the tradeoff curve: \"0,1,2\" or FIRST:LAST (default SEED, SEED+1, SEED+2).", kPlot},
    {"csv", "FILE", "Also write the rows to FILE as CSV, full precision.", kSweep | kProfile},
    {"force", nullptr, "Overwrite an existing --csv file.", kSweep | kProfile},
    // The plots.
    {"out", "DIR",
     "Folder for per_token, tradeoff, saliency and matrix .png/.pdf/.svg (created when its "
     "parent exists).",
     kPlot},
    {"format", "FORMAT", "png, pdf or svg (default png).", kPlot},
    {"figure-size", "WxH",
     "Figure size in inches, e.g. 3.5x2.5 for one column (default 6x4). Fonts and lines are in "
     "points: PNG pixels = inches x dpi, PDF page = inches x 72 pt.",
     kPlot},
    {"dpi", "N", "PNG resolution, pixels per inch, 10..2400 (default 200).", kPlot},
    {"width", "W",
     "Picture width in pixels instead of --figure-size (width / dpi inches), 16..20000, at most "
     "25 megapixels in all (default 1200).",
     kPlot},
    {"height", "H", "Picture height in pixels, 16..20000 (default 800).", kPlot},
    {"force", nullptr, "Overwrite existing picture files.", kPlot},
    {"head", "N", "Head of the per-token row and of the matrix (default 0).", kPlot},
    {"query", "N", "Query of the per-token row (default 0).", kPlot},
    {"sort-by-saliency", nullptr, "Per-token plot: order the tokens by saliency.", kPlot},
    {"per-token", "MODE",
     "Per-token plot: values (A, A' and s over the keys) or ratio (A'/A against the keys in the "
     "order of s, the window's opening view) (default values).",
     kPlot},
    {"difference", nullptr, "Matrix: show A' - A instead of A'.", kPlot},
    // The fused attention forward (attention-bench).
    {"heads", "H", "Attention heads (default 28, a Qwen2-VL-7B layer).", kAttention},
    {"queries", "Q", "Query tokens per head (default 2048).", kAttention},
    {"keys", "K", "Key tokens per head (default 2048).", kAttention},
    {"head-dim", "D", "Head dimension (default 128).", kAttention},
    {"causal", nullptr, "Causal mask: query q sees the keys up to q + K - Q (needs Q <= K).",
     kAttention},
    {"dtype", "TYPE", "Q, K, V as float32 or bf16 (default float32; accumulation in float32).",
     kAttention},
    {"repetitions", "N", "Timed runs of each variant, after one warm-up (default 5).", kAttention},
    {"lambda", "L", "Steering strength of the steered run (default 0.25).", kAttention},
    {"seed", "N", "Seed of the random Q, K, V and saliency (default 0).", kAttention},
    // Output and resources.
    {"json", nullptr, "Print one JSON object instead of text.",
     kMetrics | kSweep | kProject | kAttention | kProfile},
    {"per-head", nullptr, "Also print a table per head.", kMetrics},
    {"backend", "NAME",
     "cpu, cuda or auto (default auto: CUDA when a device is available, else the CPU).",
     kSteering | kAttention},
    {"threads", "N", "CPU threads, 0..256 (default 0 = all cores).", kSteering | kAttention},
};

/// The commands that an option NAME belongs to, over all its entries.
unsigned commandsOf(const char* name) {
    unsigned commands = 0;
    for (const OptionSpec& spec : kOptions)
        if (std::strcmp(spec.name, name) == 0)
            commands |= spec.commands;
    return commands;
}

struct CommandSpec {
    Command command;
    const char* name;
    unsigned bit;
    const char* summary;
};

const CommandSpec kCommands[] = {
    {Command::Metrics, "metrics", kMetrics, "entropy and KL of steering one workload"},
    {Command::Sweep, "sweep", kSweep, "the metrics over a lambda grid and several seeds"},
    {Command::Project, "project", kProject,
     "the vision-token saliency that a saliency image projects to"},
    {Command::Plot, "plot", kPlot,
     "the four views as PNG, PDF or SVG figures: per-token row, tradeoff curve, saliency grid, "
     "matrix"},
    {Command::Profile, "profile", kProfile,
     "every (layer, head): grounding metrics, steerability and a ranking of the heads to steer"},
    {Command::AttentionBench, "attention-bench", kAttention,
     "times a fused attention forward plain and with the steering bias"},
};

const char* const kExpectedCommands =
    "expected metrics, sweep, project, plot, profile or attention-bench";

const CommandSpec* findCommand(const QString& name) {
    for (const CommandSpec& spec : kCommands)
        if (name == QLatin1String(spec.name))
            return &spec;
    return nullptr;
}

/// A parser that knows the options of the commands in MASK.
void configure(QCommandLineParser& parser, unsigned mask) {
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    parser.addHelpOption();
    parser.addVersionOption();
    QStringList added;
    for (const OptionSpec& spec : kOptions) {
        const QString name = QString::fromLatin1(spec.name);
        if (!(spec.commands & mask) || added.contains(name))
            continue;
        added << name;
        QCommandLineOption option(name, QString::fromUtf8(spec.description));
        if (spec.valueName)
            option.setValueName(QString::fromLatin1(spec.valueName));
        parser.addOption(option);
    }
}

/// Qt starts the usage line with the program's path as typed; show its name.
QString withProgramName(QString help) {
    const QString usage = QStringLiteral("Usage: ");
    if (help.startsWith(usage)) {
        const qsizetype end = help.indexOf(QStringLiteral(" [options]"));
        if (end > 0)
            help.replace(usage.size(), end - usage.size(), QStringLiteral("attnsteer-cli"));
    }
    return help;
}

QString generalHelp() {
    QCommandLineParser parser;
    QString description = QStringLiteral("Cross-modal attention steering lab on the command "
                                         "line.\n\nCommands:\n");
    for (const CommandSpec& spec : kCommands)
        description += QStringLiteral("  %1  %2\n")
                           .arg(QString::fromLatin1(spec.name), -15)
                           .arg(QString::fromLatin1(spec.summary));
    description += QStringLiteral("\nRun 'attnsteer-cli COMMAND --help' for the options of one "
                                  "command. Errors exit with code 2.");
    parser.setApplicationDescription(description);
    configure(parser, kEveryCommand);
    parser.addPositionalArgument(
        QStringLiteral("command"),
        QStringLiteral("metrics, sweep, project, plot, profile or attention-bench."));
    return withProgramName(parser.helpText());
}

QString commandHelp(const CommandSpec& command) {
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("attnsteer-cli %1: %2.")
                                         .arg(QString::fromLatin1(command.name))
                                         .arg(QString::fromLatin1(command.summary)));
    configure(parser, command.bit);
    parser.addPositionalArgument(QString::fromLatin1(command.name), QString(),
                                 QString::fromLatin1(command.name));
    return withProgramName(parser.helpText());
}

void print(FILE* stream, const QString& text) {
    const QByteArray bytes = text.toUtf8();
    std::fwrite(bytes.constData(), 1, std::size_t(bytes.size()), stream);
}

/// Qt's "Unknown option 'x'." in the form of our other messages: "unknown option 'x'".
std::string plainMessage(QString text) {
    if (text.endsWith(QLatin1Char('.')))
        text.chop(1);
    if (!text.isEmpty())
        text[0] = text[0].toLower();
    return text.toStdString();
}

/// Reads the option values of PARSER into OPTIONS.
class ValueReader {
  public:
    explicit ValueReader(const QCommandLineParser& parser) : parser_(parser) {}

    bool isSet(const char* name) const { return parser_.isSet(QString::fromLatin1(name)); }
    std::string text(const char* name) const {
        return parser_.value(QString::fromLatin1(name)).toStdString();
    }
    static std::string option(const char* name) { return std::string("--") + name; }

    template <typename T>
    void wholeNumber(const char* name, T& target, std::int64_t min,
                     std::int64_t max = kIntMax) const {
        if (isSet(name))
            target = T(parseWholeNumber(text(name), name, min, max));
    }
    void realNumber(const char* name, double& target,
                    double min = -std::numeric_limits<double>::infinity()) const {
        if (isSet(name))
            target = parseRealNumber(text(name), name, min);
    }
    void path(const char* name, std::string& target) const {
        if (!isSet(name))
            return;
        target = argumentToBytes(parser_.value(QString::fromLatin1(name)));
        if (target.empty())
            throw settingError(name, "needs a file name");
    }

  private:
    const QCommandLineParser& parser_;
};

void readBackend(const ValueReader& in, CliOptions& out) {
    if (in.isSet("backend")) {
        const std::string name = in.text("backend");
        const auto choice = gpu::parseBackendChoice(name);
        if (!choice)
            throw settingError("backend", "'" + name + "' is not one of cpu, cuda, auto");
        out.backend = *choice;
    }
}

void readAttentionOptions(const ValueReader& in, CliOptions& out) {
    AttentionBenchOptions& a = out.attention;
    in.wholeNumber("heads", a.heads, 1);
    in.wholeNumber("queries", a.queries, 1);
    in.wholeNumber("keys", a.keys, 1);
    in.wholeNumber("head-dim", a.headDim, 1);
    a.causal = in.isSet("causal");
    if (in.isSet("dtype")) {
        const std::string type = in.text("dtype");
        if (type != "float32" && type != "bf16")
            throw settingError("dtype", "'" + type + "' is not one of float32, bf16");
        a.bfloat16 = type == "bf16";
    }
    if (a.causal && a.queries > a.keys)
        throw settingError("queries", "must not exceed the keys (" + std::to_string(a.keys) +
                                          ") with --causal");
    in.wholeNumber("repetitions", a.repetitions, 1, 1000);
    in.realNumber("lambda", a.lambda);
    if (in.isSet("seed"))
        a.seed = parseUnsigned(in.text("seed"), "seed");
    readBackend(in, out);
    out.json = in.isSet("json");
    in.wholeNumber("threads", out.scenario.threads, 0, kMaxThreads);
}

/// --workload and the transformer's options (issue 13), checked as the core checks them, once
/// everything else is read (the sizes, --image-grid and --vision-offset belong to its layout).
void readTransformerOptions(const ValueReader& in, CliOptions& out) {
    Scenario& scenario = out.scenario;
    if (in.isSet("workload")) {
        const std::string kind = in.text("workload");
        if (kind != "random" && kind != "transformer")
            throw settingError("workload", "'" + kind + "' is not one of random, transformer");
        scenario.spec.kind =
            kind == "transformer" ? WorkloadKind::Transformer : WorkloadKind::Random;
    }
    // Ranges are the core's (transformerLayout below), in its words.
    in.wholeNumber("head-dim", scenario.spec.transformer.headDim, -kIntMax);
    in.realNumber("target-strength", scenario.spec.transformer.targetStrength);
    in.realNumber("saliency-quality", scenario.simulatedSaliency.quality);
    in.realNumber("saliency-blur", scenario.simulatedSaliency.blur);
    checkScenario(scenario); // --workload transformer with a dump
    if (!scenario.isTransformer()) {
        for (const char* name :
             {"head-dim", "target-strength", "saliency-quality", "saliency-blur"})
            if (in.isSet(name))
                out.warnings.push_back(ValueReader::option(name) +
                                       ": ignored; only the transformer workload uses it");
        return;
    }
    transformerLayout(generatedSpec(scenario));
    checkSimulatedSaliency(scenario.simulatedSaliency);
    if (in.isSet("logit-std"))
        out.warnings.push_back("--logit-std: ignored by the transformer workload");
    if (scenario.hasFixedSaliency())
        for (const char* name : {"saliency-quality", "saliency-blur"})
            if (in.isSet(name))
                out.warnings.push_back(ValueReader::option(name) +
                                       ": ignored; the saliency comes from " +
                                       (scenario.saliencyPath.empty() ? scenario.saliencyImagePath
                                                                      : scenario.saliencyPath));
}

void readOptions(const ValueReader& in, CliOptions& out) {
    if (out.command == Command::AttentionBench)
        return readAttentionOptions(in, out);
    Scenario& scenario = out.scenario;
    WorkloadSpec& spec = scenario.spec;
    in.path("logits", scenario.logitsPath);
    in.path("attention", scenario.attentionPath);
    in.path("saliency", scenario.saliencyPath);
    in.path("saliency-image", scenario.saliencyImagePath);
    in.path("meta", scenario.metaPath);
    checkScenario(scenario);
    if (in.isSet("layer"))
        scenario.layer = parseLayerChoice(in.text("layer"));

    in.wholeNumber("heads", spec.heads, 1);
    in.wholeNumber("queries", spec.queries, 1);
    in.wholeNumber("keys", spec.keys, 1);
    in.realNumber("logit-std", spec.logitStd, 0.0);
    if (in.isSet("seed"))
        spec.seed = parseUnsigned(in.text("seed"), "seed");
    if (scenario.hasWorkloadFile()) {
        const std::string& file =
            scenario.logitsPath.empty() ? scenario.attentionPath : scenario.logitsPath;
        for (const char* name : {"heads", "queries", "keys", "logit-std"})
            if (in.isSet(name))
                out.warnings.push_back(ValueReader::option(name) +
                                       ": ignored; the workload comes from " + file);
    }

    if (in.isSet("normalize")) {
        const std::string mode = in.text("normalize");
        const auto normalization = parseNormalization(mode, &scenario.binaryThreshold);
        if (!normalization)
            throw settingError("normalize", "'" + mode +
                                                "' is not one of max, minmax, zscore, none, "
                                                "binary:T (T in 0..1)");
        scenario.normalization = *normalization;
    }

    ProjectionOptions& projection = scenario.projection;
    in.wholeNumber("vision-offset", projection.visionOffset, 0);
    scenario.visionOffsetGiven = in.isSet("vision-offset");
    if (in.isSet("image-grid"))
        projection.grid = parseImageGrid(in.text("image-grid"));
    in.wholeNumber("patch-factor", projection.patchFactor, 1);
    in.wholeNumber("min-pixels", projection.minPixels, 0, std::numeric_limits<std::int64_t>::max());
    in.wholeNumber("max-pixels", projection.maxPixels, 1, std::numeric_limits<std::int64_t>::max());
    in.realNumber("text-saliency", projection.textSaliency);

    SteeringParams& params = scenario.params;
    in.realNumber("lambda", params.lambda);
    in.realNumber("eps", params.eps, 0.0);
    if (in.isSet("steer-heads")) {
        SteeredHeadList heads = parseSteeredHeads(in.text("steer-heads"));
        params.steeredHeads = std::move(heads.heads);
        params.steeredLayerHeads = std::move(heads.layerHeads);
    }
    in.realNumber("gate-entropy", params.gateEntropy, 0.0);
    if (params.gateEntropy > 1)
        throw settingError("gate-entropy", "must be a number in 0..1");
    in.path("gate", scenario.gatePath);
    if (!scenario.gatePath.empty() && !in.isSet("gate-threshold"))
        throw settingError("gate", "needs --gate-threshold");
    if (in.isSet("gate-threshold") && scenario.gatePath.empty())
        throw settingError("gate-threshold", "needs --gate");
    in.realNumber("gate-threshold", scenario.gateThreshold);
    in.path("target", scenario.targetPath);
    in.path("target-mask", scenario.targetMaskPath);
    checkScenario(scenario);
    if (in.isSet("rank-by")) {
        const std::string name = in.text("rank-by");
        if (!findProfileColumn(name)) {
            std::string names;
            for (const ProfileColumn& column : profileColumns())
                names += (names.empty() ? "" : ", ") + std::string(column.name);
            throw settingError("rank-by", "'" + name + "' is not one of " + names);
        }
        out.rankBy = name;
    }
    in.wholeNumber("top", out.top, 1);

    if (out.command == Command::Plot) {
        // The tradeoff curve: a fine grid, and the seeds from the workload's own on.
        out.lambdas = evenLambdaGrid();
        out.seeds = {spec.seed, spec.seed + 1, spec.seed + 2};
    }
    if (in.isSet("lambdas"))
        out.lambdas = parseLambdaList(in.text("lambdas"));
    if (in.isSet("seeds"))
        out.seeds = parseSeedList(in.text("seeds"));
    if (in.isSet("csv")) {
        std::string csv;
        in.path("csv", csv);
        out.csvPath = QString::fromStdString(csv);
    }
    out.force = in.isSet("force");
    if (out.force && out.command == Command::Sweep && out.csvPath.isEmpty())
        out.warnings.push_back("--force: ignored without --csv");

    if (in.isSet("out")) {
        std::string dir;
        in.path("out", dir);
        out.outDir = QString::fromStdString(dir);
    }
    FigureSpec& figure = out.figure;
    if (in.isSet("format")) {
        const std::optional<FigureFormat> format =
            parseFigureFormat(QString::fromStdString(in.text("format")));
        if (!format)
            throw settingError("format", "'" + in.text("format") + "' is not png, pdf or svg");
        figure.format = *format;
    }
    in.realNumber("dpi", figure.dpi, kMinFigureDpi);
    if (figure.dpi > kMaxFigureDpi)
        throw settingError("dpi",
                           in.text("dpi") + " is more than " + std::to_string(int(kMaxFigureDpi)));
    if (in.isSet("figure-size")) {
        if (in.isSet("width") || in.isSet("height"))
            throw settingError(in.isSet("width") ? "width" : "height",
                               "cannot be combined with --figure-size (inches)");
        const std::optional<QSizeF> inches =
            parseFigureSize(QString::fromStdString(in.text("figure-size")));
        if (!inches)
            throw settingError("figure-size", "'" + in.text("figure-size") +
                                                  "' is not WIDTHxHEIGHT in inches, e.g. 3.5x2.5");
        figure.inches = *inches;
        const QString problem = figureSpecProblem(figure);
        if (!problem.isEmpty())
            throw settingError("figure-size", problem.toStdString());
    }
    if (in.isSet("dpi") && figure.format != FigureFormat::Png)
        out.warnings.push_back("--dpi: ignored for " +
                               figureExtension(figure.format).toStdString() + " (vector)");
    const QSize defaultPixels = figure.pixels();
    int width = defaultPixels.width(), height = defaultPixels.height();
    in.wholeNumber("width", width, 16, 20000);
    in.wholeNumber("height", height, 16, 20000);
    // 20000 x 20000 took 101 s and 4.7 GB; 25 megapixels (5000 x 5000) is a poster at 300 dpi.
    constexpr long long kMaxPicturePixels = 25'000'000;
    if ((in.isSet("width") || in.isSet("height")) && (long long)width * height > kMaxPicturePixels)
        throw settingError(in.isSet("width") ? "width" : "height",
                           std::to_string(width) + " x " + std::to_string(height) + " = " +
                               std::to_string((long long)width * height) +
                               " pixels, more than the limit of 25000000");
    if (in.isSet("width") || in.isSet("height")) {
        figure.inches = QSizeF(width / figure.dpi, height / figure.dpi);
        const QString problem = figureSpecProblem(figure);
        if (!problem.isEmpty())
            throw settingError(in.isSet("width") ? "width" : "height", problem.toStdString());
    }
    if (in.isSet("dpi") && !in.isSet("figure-size") && !in.isSet("width") && !in.isSet("height") &&
        figure.format == FigureFormat::Png) {
        // --dpi alone keeps the figure's inches; a problem (too many pixels) is its own.
        const QString problem = figureSpecProblem(figure);
        if (!problem.isEmpty())
            throw settingError("dpi", problem.toStdString());
    }
    in.wholeNumber("head", out.head, 0);
    in.wholeNumber("query", out.query, 0);
    out.sortBySaliency = in.isSet("sort-by-saliency");
    if (in.isSet("per-token")) {
        const std::string mode = in.text("per-token");
        if (mode != "values" && mode != "ratio")
            throw settingError("per-token", "'" + mode + "' is not values or ratio");
        out.perTokenRatio = mode == "ratio";
    }
    out.difference = in.isSet("difference");

    readBackend(in, out);
    out.json = in.isSet("json");
    out.perHead = in.isSet("per-head");
    in.wholeNumber("threads", scenario.threads, 0, kMaxThreads);
    readTransformerOptions(in, out);
}

} // namespace

QString commandName(Command command) {
    for (const CommandSpec& spec : kCommands)
        if (spec.command == command)
            return QString::fromLatin1(spec.name);
    return {};
}

ParseOutcome parseCommandLine(const QStringList& arguments) {
    QCommandLineParser parser;
    configure(parser, kEveryCommand);
    if (!parser.parse(arguments))
        throw InputError(plainMessage(parser.errorText()));

    if (parser.isSet(QStringLiteral("version"))) {
        print(stdout, QCoreApplication::applicationName() + QLatin1Char(' ') +
                          QCoreApplication::applicationVersion() + QLatin1Char('\n'));
        return {std::nullopt, 0};
    }
    const QStringList positional = parser.positionalArguments();
    const CommandSpec* command = nullptr;
    if (!positional.isEmpty()) {
        command = findCommand(positional.first());
        if (!command)
            throw InputError("unknown command '" + positional.first().toStdString() + "' (" +
                             kExpectedCommands + ")");
    }
    if (parser.isSet(QStringLiteral("help"))) {
        print(stdout, command && command->bit ? commandHelp(*command) : generalHelp());
        return {std::nullopt, 0};
    }
    if (!command) {
        print(stderr, generalHelp());
        print(stderr, QStringLiteral("attnsteer-cli: error: no command given (%1)\n")
                          .arg(QLatin1String(kExpectedCommands)));
        return {std::nullopt, 2};
    }
    if (positional.size() > 1)
        throw InputError("unexpected argument '" + positional[1].toStdString() + "'");
    for (const OptionSpec& spec : kOptions)
        if (!(commandsOf(spec.name) & command->bit) && parser.isSet(QString::fromLatin1(spec.name)))
            throw settingError(spec.name,
                               std::string("not used by the ") + command->name + " command");

    CliOptions options;
    options.command = command->command;
    readOptions(ValueReader(parser), options);
    if (options.command == Command::Project && options.scenario.saliencyImagePath.empty())
        throw InputError("project: needs --saliency-image FILE");
    if (options.command == Command::Plot && options.outDir.isEmpty())
        throw InputError("plot: needs --out DIR");
    return {std::move(options), 0};
}

QString argumentFromBytes(const char* argument) {
    const std::string_view bytes(argument);
    QString text;
    std::size_t i = 0;
    while (i < bytes.size()) {
        // The length of a valid UTF-8 sequence at I, or 0.
        const auto byte = [&](std::size_t at) { return std::uint8_t(bytes[at]); };
        const std::uint8_t lead = byte(i);
        std::size_t length = lead < 0x80                   ? 1
                             : lead >= 0xc2 && lead < 0xe0 ? 2
                             : lead >= 0xe0 && lead < 0xf0 ? 3
                             : lead >= 0xf0 && lead < 0xf5 ? 4
                                                           : 0;
        for (std::size_t k = 1; k < length; ++k)
            if (i + k >= bytes.size() || (byte(i + k) & 0xc0) != 0x80)
                length = 0;
        if (length > 0) {
            const QString decoded = QString::fromUtf8(bytes.data() + i, qsizetype(length));
            // Overlong forms and surrogates decode to U+FFFD: escape those bytes too.
            if (!decoded.contains(QChar(0xfffd)) ||
                (length == 3 && byte(i) == 0xef && byte(i + 1) == 0xbf && byte(i + 2) == 0xbd)) {
                text += decoded;
                i += length;
                continue;
            }
        }
        text += QChar(char16_t(0xdc00 + lead));
        ++i;
    }
    return text;
}

std::string argumentToBytes(const QString& argument) {
    std::string bytes;
    QString run; // characters to encode as UTF-8
    const auto flush = [&] {
        bytes += run.toStdString();
        run.clear();
    };
    for (qsizetype i = 0; i < argument.size(); ++i) {
        const char16_t unit = argument[i].unicode();
        const bool escaped =
            unit >= 0xdc80 && unit <= 0xdcff && (i == 0 || !argument[i - 1].isHighSurrogate());
        if (escaped) {
            flush();
            bytes += char(unit - 0xdc00);
        } else {
            run += argument[i];
        }
    }
    flush();
    return bytes;
}

} // namespace attnsteer::cli
