#include "commands.h"

#include "output.h"

#include "atomic_file.h"
#include "export_plots.h"
#include "profile_csv.h"
#include "scenario_plot_data.h"
#include "sweep_csv.h"

#include "attnsteer/attention.h"
#include "attnsteer/errors.h"
#include "attnsteer/fallback_backend.h"
#include "attnsteer/gpu.h"
#include "attnsteer/option_values.h"
#include "attnsteer/profile.h"

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QString>
#include <QtGlobal>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <span>
#include <system_error>
#if __has_include(<unistd.h>)
#include <fcntl.h>
#include <unistd.h>
#define ATTNSTEER_HAVE_POSIX_FDS 1
#endif

namespace attnsteer::cli {
namespace {

std::string activity = "starting";

void setActivity(std::string text) {
    activity = std::move(text);
}

void writeOut(const QByteArray& bytes) {
    std::fwrite(bytes.constData(), 1, std::size_t(bytes.size()), stdout);
}
void writeOut(const QString& text) {
    writeOut(text.toUtf8());
}

QString number(double value) {
    return QString::number(value, 'g', 10);
}

/// "the 32 x 1024 x 1024 workload (128.0 MiB of float32)" or "the workload in FILE".
std::string workloadActivity(const Scenario& scenario) {
    if (scenario.hasWorkloadFile())
        return "the workload in " +
               (scenario.logitsPath.empty() ? scenario.attentionPath : scenario.logitsPath);
    const WorkloadSpec& spec = scenario.spec;
    double size = double(spec.heads) * double(spec.queries) * double(spec.keys) * 4.0;
    const char* unit = "bytes";
    for (const char* larger : {"KiB", "MiB", "GiB", "TiB", "PiB"}) {
        if (size < 1024.0)
            break;
        size /= 1024.0;
        unit = larger;
    }
    char sizeText[64];
    std::snprintf(sizeText, sizeof sizeText, " (%.1f %s of float32)", size, unit);
    return "the " + std::to_string(spec.heads) + " x " + std::to_string(spec.queries) + " x " +
           std::to_string(spec.keys) + " workload" + sizeText;
}

/// Whether this process runs under AddressSanitizer (compiled in) or any sanitizer configured
/// through the environment.
bool underSanitizer() {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return true;
#endif
#endif
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "MSAN_OPTIONS"})
        if (qEnvironmentVariableIsSet(name))
            return true;
    return false;
}

/// Sends what libraries write straight to stderr while it lives (libpng prints "libpng error:
/// ..." itself before Qt reports the failure) to /dev/null, so that an error stays one line.
/// ATTNSTEER_CLI_VERBOSE=1 in the environment keeps those messages.
class QuietStderr {
  public:
    QuietStderr() {
#ifdef ATTNSTEER_HAVE_POSIX_FDS
        // Under a sanitizer its report must reach the terminal (it once was swallowed here).
        if (qEnvironmentVariableIntValue("ATTNSTEER_CLI_VERBOSE") || underSanitizer())
            return;
        std::fflush(stderr);
        const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null < 0)
            return;
        saved_ = ::dup(STDERR_FILENO);
        if (saved_ >= 0 && ::dup2(null, STDERR_FILENO) < 0) {
            ::close(saved_);
            saved_ = -1;
        }
        ::close(null);
#endif
    }
    ~QuietStderr() {
#ifdef ATTNSTEER_HAVE_POSIX_FDS
        if (saved_ < 0)
            return;
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
#endif
    }
    QuietStderr(const QuietStderr&) = delete;
    QuietStderr& operator=(const QuietStderr&) = delete;

  private:
    int saved_ = -1;
};

void addWarning(Messages& messages, const std::string& warning) {
    if (!warning.empty())
        messages.warnings.push_back(warning);
}

/// The backend of --backend. With auto, the CUDA backend falls back to the CPU when its device
/// fails (out of memory for this workload), with a notice; --backend cuda reports the failure.
/// Throws InputError about "backend" for --backend cuda without a device.
std::unique_ptr<Backend> chooseBackend(const CliOptions& options, Messages& messages) {
    const int threads = options.scenario.threads;
    gpu::BackendSelection selection = gpu::selectBackend(options.backend, threads);
    if (!selection.notice.empty())
        messages.notices.push_back(selection.notice);
    if (options.backend != gpu::BackendChoice::Auto || selection.backend->name() != "cuda")
        return std::move(selection.backend);
    return std::make_unique<FallbackBackend>(std::move(selection.backend), makeCpuBackend(threads),
                                             [&messages](const std::string& reason) {
                                                 messages.notices.push_back(
                                                     "cuda: " + reason + "; using the CPU backend");
                                             });
}

QString headsText(const SteeringParams& params) {
    return QString::fromStdString(steeredHeadsText(params.steeredHeads, params.steeredLayerHeads));
}

/// "none", "normalized entropy >= 0.5", "--gate FILE >= 2", or both.
QString gateText(const Scenario& scenario) {
    QStringList parts;
    if (scenario.params.gateEntropy > 0)
        parts << QStringLiteral("normalized entropy >= %1").arg(scenario.params.gateEntropy);
    if (!scenario.gatePath.empty())
        parts << QStringLiteral("%1 >= %2")
                     .arg(QString::fromStdString(scenario.gatePath))
                     .arg(scenario.gateThreshold);
    return parts.isEmpty() ? QStringLiteral("none") : parts.join(QStringLiteral(", "));
}

/// Whether the grounding metrics mean anything for PREPARED: a vision span or a target.
bool wantsGrounding(const PreparedScenario& prepared) {
    return prepared.grounding.hasVisionSpan() || prepared.grounding.hasTarget();
}

/// "0.4812" or "n/a".
QString available(double value) {
    return std::isnan(value) ? QStringLiteral("n/a") : QString::number(value, 'g', 6);
}

QString metricsText(const CliOptions& options, const PreparedScenario& prepared,
                    const Metrics& metrics, const Grounding* grounding) {
    const Workload& workload = prepared.workload;
    const SteeringParams& params = options.scenario.params;
    const QString source =
        QString::fromStdString(workloadLabel(options.scenario, PathStyle::FullPath));
    const bool layered = workload.sourceLayers() > 1;
    const QString shape =
        layered ? QStringLiteral("%1 x %2 x %3 x %4 (layers x heads x queries x keys), %5 of %6 "
                                 "layers, %7")
                      .arg(workload.layers())
                      .arg(workload.headsPerLayer())
                      .arg(workload.queries())
                      .arg(workload.keys())
                      .arg(workload.layers() == workload.sourceLayers()
                               ? QStringLiteral("all")
                               : QStringLiteral("layer %1").arg(workload.sourceLayer(0)))
                      .arg(workload.sourceLayers())
                      .arg(QString::fromStdString(workload.storedDtype()))
                : QStringLiteral("%1 x %2 x %3 (heads x queries x keys)")
                      .arg(workload.headsPerLayer())
                      .arg(workload.queries())
                      .arg(workload.keys());
    const LayeredMetrics split = splitLayers(metrics, workload.layers(), workload.headsPerLayer());
    std::vector<std::pair<QString, QString>> lines = {
        {QStringLiteral("workload"), shape + QStringLiteral(", ") + source},
        {QStringLiteral("saliency"),
         QStringLiteral("%1, normalized %2")
             .arg(QString::fromStdString(prepared.raw.label),
                  QString::fromLatin1(normalizationName(options.scenario.normalization)))},
        {QStringLiteral("lambda"), number(params.lambda)},
        {QStringLiteral("eps"), number(params.eps)},
        {QStringLiteral("steered heads"), headsText(params)},
        {QStringLiteral("gate"), gateText(options.scenario)},
        {QStringLiteral("entropy original"), number(metrics.total.entropyOriginal)},
        {QStringLiteral("entropy steered"), number(metrics.total.entropySteered)},
        {QStringLiteral("entropy reduction"), number(metrics.total.entropyReductionPct) + " %"},
        {QStringLiteral("KL"), number(metrics.total.kl)},
        {QStringLiteral("sum A s"), number(metrics.total.saliencyExpectationOriginal)},
        {QStringLiteral("sum A' s"), number(metrics.total.saliencyExpectationSteered)},
        {QStringLiteral("rows steered"), number(metrics.total.rowsSteeredFraction * 100) + " %"},
    };
    if (grounding) {
        const GroundingSummary& g = grounding->total;
        lines.push_back({QStringLiteral("vision mass"), available(g.visionMass)});
        lines.push_back({QStringLiteral("saliency correlation"),
                         available(g.saliencyCorrelation) + QStringLiteral(" (mean over heads)")});
        lines.push_back({QStringLiteral("spatial entropy"),
                         available(g.spatialEntropy) + QStringLiteral(" (mean over heads)")});
        if (prepared.grounding.hasTarget()) {
            lines.push_back({QStringLiteral("target mass"), available(g.targetMassOriginal) +
                                                                QStringLiteral(" -> ") +
                                                                available(g.targetMassSteered)});
            lines.push_back({QStringLiteral("pointing"), available(g.pointingOriginal) +
                                                             QStringLiteral(" -> ") +
                                                             available(g.pointingSteered)});
        }
    }
    lines.push_back({QStringLiteral("backend"), QString::fromStdString(metrics.backend)});
    lines.push_back(
        {QStringLiteral("elapsed"), QString::number(metrics.elapsedMs, 'f', 1) + " ms"});
    QString text = aligned(lines);
    if (layered) {
        std::vector<QStringList> rows;
        for (std::size_t l = 0; l < split.layers.size(); ++l) {
            const MetricSummary& layer = split.layers[l].total;
            rows.push_back({QString::number(workload.sourceLayer(int(l))),
                            number(layer.entropyOriginal), number(layer.entropySteered),
                            number(layer.entropyReductionPct), number(layer.kl)});
        }
        text += QLatin1Char('\n') +
                alignedTable({QStringLiteral("layer"), QStringLiteral("entropy original"),
                              QStringLiteral("entropy steered"), QStringLiteral("reduction %"),
                              QStringLiteral("KL")},
                             rows);
    }
    if (options.perHead) {
        std::vector<QStringList> rows;
        for (std::size_t h = 0; h < split.aggregate.heads.size(); ++h) {
            const MetricSummary& head = split.aggregate.heads[h];
            rows.push_back({QString::number(h), number(head.entropyOriginal),
                            number(head.entropySteered), number(head.entropyReductionPct),
                            number(head.kl)});
        }
        text += QLatin1Char('\n') +
                alignedTable({QStringLiteral("head"), QStringLiteral("entropy original"),
                              QStringLiteral("entropy steered"), QStringLiteral("reduction %"),
                              QStringLiteral("KL")},
                             rows);
    }
    return text;
}

bool pathExists(const std::string& path) {
    std::error_code error;
    return std::filesystem::exists(std::filesystem::symlink_status(path, error));
}

QString shown(const QString& path) {
    return QDir::toNativeSeparators(path);
}

} // namespace

const std::string& currentActivity() {
    return activity;
}

void printWarning(const std::string& text) {
    std::fprintf(stderr, "attnsteer-cli: warning: %s\n", text.c_str());
}

void printNotice(const std::string& text) {
    std::fprintf(stderr, "attnsteer-cli: notice: %s\n", text.c_str());
}

/// The workload and saliency of OPTIONS, with libpng's own stderr chatter silenced; the
/// saliency warning, if any, goes to MESSAGES.
PreparedScenario prepareQuietly(const CliOptions& options, Messages& messages) {
    setActivity(workloadActivity(options.scenario));
    PreparedScenario prepared = [&] {
        QuietStderr quiet;
        return prepareScenario(options.scenario);
    }();
    addWarning(messages, prepared.saliency.warning);
    return prepared;
}

void runMetrics(const CliOptions& options, Messages& messages) {
    setActivity("starting the backend");
    const auto backend = chooseBackend(options, messages);
    const PreparedScenario prepared = prepareQuietly(options, messages);

    setActivity("evaluating " + workloadActivity(options.scenario));
    RunControl oneOff;
    oneOff.oneOff = true; // one evaluation, then the process ends
    const Metrics metrics =
        backend->evaluate(prepared.workload, prepared.saliency.values, prepared.params, oneOff);
    // The grounding pass reads the rows once more: only where its metrics mean something.
    std::optional<Grounding> grounding;
    if (wantsGrounding(prepared)) {
        setActivity("the grounding metrics of " + workloadActivity(options.scenario));
        const double lambda = prepared.params.lambda;
        grounding =
            evaluateGrounding(prepared.workload, prepared.saliency.values, std::span(&lambda, 1),
                              prepared.params, prepared.grounding, options.scenario.threads)
                .front();
    }

    setActivity("the output");
    const Grounding* shownGrounding = grounding ? &*grounding : nullptr;
    if (options.json)
        writeOut(metricsJson(metrics, prepared.workload, shownGrounding));
    else
        writeOut(metricsText(options, prepared, metrics, shownGrounding));
}

void runProfile(const CliOptions& options, Messages& messages) {
    if (!options.csvPath.isEmpty() && !options.force && pathExists(options.csvPath.toStdString()))
        throw fileError(shown(options.csvPath).toStdString(), "exists; use --force to overwrite");
    setActivity("starting the backend");
    const auto backend = chooseBackend(options, messages);
    const PreparedScenario prepared = prepareQuietly(options, messages);
    setActivity("profiling " + workloadActivity(options.scenario));
    const Profile profile = profileHeads(
        prepared.workload, prepared.saliency.values, prepared.params, prepared.grounding, *backend,
        options.scenario.threads, findProfileColumn(options.rankBy));
    setActivity("the output");
    if (!options.csvPath.isEmpty()) {
        const QString error =
            writeFileAtomically(options.csvPath, profileCsv(profile), options.force);
        if (!error.isEmpty())
            throw InputError(error.toStdString());
    }
    if (options.json)
        writeOut(profileJson(profile, backend->name()));
    else
        writeOut(profileTable(profile, std::size_t(options.top)));
}

void runSweep(const CliOptions& options, Messages& messages) {
    // Refuse before the work, not after it.
    if (!options.csvPath.isEmpty() && !options.force && pathExists(options.csvPath.toStdString()))
        throw fileError(shown(options.csvPath).toStdString(), "exists; use --force to overwrite");

    setActivity("starting the backend");
    const auto backend = chooseBackend(options, messages);
    setActivity(workloadActivity(options.scenario));
    const PreparedSweep prepared = [&] {
        QuietStderr quiet;
        return prepareSweep(options.scenario, options.lambdas, options.seeds);
    }();
    addWarning(messages, prepared.warning);

    setActivity("sweeping " + workloadActivity(options.scenario));
    const std::vector<SweepRow> rows = attnsteer::runSweep(prepared.config(), *backend);
    const std::string backendName = backend->name();

    setActivity("the output");
    if (!options.csvPath.isEmpty()) {
        const QString error = writeFileAtomically(options.csvPath, sweepCsv(rows), options.force);
        if (!error.isEmpty())
            throw InputError(error.toStdString());
    }
    if (options.json)
        writeOut(sweepJson(rows, backendName));
    else
        writeOut(sweepTable(rows));
}

void runProject(const CliOptions& options, Messages& messages) {
    const Scenario& scenario = options.scenario;
    int keys = scenario.spec.keys;
    std::optional<DumpMeta> meta;
    if (scenario.hasWorkloadFile()) {
        setActivity(workloadActivity(scenario));
        const Workload workload = loadWorkload(scenario);
        keys = workload.keys();
        meta = loadDumpMeta(scenario, workload);
    } else if (!scenario.metaPath.empty()) {
        throw settingError("meta", "needs a dump (--logits or --attention)");
    }
    const ProjectionOptions projectionOptions =
        effectiveProjection(scenario, meta ? &*meta : nullptr);
    setActivity("the image " + scenario.saliencyImagePath);
    const ImageSaliency image = [&] {
        QuietStderr quiet;
        return projectSaliencyImage(scenario.saliencyImagePath, projectionOptions, keys);
    }();
    const SaliencyProjection& projection = image.projection;
    // Normalized over the vision tokens alone: the text tokens play no part here.
    const RawSaliency raw{projection.tokens, projection, scenario.saliencyImagePath, QImage()};
    const NormalizedSaliency saliency = normalizeRawSaliency(raw, scenario);
    addWarning(messages, saliency.warning);

    setActivity("the output");
    if (options.json) {
        writeOut(projectionJson(projection, saliency.values));
        return;
    }
    QString text = aligned({
        {QStringLiteral("image"), QStringLiteral("%1, %2 x %3 pixels (width x height)")
                                      .arg(QString::fromStdString(scenario.saliencyImagePath))
                                      .arg(image.imageWidth)
                                      .arg(image.imageHeight)},
        {QStringLiteral("resized"), QStringLiteral("%1 x %2 pixels (width x height)")
                                        .arg(projection.resizedWidth)
                                        .arg(projection.resizedHeight)},
        {QStringLiteral("grid"),
         (projection.frames > 1 ? QStringLiteral("%1 frames x ").arg(projection.frames)
                                : QString()) +
             QStringLiteral("%1 x %2 = %3 vision tokens (rows x columns)%4")
                 .arg(projection.gridHeight)
                 .arg(projection.gridWidth)
                 .arg(projection.tokenCount())
                 .arg(projectionOptions.grid.isSet() ? QStringLiteral(", the model's grid")
                                                     : QString())},
        {QStringLiteral("saliency"),
         QStringLiteral("per vision token, normalized %1, row by row:")
             .arg(QLatin1String(normalizationName(scenario.normalization)))},
    });
    for (int r = 0; r < projection.gridHeight; ++r) {
        QStringList cells;
        for (int c = 0; c < projection.gridWidth; ++c)
            cells << QString::number(
                         saliency.values[std::size_t(r) * std::size_t(projection.gridWidth) +
                                         std::size_t(c)],
                         'f', 4)
                         .rightJustified(7);
        text += QStringLiteral("  ") + cells.join(QLatin1Char(' ')) + QLatin1Char('\n');
    }
    writeOut(text);
}

void runPlot(const CliOptions& options, Messages& messages) {
    // Where the pictures go, checked before the work: an existing folder, or one that can be made
    // in an existing parent; the files must not exist unless --force.
    const QFileInfo outInfo(options.outDir);
    const QString dir = outInfo.absoluteFilePath();
    const std::string dirName = shown(options.outDir).toStdString();
    if (outInfo.exists() && !outInfo.isDir())
        throw fileError(dirName, "exists and is not a folder");
    const bool create = !outInfo.exists();
    if (create && !QFileInfo(outInfo.absolutePath()).isDir())
        throw fileError(dirName,
                        "cannot create the folder: " + shown(outInfo.absolutePath()).toStdString() +
                            " does not exist");
    if (!options.force && !create)
        for (const QString& name : exportAllPlotsFileNames(options.figure.format)) {
            const QString file = QDir(dir).filePath(name);
            if (pathExists(file.toStdString()))
                throw fileError(shown(file).toStdString(), "exists; use --force to overwrite");
        }

    setActivity("starting the backend");
    const auto backend = chooseBackend(options, messages);
    const PreparedScenario prepared = prepareQuietly(options, messages);

    setActivity("the plots of " + workloadActivity(options.scenario));
    PlotRequest request;
    request.head = options.head;
    request.query = options.query;
    request.sweepLambdas = options.lambdas;
    request.sweepSeeds = options.seeds;
    request.sortBySaliency = options.sortBySaliency;
    request.perTokenMode =
        options.perTokenRatio ? PerTokenMode::RatioBySaliency : PerTokenMode::Values;
    request.difference = options.difference;
    std::vector<std::string> plotWarnings;
    const PlotData data = buildPlotData(options.scenario, prepared, *backend,
                                        options.scenario.params, request, &plotWarnings);
    for (const std::string& warning : plotWarnings)
        addWarning(messages, warning);

    setActivity("drawing the plots");
    if (create) {
        std::error_code error;
        std::filesystem::create_directory(QFile::encodeName(dir).toStdString(), error);
        if (error)
            throw fileError(dirName, "cannot create the folder: " + error.message());
    }
    const ExportResult result = exportAllPlots(data, dir, options.figure, options.force);
    if (!result.ok)
        throw InputError(result.error.toStdString());
    QString text;
    for (const QString& file : result.files)
        text += shown(file) + QLatin1Char('\n');
    writeOut(text);
}

namespace {

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<float> normalValues(std::size_t count, std::uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::normal_distribution<float> normal;
    std::vector<float> values(count);
    for (float& x : values)
        x = normal(generator);
    return values;
}

template <typename F> double timedMs(F&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

} // namespace

void runAttentionBench(const CliOptions& options, Messages& messages) {
    const AttentionBenchOptions& a = options.attention;
    // The device runs float32 only: bf16 inputs stay on the CPU (auto says so, cuda refuses).
    bool onDevice = false;
    if (options.backend == gpu::BackendChoice::Cuda) {
        if (a.bfloat16)
            throw settingError("dtype", "bf16 runs on the CPU backend only");
        onDevice = true; // without a device timeAttention throws the usual InputError
    } else if (options.backend == gpu::BackendChoice::Auto) {
        if (!gpu::isAvailable())
            messages.notices.push_back("no CUDA device (" + gpu::unavailableReason() +
                                       "); using the CPU backend");
        else if (a.bfloat16)
            messages.notices.push_back("bf16 runs on the CPU backend only; using it");
        else
            onDevice = true;
    }

    attention::AttentionParams params;
    params.heads = a.heads, params.queries = a.queries, params.keys = a.keys;
    params.headDim = a.headDim, params.causal = a.causal, params.lambda = float(a.lambda);
    params.threads = options.scenario.threads;
    const std::size_t queryValues =
        std::size_t(a.heads) * std::size_t(a.queries) * std::size_t(a.headDim);
    const std::size_t keyValues =
        std::size_t(a.heads) * std::size_t(a.keys) * std::size_t(a.headDim);

    setActivity("the attention inputs (" + std::to_string(2 * queryValues + 2 * keyValues) +
                " float32 values)");
    std::vector<float> q = normalValues(queryValues, a.seed * 4 + 0);
    std::vector<float> k = normalValues(keyValues, a.seed * 4 + 1);
    std::vector<float> v = normalValues(keyValues, a.seed * 4 + 2);
    std::vector<float> saliency = normalValues(std::size_t(a.keys), a.seed * 4 + 3);
    float top = 0;
    for (float& s : saliency)
        top = std::max(top, s = std::abs(s));
    for (float& s : saliency)
        s = top > 0 ? s / top : 0.0f; // s = |x| / max |x|, the default saliency
    std::vector<float> out(queryValues);
    std::vector<std::uint16_t> qb, kb, vb;
    if (a.bfloat16) {
        for (auto [from, to] : {std::pair{&q, &qb}, std::pair{&k, &kb}, std::pair{&v, &vb}}) {
            to->resize(from->size());
            std::transform(from->begin(), from->end(), to->begin(), attention::toBFloat16);
            std::vector<float>().swap(*from);
        }
    }
    const auto forward = [&](bool steered) {
        const std::span<const float> bias =
            steered ? std::span<const float>(saliency) : std::span<const float>();
        if (a.bfloat16)
            attention::forward(params, std::span<const std::uint16_t>(qb), kb, vb, bias, out);
        else
            attention::forward(params, std::span<const float>(q), k, v, bias, out);
    };

    if (onDevice) {
        setActivity("the attention forward on the device");
        try {
            const gpu::AttentionRuns runs =
                gpu::timeAttention(params, q, k, v, saliency, out, a.repetitions);
            AttentionBenchResult result;
            result.flops =
                4.0 * a.heads * double(a.queries) * a.keys * a.headDim / (a.causal ? 2 : 1);
            result.plainRunsMs = runs.plainMs;
            result.steeredRunsMs = runs.steeredMs;
            result.plainMs = median(runs.plainMs);
            result.steeredMs = median(runs.steeredMs);
            result.heads = a.heads, result.queries = a.queries, result.keys = a.keys;
            result.headDim = a.headDim, result.causal = a.causal, result.dtype = "float32";
            result.lambda = a.lambda, result.repetitions = a.repetitions;
            result.backend = "cuda";
            setActivity("the output");
            writeOut(options.json ? attentionBenchJson(result)
                                  : attentionBenchText(result).toUtf8());
            return;
        } catch (const DeviceError& error) {
            if (options.backend == gpu::BackendChoice::Cuda)
                throw;
            messages.notices.push_back(std::string("cuda: ") + error.what() +
                                       "; using the CPU backend");
        }
    }

    // The GEMM of the same FLOP count: C (Q x K) = A (Q x 2Hd) B (2Hd x K), 4 H Q K d operations
    // (inner dimension H d when causal, for half).
    AttentionBenchResult result;
    result.flops = 4.0 * a.heads * double(a.queries) * a.keys * a.headDim / (a.causal ? 2 : 1);
    setActivity("the GEMM matrices");
    attention::GemmTimer gemm(a.queries, a.keys, (a.causal ? 1 : 2) * a.heads * a.headDim,
                              options.scenario.threads);

    setActivity("the attention forward");
    forward(false); // warm-up: pages, caches, OpenMP's threads
    forward(true);
    gemm.runMs();
    // Interleaved, the order alternating, so that machine noise hits every variant alike.
    for (int r = 0; r < a.repetitions; ++r) {
        if (r % 2 == 0) {
            result.plainRunsMs.push_back(timedMs([&] { forward(false); }));
            result.steeredRunsMs.push_back(timedMs([&] { forward(true); }));
        } else {
            result.steeredRunsMs.push_back(timedMs([&] { forward(true); }));
            result.plainRunsMs.push_back(timedMs([&] { forward(false); }));
        }
        result.gemmRunsMs.push_back(gemm.runMs());
    }
    result.plainMs = median(result.plainRunsMs);
    result.steeredMs = median(result.steeredRunsMs);
    result.gemmMs = median(result.gemmRunsMs);
    result.heads = a.heads, result.queries = a.queries, result.keys = a.keys;
    result.headDim = a.headDim, result.causal = a.causal;
    result.dtype = a.bfloat16 ? "bf16" : "float32";
    result.lambda = a.lambda, result.repetitions = a.repetitions;
    result.threads =
        options.scenario.threads > 0 ? options.scenario.threads : omp_get_max_threads();
    result.backend = "cpu";

    setActivity("the output");
    if (options.json)
        writeOut(attentionBenchJson(result));
    else
        writeOut(attentionBenchText(result));
}

} // namespace attnsteer::cli
