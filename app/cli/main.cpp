// attnsteer-cli: steering metrics, lambda sweeps and saliency projection on the command line.
// Every bad input ends in one line "attnsteer-cli: error: MESSAGE" on stderr and exit code 2.

#include "commands.h"
#include "options.h"

#include "attnsteer/errors.h"

#include <QCoreApplication>

#include <clocale>
#include <cstdio>
#include <new>
#include <omp.h>
#include <stdexcept>

namespace {

constexpr int kUserError = 2;
constexpr int kInternalError = 1;

void printError(const std::string& message) {
    std::fprintf(stderr, "attnsteer-cli: error: %s\n", message.c_str());
}

/// Qt's own warnings (image plugins, ...) would add lines to the one-line errors; keep only the
/// serious ones.
void messageHandler(QtMsgType type, const QMessageLogContext&, const QString& message) {
    if (type == QtCriticalMsg || type == QtFatalMsg)
        std::fprintf(stderr, "attnsteer-cli: qt: %s\n", message.toLocal8Bit().constData());
}

int run(const QStringList& arguments) {
    using namespace attnsteer::cli;
    const attnsteer::cli::ParseOutcome parsed = parseCommandLine(arguments);
    if (!parsed.options)
        return parsed.exitCode;
    const CliOptions& options = *parsed.options;
    Warnings warnings = options.warnings;
    // --threads also bounds any OpenMP work that the core starts with OpenMP's default count.
    if (options.scenario.threads > 0)
        omp_set_num_threads(options.scenario.threads);
    switch (options.command) {
    case Command::Metrics:
        runMetrics(options, warnings);
        break;
    case Command::Sweep:
        runSweep(options, warnings);
        break;
    case Command::Project:
        runProject(options, warnings);
        break;
    case Command::Plot:
        throw attnsteer::InputError("plot", "not available in this build");
    }
    for (const std::string& warning : warnings)
        printWarning(warning);
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        printError("stdout: write failed");
        return kUserError;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    QCoreApplication::setOrganizationName(QStringLiteral("AttnSteer"));
    QCoreApplication::setApplicationName(QStringLiteral("attnsteer-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral(ATTNSTEER_VERSION));
    qInstallMessageHandler(messageHandler);
    QCoreApplication app(argc, argv);
    // QCoreApplication adopts the environment's locale; numbers are printed and read the C way.
    std::setlocale(LC_NUMERIC, "C");

    try {
        return run(QCoreApplication::arguments());
    } catch (const attnsteer::InputError& error) {
        printError(error.what());
        return kUserError;
    } catch (const attnsteer::Cancelled&) {
        printError("cancelled");
        return kUserError;
    } catch (const std::bad_alloc&) {
        printError("out of memory for " + attnsteer::cli::currentActivity());
        return kUserError;
    } catch (const std::length_error&) {
        printError("out of memory for " + attnsteer::cli::currentActivity());
        return kUserError;
    } catch (const std::exception& error) {
        printError(std::string("internal error: ") + error.what());
        return kInternalError;
    } catch (...) {
        printError("internal error: unknown exception");
        return kInternalError;
    }
}
