#include "commands.h"

#include "output.h"

#include "atomic_file.h"
#include "export_plots.h"
#include "scenario_plot_data.h"
#include "sweep_csv.h"

#include "attnsteer/errors.h"
#include "attnsteer/fallback_backend.h"
#include "attnsteer/gpu.h"

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QString>
#include <QtGlobal>

#include <cstdio>
#include <filesystem>
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

/// Sends what libraries write straight to stderr while it lives (libpng prints "libpng error:
/// ..." itself before Qt reports the failure) to /dev/null, so that an error stays one line.
/// ATTNSTEER_CLI_VERBOSE=1 in the environment keeps those messages.
class QuietStderr {
  public:
    QuietStderr() {
#ifdef ATTNSTEER_HAVE_POSIX_FDS
        if (qEnvironmentVariableIntValue("ATTNSTEER_CLI_VERBOSE"))
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

QString headsText(const std::vector<int>& heads) {
    if (heads.empty())
        return QStringLiteral("all");
    QStringList parts;
    for (int head : heads)
        parts << QString::number(head);
    return parts.join(QLatin1Char(','));
}

QString metricsText(const CliOptions& options, const PreparedScenario& prepared,
                    const Metrics& metrics) {
    const Workload& workload = prepared.workload;
    const SteeringParams& params = options.scenario.params;
    const QString source =
        QString::fromStdString(workloadLabel(options.scenario, PathStyle::FullPath));
    QString text = aligned({
        {QStringLiteral("workload"), QStringLiteral("%1 x %2 x %3 (heads x queries x keys), %4")
                                         .arg(workload.heads())
                                         .arg(workload.queries())
                                         .arg(workload.keys())
                                         .arg(source)},
        {QStringLiteral("saliency"),
         QStringLiteral("%1, normalized %2")
             .arg(QString::fromStdString(prepared.raw.label),
                  QString::fromLatin1(normalizationName(options.scenario.normalization)))},
        {QStringLiteral("lambda"), number(params.lambda)},
        {QStringLiteral("eps"), number(params.eps)},
        {QStringLiteral("steered heads"), headsText(params.steeredHeads)},
        {QStringLiteral("entropy original"), number(metrics.total.entropyOriginal)},
        {QStringLiteral("entropy steered"), number(metrics.total.entropySteered)},
        {QStringLiteral("entropy reduction"), number(metrics.total.entropyReductionPct) + " %"},
        {QStringLiteral("KL"), number(metrics.total.kl)},
        {QStringLiteral("backend"), QString::fromStdString(metrics.backend)},
        {QStringLiteral("elapsed"), QString::number(metrics.elapsedMs, 'f', 1) + " ms"},
    });
    if (options.perHead) {
        std::vector<QStringList> rows;
        for (std::size_t h = 0; h < metrics.heads.size(); ++h) {
            const MetricSummary& head = metrics.heads[h];
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
    const Metrics metrics =
        backend->evaluate(prepared.workload, prepared.saliency.values, options.scenario.params);

    setActivity("the output");
    if (options.json)
        writeOut(metricsJson(metrics));
    else
        writeOut(metricsText(options, prepared, metrics));
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
    if (scenario.hasWorkloadFile()) {
        setActivity(workloadActivity(scenario));
        keys = loadWorkload(scenario).keys();
    }
    setActivity("the image " + scenario.saliencyImagePath);
    const ImageSaliency image = [&] {
        QuietStderr quiet;
        return projectSaliencyImage(scenario.saliencyImagePath, scenario.projection, keys);
    }();
    const SaliencyProjection& projection = image.projection;
    // Normalized over the vision tokens alone: the text tokens play no part here.
    const RawSaliency raw{projection.tokens, projection, scenario.saliencyImagePath};
    const NormalizedSaliency saliency = normalizeRawSaliency(raw, scenario.normalization);
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
        {QStringLiteral("grid"), QStringLiteral("%1 x %2 = %3 vision tokens (rows x columns)")
                                     .arg(projection.gridHeight)
                                     .arg(projection.gridWidth)
                                     .arg(projection.tokenCount())},
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
        for (const QString& name : exportAllPlotsFileNames()) {
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
    const ExportResult result = exportAllPlots(data, dir, options.pixels, options.force);
    if (!result.ok)
        throw InputError(result.error.toStdString());
    QString text;
    for (const QString& file : result.files)
        text += shown(file) + QLatin1Char('\n');
    writeOut(text);
}

} // namespace attnsteer::cli
