// libFuzzer target: the command line's option parser, attnsteer::cli::parseCommandLine
// (app/cli/options.h), as attnsteer-cli's main calls it. The input is split into arguments at NUL
// bytes (after "attnsteer-cli"), each read as the locale's 8-bit text like main's argv.
// An InputError is the expected answer to a bad command line (its wording is built too, as main
// prints it); any other exception escaping, a crash, a sanitizer report or a hang is a finding.
// The parser prints help and version on stdout and, without a command, help on stderr: the
// target closes both (libFuzzer's -close_fd_mask=3, unless given otherwise), keeping libFuzzer's
// and the sanitizers' reports.

#include "error_text.h"
#include "options.h"

#include "attnsteer/errors.h"

#include <QCoreApplication>
#include <QString>
#include <QStringList>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    QCoreApplication::setOrganizationName(QStringLiteral("AttnSteer"));
    QCoreApplication::setApplicationName(QStringLiteral("attnsteer-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral("fuzz"));
    for (int i = 1; i < *argc; ++i)
        if (std::strncmp((*argv)[i], "-close_fd_mask=", 15) == 0)
            return 0;
    static std::vector<char*> arguments((*argv), (*argv) + *argc);
    static char closeOutput[] = "-close_fd_mask=3";
    arguments.push_back(closeOutput);
    arguments.push_back(nullptr);
    *argc += 1;
    *argv = arguments.data();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    QStringList arguments{QStringLiteral("attnsteer-cli")};
    const char* text = reinterpret_cast<const char*>(data);
    std::size_t start = 0;
    for (std::size_t i = 0; i <= size; ++i)
        if (i == size || data[i] == 0) {
            arguments << QString::fromLocal8Bit(text + start, qsizetype(i - start));
            start = i + 1;
        }
    try {
        const attnsteer::cli::ParseOutcome outcome = attnsteer::cli::parseCommandLine(arguments);
        if (!outcome.options && outcome.exitCode != 0 && outcome.exitCode != 2)
            __builtin_trap();
    } catch (const attnsteer::InputError& error) {
        if (attnsteer::commandLineMessage(error).empty())
            __builtin_trap();
    }
    return 0;
}
