// attnsteer-cli: steering metrics, lambda sweeps, saliency projection and plots on the command
// line. Every bad input ends in one line "attnsteer-cli: error: MESSAGE" on stderr and exit code 2.

#include "atomic_file.h"
#include "commands.h"
#include "error_text.h"
#include "options.h"

#include "attnsteer/errors.h"

#include <QApplication>
#include <QByteArray>
#include <QCoreApplication>

#include <clocale>
#include <cstdio>
#include <memory>
#include <new>
#include <omp.h>
#include <stdexcept>

namespace {

constexpr int kUserError = 2;
constexpr int kInternalError = 1;

/// One line, whatever the message holds: a newline or other control character in a file name
/// (or a problem quoting one) is shown as '?', and a message of thousands of characters is cut.
void printError(std::string message) {
    constexpr std::size_t kMaxLength = 2000;
    if (message.size() > kMaxLength)
        message = message.substr(0, kMaxLength) + "...";
    for (char& c : message)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    std::fprintf(stderr, "attnsteer-cli: error: %s\n", message.c_str());
}

/// Qt's own warnings (image plugins, ...) would add lines to the one-line errors; keep only the
/// serious ones.
void messageHandler(QtMsgType type, const QMessageLogContext&, const QString& message) {
    if (type == QtCriticalMsg || type == QtFatalMsg)
        std::fprintf(stderr, "attnsteer-cli: qt: %s\n", message.toLocal8Bit().constData());
}

/// The application object: widgets (drawn offscreen) for plot, none for the other commands.
/// ARGC must outlive it.
std::unique_ptr<QCoreApplication> makeApplication(attnsteer::cli::Command command, int& argc,
                                                  char** argv) {
    if (command != attnsteer::cli::Command::Plot)
        return std::make_unique<QCoreApplication>(argc, argv);
    // The pictures do not depend on a display (its DPI, its fonts) and need none: the offscreen
    // platform, unless the user named one.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", QByteArrayLiteral("offscreen"));
    return std::make_unique<QApplication>(argc, argv);
}

int run(const attnsteer::cli::CliOptions& options) {
    using namespace attnsteer::cli;
    Messages messages;
    messages.warnings = options.warnings;
    // --threads also bounds any OpenMP work that the core starts with OpenMP's default count.
    if (options.scenario.threads > 0)
        omp_set_num_threads(options.scenario.threads);
    switch (options.command) {
    case Command::Metrics:
        runMetrics(options, messages);
        break;
    case Command::Sweep:
        runSweep(options, messages);
        break;
    case Command::Project:
        runProject(options, messages);
        break;
    case Command::Plot:
        runPlot(options, messages);
        break;
    case Command::Profile:
        runProfile(options, messages);
        break;
    case Command::AttentionBench:
        runAttentionBench(options, messages);
        break;
    }
    for (const std::string& notice : messages.notices)
        printNotice(notice);
    for (const std::string& warning : messages.warnings)
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
    attnsteer::removeTemporaryFilesOnSignals();
    // The command decides which application object is made (plot needs QApplication), so the
    // arguments are parsed first; Qt 6 reads them as UTF-8.
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments << attnsteer::cli::argumentFromBytes(argv[i]);

    try {
        const attnsteer::cli::ParseOutcome parsed = attnsteer::cli::parseCommandLine(arguments);
        if (!parsed.options)
            return parsed.exitCode;
        const auto app = makeApplication(parsed.options->command, argc, argv);
        // The application adopts the environment's locale; numbers are printed and read the C
        // way.
        std::setlocale(LC_NUMERIC, "C");
        return run(*parsed.options);
    } catch (const attnsteer::InputError& error) {
        printError(attnsteer::commandLineMessage(error));
        return kUserError;
    } catch (const attnsteer::DeviceError& error) {
        // Only --backend cuda gets here: auto falls back to the CPU.
        printError(std::string("--backend: cuda: ") + error.what());
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
